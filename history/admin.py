"""Send history in the console: all, success or failure, and each delivery as it was on the wire."""

from __future__ import annotations

import json

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from history.models import Delivery, DeliveryAttempt


def _pretty_body(body: str) -> str:
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:
        return body


def _headers_block(headers: list[list[str]]) -> SafeString:
    return format_html_join("", "<div><strong>{}</strong>: {}</div>", ((name, value) for name, value in headers))


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = (
        "number",
        "started_at",
        "duration_ms",
        "outcome",
        "status_code",
        "failure_reason",
        "error_message",
        "next_attempt_at",
    )
    readonly_fields = fields  # type: ignore[assignment]

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "webhook_name",
        "user_id",
        "status_badge",
        "response_status_code",
        "duration_ms",
        "failure_reason",
        "source",
        "attempt_count",
        "next_attempt_at",
    ]
    list_filter = ["status", "failure_reason", "source", "webhook", "project"]
    search_fields = ["user_id", "webhook_name", "=id"]
    date_hierarchy = "created_at"
    list_select_related = False
    show_full_result_count = False  # a count over a million rows is slower than the page
    inlines = [DeliveryAttemptInline]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "status_badge",
                    "failure_reason",
                    "error_message",
                    "webhook_name",
                    "user_id",
                    "source",
                    "journey_name",
                    "created_by",
                    "resent_from",
                ]
            },
        ),
        ("Request", {"fields": ["request_line", "request_headers_view", "request_body_view", "data"]}),
        ("Response", {"fields": ["response_status_code", "duration_ms", "response_headers_view", "response_body_view"]}),
        ("Timing", {"fields": ["created_at", "completed_at", "attempt_count", "max_attempts", "next_attempt_at"]}),
    ]
    readonly_fields = [
        "status_badge",
        "failure_reason",
        "error_message",
        "webhook_name",
        "user_id",
        "source",
        "journey_name",
        "created_by",
        "resent_from",
        "request_line",
        "request_headers_view",
        "request_body_view",
        "data",
        "response_status_code",
        "duration_ms",
        "response_headers_view",
        "response_body_view",
        "created_at",
        "completed_at",
        "attempt_count",
        "max_attempts",
        "next_attempt_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # history is a record: it is read, never edited

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # and it is removed only by retention pruning

    @admin.display(description="Status", ordering="status")
    def status_badge(self, delivery: Delivery) -> SafeString:
        colours = {"success": "#1b7f3b", "failure": "#b3261e", "pending": "#8a6d00", "sending": "#1f5fa8"}
        return format_html(
            '<span class="delivery-status delivery-status-{}" style="color:{};font-weight:bold">{}</span>',
            delivery.status,
            colours.get(delivery.status, "inherit"),
            delivery.get_status_display(),
        )

    @admin.display(description="Request")
    def request_line(self, delivery: Delivery) -> SafeString | str:
        if not delivery.request_method:
            return "Nothing was sent."
        return format_html("<code>{} {}</code>", delivery.request_method, delivery.request_url)

    @admin.display(description="Request headers")
    def request_headers_view(self, delivery: Delivery) -> SafeString:
        return _headers_block(delivery.request_headers)

    @admin.display(description="Request body")
    def request_body_view(self, delivery: Delivery) -> SafeString:
        return format_html('<pre class="request-body">{}</pre>', _pretty_body(delivery.request_body))

    @admin.display(description="Response headers")
    def response_headers_view(self, delivery: Delivery) -> SafeString:
        return _headers_block(delivery.response_headers)

    @admin.display(description="Response body")
    def response_body_view(self, delivery: Delivery) -> SafeString:
        note = ""
        if delivery.response_body_is_base64:
            note += "(binary, shown as base64) "
        if delivery.response_body_truncated:
            note += "(truncated) "
        return format_html('<pre class="response-body">{}{}</pre>', note, _pretty_body(delivery.response_body))
