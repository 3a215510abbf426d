"""Console forms for webhooks: the edit form with header rows, and the send form.

Forms parse and show errors; validation of templates is the service's (`webhook_problems`),
so the console and the API refuse exactly the same things with the same messages.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms
from django.utils.datastructures import MultiValueDict

from channels_webhook.models import Webhook
from channels_webhook.rendering import TemplateProblem
from channels_webhook.services import HeaderInput, header_inputs_for_display, webhook_problems

BLANK_HEADER_ROWS = 2
PROBLEM_FIELDS = {"URL": "url", "Body": "body", "Method": "method", "Body type": "body_type"}


def problem_placement(problem: TemplateProblem) -> tuple[str | None, str]:
    """The form field a service problem belongs to (None: the whole form) and the message to show there."""
    field = PROBLEM_FIELDS.get(problem.field) or ("headers_rows" if problem.field.startswith("Header") else problem.field)
    if field == "headers_rows":
        # Several headers share one field, so each message names its header.
        return field, f"{problem.field}: {problem}"
    if field in WebhookForm.base_fields:
        return field, str(problem)
    return None, f"{problem.field}: {problem}"


class HeaderRowsWidget(forms.Widget):
    """Header rows: name, value and a "secret" checkbox; a secret value is never sent to the page."""

    template_name = "channels_webhook/header_rows_widget.html"

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        rows = [dict(row) for row in (value or [])]
        rows += [{"name": "", "value": "", "secret": False, "stored": False} for _ in range(BLANK_HEADER_ROWS)]
        context["rows"] = rows
        return context

    def value_from_datadict(self, data: MultiValueDict[str, Any], files: Any, name: str) -> list[dict[str, Any]]:  # type: ignore[override]
        try:
            total = int(data.get(f"{name}-TOTAL", "0"))
        except ValueError:
            total = 0
        rows = []
        for index in range(min(total, 100)):
            row_name = (data.get(f"{name}-{index}-name") or "").strip()
            row_value = data.get(f"{name}-{index}-value") or ""
            if not row_name and not row_value:
                continue
            rows.append(
                {
                    "name": row_name,
                    "value": row_value,
                    "secret": data.get(f"{name}-{index}-secret") in ("on", "true", "1"),
                    "stored": data.get(f"{name}-{index}-stored") == "1",
                }
            )
        return rows


class HeaderRowsField(forms.Field):
    widget = HeaderRowsWidget

    def to_python(self, value: Any) -> list[HeaderInput]:
        headers = []
        for row in value or []:
            if not row["name"]:
                raise forms.ValidationError("Every header with a value needs a name.")
            if row["stored"] and not row["secret"] and row["value"] == "":
                raise forms.ValidationError(
                    f"Header '{row['name']}' was secret: type its value to make it a plain header (the stored value is never shown)."
                )
            keep_stored = row["secret"] and row["stored"] and row["value"] == ""
            headers.append(HeaderInput(name=row["name"], value=None if keep_stored else row["value"], secret=row["secret"]))
        return headers


class WebhookForm(forms.ModelForm):
    headers_rows = HeaderRowsField(
        label="Headers",
        required=False,
        help_text="Liquid allowed in values. Secret values are stored encrypted and shown masked; type a new value to replace one.",
    )

    class Meta:
        model = Webhook
        fields = [
            "project",
            "name",
            "method",
            "url",
            "body_type",
            "body",
            "timeout_seconds",
            "max_attempts",
            "rate_limit_per_second",
            "send_idempotency_key",
            "is_active",
        ]
        widgets = {
            "url": forms.TextInput(attrs={"class": "vLargeTextField monospace", "style": "width: 40em"}),
            "body": forms.Textarea(attrs={"class": "monospace", "rows": 14, "cols": 90, "spellcheck": "false"}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["headers_rows"] = [{**row, "stored": row["secret"]} for row in header_inputs_for_display(self.instance)]
        elif "project" in self.fields and "project" not in self.initial:
            # Most installations have one project: do not make every new webhook pick it.
            projects = list(self.fields["project"].queryset[:2])  # type: ignore[attr-defined]
            if len(projects) == 1:
                self.initial["project"] = projects[0].pk

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        values = {field: cleaned.get(field) for field in self.Meta.fields if field != "project"}
        problems = webhook_problems(
            webhook=self.instance if self.instance.pk else None,
            project=cleaned.get("project") or getattr(self.instance, "project", None),
            values=values,
            headers=cleaned.get("headers_rows") or [],
        )
        for problem in problems:
            field, message = problem_placement(problem)
            if field is not None and field in self.fields:
                self.add_error(field, message)
            else:
                self.add_error(None, f"{problem.field}: {problem}")
        return cleaned

    def header_inputs(self) -> list[HeaderInput]:
        return list(self.cleaned_data.get("headers_rows") or [])

    def service_values(self) -> dict[str, Any]:
        return {field: self.cleaned_data.get(field) for field in self.Meta.fields if field != "project"}


class WebhookRequestForm(forms.Form):
    """The request fields of the webhook form as typed, for the live analysis while editing.

    Only parsing happens here; what is wrong with the templates is the service's to say.
    """

    method = forms.CharField(required=False)
    url = forms.CharField(required=False, strip=False)
    body_type = forms.CharField(required=False)
    body = forms.CharField(required=False, strip=False)
    headers_rows = HeaderRowsField(required=False)

    def service_values(self) -> dict[str, Any]:
        return {field: self.cleaned_data.get(field) or "" for field in ("method", "url", "body_type", "body")}

    def header_inputs(self) -> list[HeaderInput] | None:
        # Rows that do not parse leave the stored headers as they are for the analysis.
        return None if "headers_rows" in self.errors else list(self.cleaned_data.get("headers_rows") or [])


class DataVariableField(forms.CharField):
    """A data variable's value as typed: browsers post a textarea's line breaks as CRLF (the
    HTML rule), but what was typed is a newline, and an SMS must not carry stray CRs."""

    def to_python(self, value: Any) -> str:
        return (super().to_python(value) or "").replace("\r\n", "\n")


class SendForm(forms.Form):
    """Send a webhook to one user now, with a value for each data variable."""

    user_id = forms.CharField(
        label="User",
        max_length=255,
        widget=forms.TextInput(
            attrs={
                "id": "user-search",
                "list": "known-users",
                "autocomplete": "off",
                "placeholder": "user id, email or name",
                "size": 40,
            }
        ),
    )

    def __init__(self, *args: Any, data_variables: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.data_variable_names = data_variables
        for variable in data_variables:
            self.fields[f"data__{variable}"] = DataVariableField(
                label=variable,
                required=False,
                widget=forms.Textarea(attrs={"rows": 2, "cols": 60, "class": "data-variable-input", "data-variable": variable}),
            )

    def data_values(self) -> dict[str, str]:
        # An empty box means "no value": the send then fails naming the variable, rather than
        # sending a blank.
        values = {name: self.cleaned_data.get(f"data__{name}") or "" for name in self.data_variable_names}
        return {name: value for name, value in values.items() if value != ""}


class SendManyForm(forms.Form):
    """Send a webhook now, queued, with the same data for each user: to a list of users, to
    every user of the project, or to the users whose tag has a value (as the API's audience)."""

    recipients = forms.ChoiceField(
        label="Send to",
        choices=[
            ("users", "These users"),
            ("all", "Every user of the project"),
            ("tag", "Users whose tag has a value"),
        ],
        initial="users",
        required=False,  # a post without it (a script, the old form) means a list of users
        widget=forms.RadioSelect(attrs={"class": "send-many-recipients"}),
    )
    user_ids = forms.CharField(
        label="User ids",
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "cols": 60, "id": "send-many-user-ids"}),
        help_text="One per line (or separated by commas or spaces), up to 1,000.",
    )
    tag = forms.CharField(label="Tag", required=False, max_length=128, widget=forms.TextInput(attrs={"placeholder": "plan"}))
    equals = forms.CharField(
        label="equals",
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "pro"}),
        help_text='The tag\'s value, exactly: pro is the text "pro"; 3, true and null are read as JSON, and "3" is the text.',
    )

    def __init__(self, *args: Any, data_variables: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.data_variable_names = data_variables
        for variable in data_variables:
            self.fields[f"data__{variable}"] = DataVariableField(
                label=variable, widget=forms.Textarea(attrs={"rows": 2, "cols": 60})
            )

    def clean_user_ids(self) -> list[str]:
        ids = list(dict.fromkeys(part for part in re.split(r"[\s,]+", self.cleaned_data["user_ids"]) if part))
        if len(ids) > 1000:
            raise forms.ValidationError(
                f"At most 1,000 users at once ({len(ids)} given); to reach more, send to every user or to a tag's value."
            )
        return ids

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        recipients = cleaned["recipients"] = cleaned.get("recipients") or "users"
        if recipients == "users" and not cleaned.get("user_ids") and "user_ids" not in self.errors:
            self.add_error("user_ids", "Give at least one user id.")
        if recipients == "tag" and not cleaned.get("tag"):
            self.add_error("tag", "Name the tag, e.g. plan.")
        return cleaned

    def audience(self) -> dict[str, Any] | None:
        """The API's audience for this choice, or None for a list of users."""
        recipients = self.cleaned_data["recipients"]
        if recipients == "all":
            return {"all": True}
        if recipients == "tag":
            text = self.cleaned_data["equals"]
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                value = text  # plain text, as people type it
            return {"tag": self.cleaned_data["tag"], "equals": value}
        return None

    def data_values(self) -> dict[str, str]:
        return {name: self.cleaned_data[f"data__{name}"] for name in self.data_variable_names}
