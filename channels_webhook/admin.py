"""Console pages for webhooks: the edit form (through the services), its live analysis, and the
test-send panel with its JSON endpoints (user search, preview, send).

Every endpoint here parses input, checks the change permission, and calls one service, selector
or sending function; nothing here renders a template or talks HTTP itself. No response carries a
secret header value: previews and deliveries are returned with their masked headers.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from channels_webhook import sending
from channels_webhook.forms import SendForm, SendManyForm, WebhookForm, WebhookRequestForm, problem_placement
from channels_webhook.models import Webhook
from channels_webhook.rendering import MASK, RenderFailed
from channels_webhook.services import (
    header_inputs_for_display,
    webhook_analyze,
    webhook_create,
    webhook_disable_signing,
    webhook_rotate_signing_secret,
    webhook_update,
)
from flarelane.audience.models import EndUser
from flarelane.audience.selectors import audience_count, end_user_get, end_user_list, end_user_search
from flarelane.sealing import seal, unseal
from history.charts import HourlyChart, chart_window, hourly_chart
from history.models import Delivery
from history.selectors import SendProgress, delivery_hourly_counts, send_batch_get, send_progress, send_progress_recent
from history.services import send_batch_cancel

USER_SEARCH_LIMIT = 10
# The live analysis speaks about the request; the other fields are checked by the form on save,
# so a name not yet typed does not flag while someone writes the body.
ANALYZED_FIELDS = ("method", "url", "headers_rows", "body_type", "body")
NOT_ALLOWED = "You may view this webhook but not edit or send it: that needs the permission to change webhooks."


def _forbidden() -> JsonResponse:
    return JsonResponse({"ok": False, "error": NOT_ALLOWED}, status=403)


def _request_json(method: str, url: str, headers: Any, body: str) -> dict[str, Any]:
    return {"method": method, "url": url, "headers": [list(pair) for pair in headers], "body": body}


def _send_progress_json(send: SendProgress) -> dict[str, Any]:
    return {
        "id": str(send.batch_id),
        "total": send.total,
        "done": send.done,
        "success": send.success,
        "failure": send.failure,
        "cancelled": send.cancelled,
        "pending": send.pending,
        "created_at": send.created_at.isoformat(),
        "cancelled_at": send.cancelled_at.isoformat() if send.cancelled_at else None,
    }


def _delivery_json(delivery: Delivery) -> dict[str, Any]:
    return {
        "id": str(delivery.pk),
        "status": delivery.status,
        "failure_reason": delivery.failure_reason,
        "error_message": delivery.error_message,
        "response_status_code": delivery.response_status_code,
        "duration_ms": delivery.duration_ms,
        "response_headers": [list(pair) for pair in delivery.response_headers],
        "response_body": delivery.response_body,
        "response_body_truncated": delivery.response_body_truncated,
        # request_headers are the masked copy; the sent values stay sealed in the history row.
        "request": _request_json(delivery.request_method, delivery.request_url, delivery.request_headers, delivery.request_body),
        "history_url": reverse("admin:history_delivery_change", args=[delivery.pk]),
    }


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    form = WebhookForm
    # Short columns, so the row fits beside the filters at 1400 px.
    list_display = ["name", "method", "url_short", "body_type", "data_variables_list", "active_column", "project", "updated_view"]
    list_filter = ["project", "is_active", "method"]
    search_fields = ["name", "url"]
    readonly_fields = ["data_variables_panel", "send_link"]
    fieldsets = [
        (None, {"fields": ["project", "name", "is_active", "send_link"]}),
        ("Request", {"fields": ["method", "url", "headers_rows", "body_type", "body"]}),
        (
            "Data variables",
            {
                "fields": ["data_variables_panel"],
                "description": "Found in the templates as you type: the values each send must supply.",
            },
        ),
        ("Delivery", {"fields": ["timeout_seconds", "max_attempts", "rate_limit_per_second", "send_idempotency_key"]}),
    ]

    @admin.display(description="URL")
    def url_short(self, webhook: Webhook) -> str:
        return webhook.url if len(webhook.url) < 50 else webhook.url[:47] + "…"

    @admin.display(description="Active", boolean=True, ordering="is_active")
    def active_column(self, webhook: Webhook) -> bool:
        return webhook.is_active

    @admin.display(description="Updated", ordering="updated_at")
    def updated_view(self, webhook: Webhook) -> str:
        return timezone.localtime(webhook.updated_at).strftime("%Y-%m-%d %H:%M")

    @admin.display(description="Data variables")
    def data_variables_list(self, webhook: Webhook) -> str:
        if not webhook.data_variables:
            return "none"
        return format_html_join(" ", '<code class="data-variable">{}</code>', ((name,) for name in webhook.data_variables))

    @admin.display(description="Data variables")
    def data_variables_panel(self, webhook: Webhook) -> str:
        names = webhook.data_variables if webhook.pk else []
        items = format_html_join("", '<li class="data-variable"><code>{}</code></li>', ((name,) for name in names))
        return format_html(
            '<ul id="data-variables" class="data-variables">{}</ul>'
            '<p id="data-variables-none" class="help"{}>No data variables: every value comes from the user.</p>',
            items,
            " hidden" if names else "",
        )

    @admin.display(description="Test send")
    def send_link(self, webhook: Webhook) -> str:
        if not webhook.pk:
            return "Save the webhook first."
        return format_html(
            '<a class="button" id="send-panel-link" href="{}">Test send to a user…</a>',
            reverse("admin:channels_webhook_webhook_send", args=[webhook.pk]),
        )

    def get_fieldsets(self, request: HttpRequest, obj: Webhook | None = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None and not self.has_change_permission(request, obj):
            # Staff who may only view get no send control (the send page refuses them too), and the
            # headers as masked text instead of the editable rows.
            shown: dict[Any, Any] = {"headers_rows": "headers_display"}
            return [
                (name, {**options, "fields": [shown.get(f, f) for f in options["fields"] if f != "send_link"]})
                for name, options in fieldsets
            ]
        return fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Webhook | None = None) -> Any:
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None and not self.has_change_permission(request, obj):
            # The header rows are a form field, not a model field: viewers get the masked rows.
            readonly.append("headers_display")
        return readonly

    @admin.display(description="Headers")
    def headers_display(self, webhook: Webhook) -> str:
        rows = header_inputs_for_display(webhook)
        if not rows:
            return "none"
        return format_html_join(
            "",
            '<div class="header-display"><code>{}: {}</code></div>',
            ((row["name"], MASK if row["secret"] else row["value"]) for row in rows),
        )

    def save_model(self, request: HttpRequest, obj: Webhook, form: WebhookForm, change: bool) -> None:  # type: ignore[override]
        values = form.service_values()
        if change:
            webhook_update(webhook=obj, values=values, headers=form.header_inputs())
        else:
            obj.pk = webhook_create(project=form.cleaned_data["project"], values=values, headers=form.header_inputs()).pk
            obj.refresh_from_db()

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("analyze/", view(self.analyze_view), name="channels_webhook_webhook_analyze"),
            path("<int:webhook_id>/analyze/", view(self.analyze_view), name="channels_webhook_webhook_analyze"),
            path("<int:webhook_id>/send/", view(self.send_view), name="channels_webhook_webhook_send"),
            path("<int:webhook_id>/send/users/", view(self.user_search_view), name="channels_webhook_webhook_user_search"),
            path("<int:webhook_id>/send/preview/", view(self.preview_view), name="channels_webhook_webhook_preview"),
            path("<int:webhook_id>/send/test/", view(self.send_test_view), name="channels_webhook_webhook_send_test"),
            path("<int:webhook_id>/send-many/", view(self.send_many_view), name="channels_webhook_webhook_send_many"),
            path("<int:webhook_id>/sends/", view(self.send_progress_view), name="channels_webhook_webhook_send_progress"),
            path("<int:webhook_id>/signing/", view(self.signing_view), name="channels_webhook_webhook_signing"),
            path(
                "<int:webhook_id>/sends/<uuid:send_id>/cancel/",
                view(self.send_cancel_view),
                name="channels_webhook_webhook_send_cancel",
            ),
            *super().get_urls(),
        ]

    # ------------------------------------------------------------------ live analysis of the form

    def analyze_view(self, request: HttpRequest, webhook_id: int | None = None) -> HttpResponse:
        webhook = get_object_or_404(Webhook, pk=webhook_id) if webhook_id is not None else None
        allowed = self.has_change_permission(request, webhook) if webhook else self.has_add_permission(request)
        if not allowed:
            return _forbidden()
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        form = WebhookRequestForm(request.POST)
        form.is_valid()
        problems: list[dict[str, Any]] = [
            {"field": field, "message": str(message), "line": None, "column": None}
            for field, errors in form.errors.items()
            for message in errors
        ]
        analysis = webhook_analyze(
            webhook=webhook,
            project=webhook.project if webhook else None,
            values=form.service_values(),
            headers=form.header_inputs(),
        )
        for problem in analysis.problems:
            field, _ = problem_placement(problem)
            if field not in ANALYZED_FIELDS:
                continue
            label = f"{problem.field}: " if field == "headers_rows" else ""
            problems.append({"field": field, "message": label + problem.message, "line": problem.line, "column": problem.column})
        return JsonResponse({"data_variables": analysis.data_variables, "problems": problems})

    # ------------------------------------------------------------------ the test-send panel

    def _webhook_to_send(self, request: HttpRequest, webhook_id: int) -> Webhook | None:
        webhook = get_object_or_404(Webhook.objects.select_related("project"), pk=webhook_id)
        return webhook if self.has_change_permission(request, webhook) else None

    def _send_input(self, request: HttpRequest, webhook: Webhook) -> tuple[SendForm, EndUser | None]:
        form = SendForm(request.POST, data_variables=webhook.data_variables)
        if not form.is_valid():
            return form, None
        end_user = end_user_get(project=webhook.project, user_id=form.cleaned_data["user_id"])
        if end_user is None:
            form.add_error("user_id", f"No user '{form.cleaned_data['user_id']}' in project {webhook.project}.")
        return form, end_user

    def user_search_view(self, request: HttpRequest, webhook_id: int) -> HttpResponse:
        webhook = self._webhook_to_send(request, webhook_id)
        if webhook is None:
            return _forbidden()
        users = end_user_search(project=webhook.project, query=request.GET.get("q", ""), limit=USER_SEARCH_LIMIT)
        return JsonResponse({"users": [{"user_id": u.user_id, "name": u.name, "email": u.email} for u in users]})

    def _posted_send(self, request: HttpRequest, webhook_id: int) -> tuple[Webhook, SendForm, EndUser] | HttpResponse:
        """The panel's JSON endpoints: a POST by staff who may send, for a user of the project."""
        webhook = self._webhook_to_send(request, webhook_id)
        if webhook is None:
            return _forbidden()
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        form, end_user = self._send_input(request, webhook)
        if end_user is None:
            return JsonResponse({"ok": False, "errors": form.errors.get_json_data()}, status=400)
        return webhook, form, end_user

    def preview_view(self, request: HttpRequest, webhook_id: int) -> HttpResponse:
        posted = self._posted_send(request, webhook_id)
        if isinstance(posted, HttpResponse):
            return posted
        webhook, form, end_user = posted
        try:
            rendered = sending.preview(webhook=webhook, end_user=end_user, data=form.data_values())
        except RenderFailed as failed:
            return JsonResponse({"ok": False, "failure_reason": failed.reason, "error": failed.message}, status=422)
        return JsonResponse(
            {
                "ok": True,
                "request": _request_json(rendered.method, rendered.url, rendered.masked_headers(), rendered.body_text()),
            }
        )

    def send_test_view(self, request: HttpRequest, webhook_id: int) -> HttpResponse:
        posted = self._posted_send(request, webhook_id)
        if isinstance(posted, HttpResponse):
            return posted
        webhook, form, end_user = posted
        delivery = sending.send_test(webhook=webhook, end_user=end_user, data=form.data_values(), created_by_id=request.user.pk)
        return JsonResponse({"ok": True, "delivery": _delivery_json(delivery)})

    def send_many_view(self, request: HttpRequest, webhook_id: int) -> HttpResponse:
        """Queue the webhook for a list of users or an audience; progress shows on the webhook page."""
        webhook = self._webhook_to_send(request, webhook_id)
        if webhook is None:
            raise PermissionDenied
        form = SendManyForm(request.POST or None, data_variables=webhook.data_variables)
        if request.method == "POST" and form.is_valid():
            audience = form.audience()
            queued_message = ""
            if audience is not None and audience_count(project=webhook.project, audience=audience) == 0:
                # Queued, it would only leave a "0 of 0" row; say why instead.
                if "tag" in audience:
                    form.add_error(
                        "equals",
                        f"No user has the tag {audience['tag']} equal to {json.dumps(audience['equals'])}; nothing was queued.",
                    )
                else:
                    form.add_error("recipients", "The project has no users yet; nothing was queued.")
            elif audience is not None:
                batch = sending.send_to_audience(
                    webhook=webhook,
                    audience=audience,
                    data=form.data_values(),
                    source=Delivery.Source.CONSOLE,
                    created_by_id=request.user.pk,
                )
                queued_message = f"Queued a send to {batch.total:,} users; progress is below."
            else:
                try:
                    queued = sending.send_to_users(
                        webhook=webhook,
                        user_ids=form.cleaned_data["user_ids"],
                        data=form.data_values(),
                        source=Delivery.Source.CONSOLE,
                        created_by_id=request.user.pk,
                    )
                except sending.UnknownUsers as unknown:
                    form.add_error("user_ids", str(unknown))
                else:
                    queued_message = f"Queued {len(queued.delivery_ids):,} deliveries; progress is below."
            if queued_message:
                self.message_user(request, queued_message, messages.SUCCESS)
                return HttpResponseRedirect(
                    reverse("admin:channels_webhook_webhook_change", args=[webhook.pk]) + "#webhook-insights"
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Send “{webhook.name}” to many users",
            "webhook": webhook,
            "form": form,
        }
        return TemplateResponse(request, "admin/channels_webhook/webhook/send_many.html", context)

    def send_progress_view(self, request: HttpRequest, webhook_id: int) -> HttpResponse:
        """The recent sends to many users as JSON; the webhook page polls it while one runs."""
        webhook = get_object_or_404(Webhook, pk=webhook_id)
        if not self.has_view_permission(request, webhook):
            return _forbidden()
        return JsonResponse({"sends": [_send_progress_json(send) for send in send_progress_recent(webhook_id=webhook.pk)]})

    def send_cancel_view(self, request: HttpRequest, webhook_id: int, send_id: uuid.UUID) -> HttpResponse:
        """Cancel a send (the Cancel button of its progress row): the waiting deliveries end as cancelled."""
        webhook = self._webhook_to_send(request, webhook_id)
        if webhook is None:
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        batch = send_batch_get(project=webhook.project, batch_id=send_id)
        if batch is None or batch.webhook_id != webhook.pk:
            raise Http404
        waiting = send_progress(batch=batch).pending
        send_batch_cancel(batch=batch, now=timezone.now())
        batch.refresh_from_db()
        held = send_progress(batch=batch).pending  # claimed by a worker: in flight, or stopped before sending
        message = f"Cancelled the send: {waiting - held:,} deliveries will not be sent"
        if held:
            message += f"; {held:,} that workers hold end within seconds (one in flight is still answered)"
        self.message_user(request, message + ".", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:channels_webhook_webhook_change", args=[webhook.pk]) + "#webhook-insights")

    def signing_view(self, request: HttpRequest, webhook_id: int) -> HttpResponse:
        """POST: start signing, rotate the secret or stop. GET: the new secret, once.

        The secret goes from the POST to the page through the session, sealed, and is taken
        out as it is shown: reloading the page neither shows it again nor rotates again.
        """
        webhook = self._webhook_to_send(request, webhook_id)
        if webhook is None:
            raise PermissionDenied
        back = reverse("admin:channels_webhook_webhook_change", args=[webhook.pk]) + "#webhook-signing"
        session_key = f"signing-secret-{webhook.pk}"
        if request.method == "POST":
            if request.POST.get("action") == "stop":
                webhook_disable_signing(webhook=webhook)
                self.message_user(request, "Signing stopped: requests no longer carry webhook-signature.", messages.SUCCESS)
                return HttpResponseRedirect(back)
            rotated = webhook_rotate_signing_secret(webhook=webhook)
            request.session[session_key] = seal(rotated.secret)
            return HttpResponseRedirect(reverse("admin:channels_webhook_webhook_signing", args=[webhook.pk]))
        sealed = request.session.pop(session_key, None)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Signing secret of “{webhook.name}”",
            "webhook": webhook,
            "secret": unseal(sealed) if sealed else None,
            "back": back,
        }
        # Admin views are never cached (no-store), so Back does not bring it back either.
        return TemplateResponse(request, "admin/channels_webhook/webhook/signing_secret.html", context)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        webhook = Webhook.objects.filter(pk=object_id).first() if object_id.isdigit() else None
        insights: dict[str, Any] = {}
        if webhook is not None:
            insights = {
                "sends": send_progress_recent(webhook_id=webhook.pk),
                "chart": _hourly_chart_of(webhook.pk),
                # Read through the reverse relation: the webhook channel does not import journeys.
                "used_by_journeys": list(
                    webhook.journey_nodes.values_list("journey_id", "journey__name", "journey__status")
                    .distinct()
                    .order_by("journey__name")
                ),
                "can_send": self.has_change_permission(request, webhook),
            }
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **insights})

    def send_view(self, request: HttpRequest, webhook_id: int) -> HttpResponse:
        """The panel's page; without JavaScript its buttons post here and it works as a plain form."""
        webhook = self._webhook_to_send(request, webhook_id)
        if webhook is None:
            raise PermissionDenied
        preview: dict[str, Any] | None = None
        if request.method == "POST":
            form, end_user = self._send_input(request, webhook)
            if end_user is not None and "_preview" in request.POST:
                try:
                    rendered = sending.preview(webhook=webhook, end_user=end_user, data=form.data_values())
                    preview = {"ok": True, "request": rendered, "headers": rendered.masked_headers()}
                except RenderFailed as failed:
                    preview = {"ok": False, "reason": failed.reason, "error": failed.message}
            elif end_user is not None:
                delivery = sending.send_test(
                    webhook=webhook, end_user=end_user, data=form.data_values(), created_by_id=request.user.pk
                )
                level = messages.SUCCESS if delivery.status == "success" else messages.ERROR
                summary = f"Sent: {delivery.status}" + (
                    f" ({delivery.response_status_code})" if delivery.response_status_code else ""
                )
                if delivery.error_message:
                    summary += f": {delivery.error_message}"
                self.message_user(request, summary, level=level)
                return HttpResponseRedirect(reverse("admin:history_delivery_change", args=[delivery.pk]))
        else:
            form = SendForm(initial={"user_id": request.GET.get("user_id", "")}, data_variables=webhook.data_variables)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Test send “{webhook.name}”",
            "webhook": webhook,
            "form": form,
            "data_fields": [form[f"data__{name}"] for name in webhook.data_variables],
            "preview": preview,
            "known_users": end_user_list(project=webhook.project).values_list("user_id", "name")[:200],
        }
        return TemplateResponse(request, "admin/channels_webhook/webhook/send.html", context)


def _hourly_chart_of(webhook_id: int) -> HourlyChart:
    window = chart_window(now=timezone.now())
    return hourly_chart(delivery_hourly_counts(webhook_id=webhook_id, since=window.since), window=window)
