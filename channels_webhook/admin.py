"""Console pages for webhooks: the edit form (through the services) and the send page."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join

from channels_webhook import sending
from channels_webhook.forms import SendForm, WebhookForm
from channels_webhook.models import Webhook
from channels_webhook.rendering import RenderFailed
from channels_webhook.services import webhook_create, webhook_update
from flarelane.audience.selectors import end_user_get, end_user_list


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    form = WebhookForm
    list_display = ["name", "method", "url_short", "body_type", "data_variables_list", "is_active", "project", "updated_at"]
    list_filter = ["project", "is_active", "method"]
    search_fields = ["name", "url"]
    readonly_fields = ["data_variables_list", "send_link"]
    fieldsets = [
        (None, {"fields": ["project", "name", "is_active", "send_link"]}),
        ("Request", {"fields": ["method", "url", "headers_rows", "body_type", "body"]}),
        (
            "Data variables",
            {
                "fields": ["data_variables_list"],
                "description": "Found in the templates on save: the values each send must supply.",
            },
        ),
        ("Delivery", {"fields": ["timeout_seconds", "max_attempts", "rate_limit_per_second", "send_idempotency_key"]}),
    ]

    @admin.display(description="URL")
    def url_short(self, webhook: Webhook) -> str:
        return webhook.url if len(webhook.url) < 70 else webhook.url[:67] + "…"

    @admin.display(description="Data variables")
    def data_variables_list(self, webhook: Webhook) -> str:
        if not webhook.pk:
            return "(found when saved)"
        if not webhook.data_variables:
            return "none"
        return format_html_join(" ", '<code class="data-variable">{}</code>', ((name,) for name in webhook.data_variables))

    @admin.display(description="Send")
    def send_link(self, webhook: Webhook) -> str:
        if not webhook.pk:
            return "Save the webhook first."
        return format_html(
            '<a class="button" href="{}">Send to a user…</a>', reverse("admin:channels_webhook_webhook_send", args=[webhook.pk])
        )

    def get_fieldsets(self, request: HttpRequest, obj: Webhook | None = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None and not self.has_change_permission(request, obj):
            # Staff who may only view get no send control (the send page refuses them too).
            return [
                (name, {**options, "fields": [f for f in options["fields"] if f != "send_link"]}) for name, options in fieldsets
            ]
        return fieldsets

    def save_model(self, request: HttpRequest, obj: Webhook, form: WebhookForm, change: bool) -> None:  # type: ignore[override]
        values = form.service_values()
        if change:
            webhook_update(webhook=obj, values=values, headers=form.header_inputs())
        else:
            obj.pk = webhook_create(project=form.cleaned_data["project"], values=values, headers=form.header_inputs()).pk
            obj.refresh_from_db()

    def get_urls(self) -> list[URLPattern]:
        return [
            path("<int:webhook_id>/send/", self.admin_site.admin_view(self.send_view), name="channels_webhook_webhook_send"),
            *super().get_urls(),
        ]

    def send_view(self, request: HttpRequest, webhook_id: int) -> HttpResponse:
        webhook = get_object_or_404(Webhook, pk=webhook_id)
        if not self.has_change_permission(request, webhook):
            raise PermissionDenied
        form = SendForm(request.POST or None, data_variables=webhook.data_variables)
        preview: dict[str, Any] | None = None
        if request.method == "POST" and form.is_valid():
            end_user = end_user_get(project=webhook.project, user_id=form.cleaned_data["user_id"])
            if end_user is None:
                form.add_error("user_id", f"No user '{form.cleaned_data['user_id']}' in project {webhook.project}.")
            elif "_preview" in request.POST:
                try:
                    rendered = sending.preview(webhook=webhook, end_user=end_user, data=form.data_values())
                    preview = {"ok": True, "request": rendered, "headers": rendered.masked_headers()}
                except RenderFailed as failed:
                    preview = {"ok": False, "reason": failed.reason, "error": failed.message}
            else:
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
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Send “{webhook.name}”",
            "webhook": webhook,
            "form": form,
            "preview": preview,
            "known_users": end_user_list(project=webhook.project).values_list("user_id", "name")[:200],
        }
        return TemplateResponse(request, "admin/channels_webhook/webhook/send.html", context)
