"""Send history in the console: all, success or failure, and each delivery as it was on the wire.

Reads only; the one write here (Resend) goes through channels_webhook.sending.resend, and
history rows themselves are written only by history/services.py.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from channels_webhook import sending
from channels_webhook.models import Webhook
from history.changelist import CappedCountPaginator, CreatedBetweenFilter, DeliveryChangeList, JourneyNameFilter, UserIdFilter
from history.charts import HourlyChart, chart_window, hourly_chart
from history.curl import curl_command
from history.models import Delivery, DeliveryAttempt
from history.selectors import delivery_hourly_counts

STATUS_PARAMETER = "status__exact"
WEBHOOK_PARAMETER = "webhook__id__exact"


def _pretty_body(body: str) -> str:
    """JSON indented for reading; anything that cannot be shown so is shown as stored."""
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    # A receiver's body nested too deep for the parser or the indenting encoder (about a
    # thousand levels, "[[[...]]]") raises RecursionError, not ValueError; it is still a body.
    except (ValueError, RecursionError):
        return body


def _headers_block(headers: list[list[str]]) -> SafeString:
    return format_html_join("", "<div><strong>{}</strong>: {}</div>", ((name, value) for name, value in headers))


def _last_attempt_headers(delivery: Delivery) -> tuple[int, list[list[str]]] | None:
    """The headers made for the latest attempt alone (its signature), with its number."""
    attempt = delivery.attempts.order_by("-number").values_list("number", "request_headers").first()
    return (attempt[0], attempt[1]) if attempt and attempt[1] else None


def _moment(value: dt.datetime) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S %Z")


class WebhookFilter(admin.RelatedFieldListFilter):
    """By webhook, with the deliveries of deleted webhooks (they keep their name) named so."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.empty_value_display = mark_safe("A deleted webhook")

    def field_choices(self, field: Any, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        # By name as people read it ("editme" beside "Editor"), not capitals first.
        return sorted(super().field_choices(field, request, model_admin), key=lambda choice: str(choice[1]).casefold())


def _delivery_url(delivery_id: object) -> str:
    return reverse("admin:history_delivery_change", args=[delivery_id])


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    change_list_template = "admin/history/delivery/change_list.html"
    change_form_template = "admin/history/delivery/change_form.html"
    # Short headings and one-line times, so the whole row fits beside the filters at 1400 px.
    list_display = [
        "created_view",
        "webhook_column",
        "user_id",
        "status_badge",
        "http_status_column",
        "duration_view",
        "reason_column",
        "source",
        "attempts_view",
    ]
    # Status is chosen with the All / Success / Failure tabs above the list.
    list_filter = [
        ("webhook", WebhookFilter),
        "source",
        UserIdFilter,
        JourneyNameFilter,
        "failure_reason",
        CreatedBetweenFilter,
        "project",
    ]
    # The box matches these exactly (see get_search_results); a webhook is chosen by its filter.
    search_fields = ["user_id", "id"]
    search_help_text = "Finds deliveries by a whole user id (case-sensitive) or a whole delivery id."
    list_select_related = False
    paginator = CappedCountPaginator
    show_full_result_count = False  # a count over a million rows is slower than the page
    show_facets = admin.ShowFacets.NEVER  # one count per choice per filter, over every row
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "status_badge",
                    "failure_reason",
                    "error_message",
                    "webhook_link",
                    "user_id",
                    "source",
                    "journey_view",
                    "created_by_view",
                    "resent_from_view",
                    "resends_view",
                ]
            },
        ),
        ("Request", {"fields": ["request_line", "request_headers_view", "request_body_view", "data"]}),
        ("Response", {"fields": ["response_status_code", "duration_ms", "response_headers_view", "response_body_view"]}),
        ("Attempts", {"fields": ["attempts_timeline"]}),
        ("Timing", {"fields": ["created_at", "completed_at", "attempt_count", "max_attempts", "next_attempt_at"]}),
    ]
    readonly_fields = [
        "status_badge",
        "failure_reason",
        "error_message",
        "webhook_link",
        "user_id",
        "source",
        "journey_view",
        "created_by_view",
        "resent_from_view",
        "resends_view",
        "request_line",
        "request_headers_view",
        "request_body_view",
        "data",
        "response_status_code",
        "duration_ms",
        "response_headers_view",
        "response_body_view",
        "attempts_timeline",
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

    def has_resend_permission(self, request: HttpRequest) -> bool:
        """Resending is sending, so it takes the permission that sending from the webhook page takes."""
        return request.user.has_perm(f"{Webhook._meta.app_label}.{get_permission_codename('change', Webhook._meta)}")

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return DeliveryChangeList

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Any], search_term: str) -> tuple[QuerySet[Any], bool]:
        """Equality on indexed columns: Django's default, a LIKE '%term%' per field, reads every
        row of a million. A term that is not a UUID cannot be a delivery id, so it is only a user id."""
        term = search_term.strip()
        if not term:
            return queryset, False
        match = Q(user_id=term)
        try:
            match |= Q(pk=uuid.UUID(term))
        except ValueError:
            pass
        return queryset.filter(match), False

    def get_urls(self) -> list[URLPattern]:
        return [
            path("<path:object_id>/resend/", self.admin_site.admin_view(self.resend_view), name="history_delivery_resend"),
            *super().get_urls(),
        ]

    # Pages

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None)
        if isinstance(response, TemplateResponse) and context is not None and "cl" in context:
            changelist: ChangeList = context["cl"]
            context["status_tabs"] = self._status_tabs(changelist)
            context["chart"], context["chart_webhook"] = self._chart(changelist)
        return response

    def _status_tabs(self, changelist: ChangeList) -> list[dict[str, Any]]:
        current = changelist.params.get(STATUS_PARAMETER, "")
        tabs = [{"label": "All", "selected": not current, "url": changelist.get_query_string(remove=[STATUS_PARAMETER])}]
        for status in (Delivery.Status.SUCCESS, Delivery.Status.FAILURE):
            tabs.append(
                {
                    "label": status.label,
                    "selected": current == status.value,
                    "url": changelist.get_query_string({STATUS_PARAMETER: status.value}),
                }
            )
        return tabs

    def _chart(self, changelist: ChangeList) -> tuple[HourlyChart, str]:
        """The chart follows the webhook filter only: the other filters pick rows, not the picture."""
        webhook_id = _positive_int(changelist.params.get(WEBHOOK_PARAMETER))
        window = chart_window(now=timezone.now())
        chart = hourly_chart(delivery_hourly_counts(webhook_id=webhook_id, since=window.since), window=window)
        webhook_name = ""
        if webhook_id is not None:
            # The webhook filter has already loaded the names; no need to ask the database again.
            for spec in changelist.filter_specs:
                if getattr(spec, "field_path", None) == "webhook":
                    webhook_name = str(dict(spec.lookup_choices).get(webhook_id, ""))  # type: ignore[attr-defined]
        return chart, webhook_name

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Delivery | None = None,
    ) -> HttpResponse:
        if obj is not None:
            context["can_resend"] = self.has_resend_permission(request)
            context["resend_url"] = reverse("admin:history_delivery_resend", args=[obj.pk])
            if obj.request_method:
                # From the stored, masked headers: the sealed ones must never reach a page.
                last = _last_attempt_headers(obj)
                context["curl_command"] = curl_command(
                    method=obj.request_method,
                    url=obj.request_url,
                    headers=[*obj.request_headers, *(last[1] if last else [])],
                    body=obj.request_body,
                )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def resend_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if not self.has_view_permission(request) or not self.has_resend_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        original = self.get_object(request, unquote(object_id))
        if original is None:
            raise Http404
        try:
            delivery = sending.resend(original=original, created_by_id=request.user.pk)
        except sending.CannotResend as refused:
            self.message_user(request, refused.message, level=messages.ERROR)
            return HttpResponseRedirect(_delivery_url(original.pk))
        self.message_user(
            request,
            f"Resent to {original.user_id}: this is the new delivery, with the same request as the original.",
            level=messages.SUCCESS,
        )
        return HttpResponseRedirect(_delivery_url(delivery.pk))

    # Columns

    @admin.display(description="Status", ordering="status")
    def status_badge(self, delivery: Delivery) -> SafeString:
        colours = {"success": "#1b7f3b", "failure": "#b3261e", "pending": "#8a6d00", "sending": "#1f5fa8"}
        return format_html(
            '<span class="delivery-status delivery-status-{}" style="color:{};font-weight:bold">{}</span>',
            delivery.status,
            colours.get(delivery.status, "inherit"),
            delivery.get_status_display(),
        )

    @admin.display(description="Duration", ordering="duration_ms")
    def duration_view(self, delivery: Delivery) -> str:
        return "" if delivery.duration_ms is None else f"{delivery.duration_ms} ms"

    @admin.display(description="Created", ordering="created_at")
    def created_view(self, delivery: Delivery) -> str:
        return _moment(delivery.created_at)

    @admin.display(description="Webhook")
    def webhook_column(self, delivery: Delivery) -> str:
        return delivery.webhook_name

    @admin.display(description="HTTP")
    def http_status_column(self, delivery: Delivery) -> str:
        return "-" if delivery.response_status_code is None else str(delivery.response_status_code)

    @admin.display(description="Reason")
    def reason_column(self, delivery: Delivery) -> str:
        return delivery.get_failure_reason_display() or "-"

    @admin.display(description="Attempts")
    def attempts_view(self, delivery: Delivery) -> str:
        text = f"{delivery.attempt_count} of {delivery.max_attempts}"
        if delivery.status == Delivery.Status.PENDING and delivery.next_attempt_at is not None:
            text += f", next {_moment(delivery.next_attempt_at)}"
        return text

    # Detail fields

    @admin.display(description="Webhook")
    def webhook_link(self, delivery: Delivery) -> SafeString:
        if delivery.webhook_id is None:
            return format_html("{} (deleted)", delivery.webhook_name)
        return format_html(
            '<a class="webhook-link" href="{}">{}</a>',
            reverse("admin:channels_webhook_webhook_change", args=[delivery.webhook_id]),
            delivery.webhook_name,
        )

    @admin.display(description="Journey")
    def journey_view(self, delivery: Delivery) -> str:
        if delivery.journey_id is None:
            return "—"
        return f"{delivery.journey_name} (#{delivery.journey_id}), node “{delivery.journey_node_key}”"

    @admin.display(description="Sent by")
    def created_by_view(self, delivery: Delivery) -> str:
        if delivery.created_by_id is None:
            return "—"
        who = delivery.created_by.get_username() if delivery.created_by else str(delivery.created_by_id)
        return f"{who} (resent)" if delivery.source == Delivery.Source.RESEND else who

    @admin.display(description="Resent from")
    def resent_from_view(self, delivery: Delivery) -> SafeString | str:
        if delivery.resent_from_id is None:
            return "—"
        return format_html(
            '<a class="resent-from" href="{}">the original delivery ({})</a>',
            _delivery_url(delivery.resent_from_id),
            delivery.resent_from_id,
        )

    @admin.display(description="Resent as")
    def resends_view(self, delivery: Delivery) -> SafeString | str:
        resends = list(delivery.resends.order_by("created_at").values_list("pk", "created_at", "status"))
        if not resends:
            return "—"
        return format_html_join(
            "",
            '<div><a class="resend" href="{}">{}</a> ({})</div>',
            ((_delivery_url(pk), _moment(created_at), status) for pk, created_at, status in resends),
        )

    @admin.display(description="Request")
    def request_line(self, delivery: Delivery) -> SafeString | str:
        if not delivery.request_method:
            return "Nothing was sent."
        return format_html("<code>{} {}</code>", delivery.request_method, delivery.request_url)

    @admin.display(description="Request headers")
    def request_headers_view(self, delivery: Delivery) -> SafeString:
        last = _last_attempt_headers(delivery)
        if not last:
            return _headers_block(delivery.request_headers)
        number, headers = last
        return format_html(
            '{}<div class="attempt-headers">{}<p class="help">Made for attempt {} alone (a signature carries its time).</p></div>',
            _headers_block(delivery.request_headers),
            _headers_block(headers),
            number,
        )

    @admin.display(description="Request body")
    def request_body_view(self, delivery: Delivery) -> SafeString:
        return format_html('<pre class="request-body">{}</pre>', _pretty_body(delivery.request_body))

    @admin.display(description="Response headers")
    def response_headers_view(self, delivery: Delivery) -> SafeString:
        return _headers_block(delivery.response_headers)

    @admin.display(description="Response body")
    def response_body_view(self, delivery: Delivery) -> SafeString:
        notes = []
        if delivery.response_body_is_base64:
            notes.append("Binary body, shown as base64.")
        if delivery.response_body_truncated:
            notes.append("Truncated: only the start of the body was kept.")
        # A base64 body is shown exactly as stored: it is not text, so it is never reformatted.
        body = delivery.response_body if delivery.response_body_is_base64 else _pretty_body(delivery.response_body)
        return format_html(
            '{}<pre class="response-body">{}</pre>',
            format_html_join("", '<p class="body-note">{}</p>', ((note,) for note in notes)),
            body,
        )

    @admin.display(description="Timeline")
    def attempts_timeline(self, delivery: Delivery) -> SafeString | str:
        attempts: list[DeliveryAttempt] = list(delivery.attempts.order_by("number"))
        if not attempts:
            return "No attempt was made."
        return format_html(
            '<ol class="attempt-timeline">{}</ol>',
            format_html_join("", "{}", ((_attempt_item(attempt),) for attempt in attempts)),
        )


def _attempt_item(attempt: DeliveryAttempt) -> SafeString:
    if attempt.status_code is not None:
        result = format_html('<span class="attempt-status">HTTP {}</span>', attempt.status_code)
    else:
        result = format_html('<span class="attempt-error">{}</span>', attempt.error_message or attempt.outcome)
    detail = format_html(" — {}", attempt.error_message) if attempt.status_code is not None and attempt.error_message else ""
    retry = (
        format_html(' · <span class="attempt-next">next attempt {}</span>', _moment(attempt.next_attempt_at))
        if attempt.next_attempt_at
        else ""
    )
    own_headers = (
        format_html('<div class="attempt-headers">{}</div>', _headers_block(attempt.request_headers))
        if attempt.request_headers
        else ""
    )
    return format_html(
        '<li class="attempt attempt-{}"><strong>Attempt {}</strong> · {} · {} ms · {}{}{}{}</li>',
        attempt.outcome,
        attempt.number,
        _moment(attempt.started_at),
        attempt.duration_ms,
        result,
        detail,
        retry,
        own_headers,
    )


def _positive_int(value: object) -> int | None:
    try:
        number = int(str(value))
    except ValueError:
        return None
    return number if number > 0 else None
