"""The send history console: status tabs and filters list exactly the matching deliveries;
the detail shows the request and response readably, the attempts as a timeline, a cURL
command with secrets masked and a Resend button for staff who may send; the chart above
the list counts per hour."""

from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pytest_httpserver import HTTPServer

from channels_webhook import sending
from channels_webhook.models import Webhook
from flarelane.audience.services import end_user_put
from history import services as history_services
from history.models import Delivery, DeliveryAttempt
from tests.conftest import SECRET_KEY_VALUE
from tests.query_plans import combines_indexes, query_plan, reads_whole_table, sorts_matching_rows

pytestmark = pytest.mark.django_db

CHANGELIST_URL = "/admin/history/delivery/"
UTC = dt.UTC
MASK = "••••••"


def detail_url(delivery: Delivery) -> str:
    return f"/admin/history/delivery/{delivery.pk}/change/"


def resend_url(delivery: Delivery) -> str:
    return f"/admin/history/delivery/{delivery.pk}/resend/"


def moment(value: dt.datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass
class Sends:
    ok: Webhook  # answers 200 with JSON
    down: Webhook  # answers 500
    d1: Delivery  # test, ok, u-1001, success, Nov 1 09:00
    d2: Delivery  # test, down, u-2002, failure http_error, Nov 2 23:59:59
    d3: Delivery  # api, ok, u-2002, success, Nov 3 00:00
    d4: Delivery  # journey "Welcome", down, u-1001, failure http_error, Nov 4 12:00
    d5: Delivery  # test, ok, u-3003 (no phone), failure render_error, Nov 5 08:00
    d6: Delivery  # api, down, u-1001, pending after one 500 (retry due later), Nov 6 08:00

    def named(self, names: str) -> list[str]:
        return [str(getattr(self, name).pk) for name in names.split()]


@pytest.fixture
def sends(httpserver: HTTPServer, make_webhook, end_user, project, run_tasks_inline) -> Sends:
    httpserver.expect_request("/ok", method="POST").respond_with_json({"header": {"isSuccessful": True, "resultCode": 0}})
    httpserver.expect_request("/down", method="POST").respond_with_data(
        '{"error":"down"}', status=500, content_type="application/json"
    )
    ok = make_webhook(httpserver.url_for("/ok"), name="Kakao alert")
    down = make_webhook(httpserver.url_for("/down"), name="Down SMS")
    second, _ = end_user_put(project=project, user_id="u-2002", attributes={}, tags={"phone_number": "01099998888"})
    no_phone, _ = end_user_put(project=project, user_id="u-3003", attributes={}, tags={})

    d1 = sending.send_test(webhook=ok, end_user=end_user, data={"text": "Hello"})
    d2 = sending.send_test(webhook=down, end_user=second, data={"text": "Hello"})
    (d3_id,) = sending.send_to_users(webhook=ok, user_ids=["u-2002"], data={"text": "Hi"}, source="api").delivery_ids
    (d4_id,) = history_services.delivery_create_many(
        project=project,
        webhook=down,
        recipients=[history_services.Recipient(user_id="u-1001", end_user_id=end_user.pk)],
        data={"text": "Welcome"},
        source="journey",
        max_attempts=1,
        journey=history_services.JourneyOrigin(journey_id=7, journey_name="Welcome", node_key="sms"),
    )
    sending.deliver(delivery_id=d4_id)
    d5 = sending.send_test(webhook=ok, end_user=no_phone, data={"text": "Hello"})
    (d6_id,) = sending.send_to_users(webhook=down, user_ids=["u-1001"], data={"text": "Later"}, source="api").delivery_ids

    times = {
        d1.pk: dt.datetime(2026, 11, 1, 9, 0, tzinfo=UTC),
        d2.pk: dt.datetime(2026, 11, 2, 23, 59, 59, tzinfo=UTC),
        d3_id: dt.datetime(2026, 11, 3, 0, 0, tzinfo=UTC),
        d4_id: dt.datetime(2026, 11, 4, 12, 0, tzinfo=UTC),
        d5.pk: dt.datetime(2026, 11, 5, 8, 0, tzinfo=UTC),
        d6_id: dt.datetime(2026, 11, 6, 8, 0, tzinfo=UTC),
    }
    for pk, created_at in times.items():
        Delivery.objects.filter(pk=pk).update(created_at=created_at)
    result = Sends(ok, down, *(Delivery.objects.get(pk=pk) for pk in times))
    assert [
        (d.source, d.status, d.failure_reason) for d in (result.d1, result.d2, result.d3, result.d4, result.d5, result.d6)
    ] == [
        ("test", "success", ""),
        ("test", "failure", "http_error"),
        ("api", "success", ""),
        ("journey", "failure", "http_error"),
        ("test", "failure", "render_error"),
        ("api", "pending", "http_error"),
    ]
    assert result.d6.next_attempt_at is not None
    return result


@pytest.fixture
def viewer(db) -> Client:
    """Staff who may read webhooks and history but not change or send."""
    user = User.objects.create_user("viewer", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=["view_delivery", "view_webhook", "view_deliveryattempt"]))
    client = Client()
    client.force_login(user)
    return client


def listed(response) -> list[str]:
    assert response.status_code == 200
    return [str(delivery.pk) for delivery in response.context["cl"].result_list]


# The list


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, "d6 d5 d4 d3 d2 d1"),
        ({"status__exact": "success"}, "d3 d1"),
        ({"status__exact": "failure"}, "d5 d4 d2"),
    ],
)
def test_tabs_list_exactly_their_deliveries_newest_first(admin_client, sends, params, expected):
    assert listed(admin_client.get(CHANGELIST_URL, params)) == sends.named(expected)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (lambda s: {"webhook__id__exact": s.ok.pk}, "d5 d3 d1"),
        (lambda s: {"webhook__id__exact": s.down.pk}, "d6 d4 d2"),
        (lambda s: {"source__exact": "test"}, "d5 d2 d1"),
        (lambda s: {"source__exact": "api"}, "d6 d3"),
        (lambda s: {"source__exact": "journey"}, "d4"),
        (lambda s: {"user_id": "u-1001"}, "d6 d4 d1"),
        (lambda s: {"user_id": " u-2002 "}, "d3 d2"),
        (lambda s: {"user_id": "u-10"}, ""),
        (lambda s: {"journey_name": "Welcome"}, "d4"),
        (lambda s: {"journey_name": "Welc"}, ""),
        (lambda s: {"failure_reason__exact": "render_error"}, "d5"),
        # A pending delivery keeps the reason of its last failed attempt.
        (lambda s: {"failure_reason__exact": "http_error"}, "d6 d4 d2"),
        # Both days included: from the first moment of the 2nd to the last of the 3rd.
        (lambda s: {"created_from": "2026-11-02", "created_to": "2026-11-03"}, "d3 d2"),
        (lambda s: {"created_from": "2026-11-04"}, "d6 d5 d4"),
        (lambda s: {"created_to": "2026-11-01"}, "d1"),
        (lambda s: {"created_from": "2026-11-07"}, ""),
        (lambda s: {"status__exact": "failure", "webhook__id__exact": s.down.pk, "created_to": "2026-11-03"}, "d2"),
        (lambda s: {"status__exact": "success", "user_id": "u-2002", "source__exact": "api"}, "d3"),
    ],
)
def test_filters_list_exactly_the_matching_deliveries(admin_client, sends, params, expected):
    response = admin_client.get(CHANGELIST_URL, params(sends))

    assert listed(response) == sends.named(expected)
    assert SECRET_KEY_VALUE not in response.content.decode()


def test_an_unreadable_date_is_refused_like_any_bad_admin_filter(admin_client, sends):
    response = admin_client.get(CHANGELIST_URL, {"created_from": "yesterday"})

    assert response.status_code == 302
    assert response["Location"] == f"{CHANGELIST_URL}?e=1"


def test_tabs_keep_the_other_filters_and_start_at_the_first_page(admin_client, sends, project):
    response = admin_client.get(
        f"{CHANGELIST_URL}?webhook__id__exact={sends.down.pk}&project__id__exact={project.pk}&status__exact=failure&p=0"
    )

    assert listed(response) == sends.named("d4 d2")
    others = f"project__id__exact={project.pk}&webhook__id__exact={sends.down.pk}"
    assert response.context["status_tabs"] == [
        {"label": "All", "selected": False, "url": f"?{others}"},
        {"label": "Success", "selected": False, "url": f"?{others.replace('&', '&status__exact=success&')}"},
        {"label": "Failure", "selected": True, "url": f"?{others.replace('&', '&status__exact=failure&')}"},
    ]
    page = response.content.decode()
    failure_link = f"?project__id__exact={project.pk}&amp;status__exact=failure&amp;webhook__id__exact={sends.down.pk}"
    assert f'<a class="history-tab" href="{failure_link}" aria-current="page">Failure</a>' in page
    assert (
        f'<a class="history-tab" href="?project__id__exact={project.pk}&amp;webhook__id__exact={sends.down.pk}">All</a>' in page
    )


def test_typed_filters_keep_the_other_choices_as_hidden_fields(admin_client, sends):
    page = admin_client.get(CHANGELIST_URL, {"webhook__id__exact": sends.ok.pk, "user_id": "u-1001"}).content.decode()

    user_form = page[page.index('id="filter-user_id"') : page.index("</form>", page.index('id="filter-user_id"'))]
    assert f'<input type="hidden" name="webhook__id__exact" value="{sends.ok.pk}">' in user_form
    assert '<input type="search" name="user_id" value="u-1001"' in user_form
    dates_form = page[page.index('id="filter-date-range"') : page.index("</form>", page.index('id="filter-date-range"'))]
    assert f'<input type="hidden" name="webhook__id__exact" value="{sends.ok.pk}">' in dates_form
    assert '<input type="hidden" name="user_id" value="u-1001">' in dates_form
    assert '<input type="date" name="created_from" value="">' in dates_form


def test_the_list_shows_time_webhook_user_status_code_duration_reason_and_attempts(admin_client, sends):
    page = admin_client.get(CHANGELIST_URL).content.decode()

    def row(delivery: Delivery) -> str:
        start = page.index(f'href="{detail_url(delivery)}"')
        return page[page.rindex("<tr", 0, start) : page.index("</tr>", start)]

    failed = row(sends.d2)
    assert f'<a href="{detail_url(sends.d2)}">{moment(sends.d2.created_at)}</a>' in failed
    assert '<td class="field-webhook_column">Down SMS</td>' in failed
    assert '<td class="field-user_id">u-2002</td>' in failed
    assert '<span class="delivery-status delivery-status-failure"' in failed
    assert '<td class="field-http_status_column">500</td>' in failed
    assert f'<td class="field-duration_view">{sends.d2.duration_ms} ms</td>' in failed
    assert '<td class="field-reason_column">HTTP error status</td>' in failed
    assert '<td class="field-source">Test send</td>' in failed
    assert '<td class="field-attempts_view">1 of 1</td>' in failed
    pending = row(sends.d6)
    assert f'<td class="field-attempts_view">1 of 3, next {moment(sends.d6.next_attempt_at)}</td>' in pending
    assert '<span class="delivery-status delivery-status-pending"' in pending
    never_sent = row(sends.d5)
    assert '<td class="field-http_status_column">-</td>' in never_sent
    assert '<td class="field-attempts_view">0 of 1</td>' in never_sent


def test_the_list_takes_the_same_number_of_queries_for_more_rows(admin_client, sends):
    with CaptureQueriesContext(connection) as six_rows:
        assert len(listed(admin_client.get(CHANGELIST_URL))) == 6
    for delivery in (sends.d1, sends.d2, sends.d3, sends.d4, sends.d5, sends.d6):
        sending.resend(original=delivery, created_by_id=None)
    with CaptureQueriesContext(connection) as twelve_rows:
        assert len(listed(admin_client.get(CHANGELIST_URL))) == 12

    assert len(twelve_rows.captured_queries) == len(six_rows.captured_queries)
    # Bodies stay in the database until a detail page asks for them.
    results = next(q["sql"] for q in twelve_rows.captured_queries if q["sql"].startswith('SELECT "history_delivery"."id"'))
    assert "request_body" not in results
    assert "response_body" not in results
    assert "request_headers_sealed" not in results


def test_no_secret_in_any_list_or_detail_page(admin_client, sends):
    sealed = [d.request_headers_sealed for d in Delivery.objects.exclude(request_headers_sealed="")]
    assert len(sealed) == 5
    pages = [admin_client.get(CHANGELIST_URL, params).content.decode() for params in ({}, {"status__exact": "failure"})]
    pages += [admin_client.get(detail_url(delivery)).content.decode() for delivery in Delivery.objects.all()]

    assert len(pages) == 8
    for page in pages:
        assert SECRET_KEY_VALUE not in page
        assert SECRET_KEY_VALUE not in html.unescape(page)
        for value in sealed:
            assert value not in page


# Search, filters and counting: exact matches on indexed columns, no query over every row


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        (lambda s: "u-2002", "d3 d2"),
        (lambda s: " u-1001 ", "d6 d4 d1"),
        (lambda s: str(s.d4.pk), "d4"),
        (lambda s: str(s.d4.pk).upper(), "d4"),
        (lambda s: s.d4.pk.hex, "d4"),
        # Exact only: no part of a user id, no webhook name (the webhook filter does that).
        (lambda s: "u-20", ""),
        (lambda s: "U-2002", ""),
        (lambda s: "Down SMS", ""),
        (lambda s: str(s.d4.pk)[:8], ""),
        (lambda s: "not-a-uuid-or-user", ""),
    ],
)
def test_search_finds_a_user_id_or_a_delivery_id_exactly(admin_client, sends, term, expected):
    response = admin_client.get(CHANGELIST_URL, {"q": term(sends)})

    assert listed(response) == sends.named(expected)


def test_search_says_what_it_matches_and_compares_with_equality(admin_client, sends):
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(CHANGELIST_URL, {"q": "u-2002"})

    page = response.content.decode()
    assert 'placeholder="user id or delivery id, exactly"' in page
    assert (
        '<div class="help" id="searchbar_helptext">Finds deliveries by a whole user id (case-sensitive) '
        "or a whole delivery id.</div>"
    ) in page
    assert '<span class="small quiet"><span class="result-count">2</span> results' in page
    listing = [q["sql"] for q in queries.captured_queries if 'FROM "history_delivery"' in q["sql"]]
    assert listing and all('"history_delivery"."user_id" = ' in sql for sql in listing)
    assert not any(" LIKE " in sql.upper() for sql in listing)


def test_the_filters_offer_their_choices_without_reading_the_deliveries(admin_client, sends):
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(CHANGELIST_URL, {"failure_reason__exact": "render_error"})

    assert listed(response) == sends.named("d5")
    specs = {getattr(spec, "field_path", spec.title): type(spec).__name__ for spec in response.context["cl"].filter_specs}
    assert specs["failure_reason"] == specs["source"] == "ChoicesFieldListFilter"
    assert specs["webhook"] == "WebhookFilter"  # a RelatedFieldListFilter: the webhooks, not the deliveries
    page = response.content.decode()
    assert '<a href="?failure_reason__exact=render_error&amp;webhook__isnull=True">A deleted webhook</a>' in page
    for reason in Delivery.FailureReason:
        assert f"?failure_reason__exact={reason.value}" in page
    # Of the deliveries: one bounded count and the page itself; no DISTINCT over every row.
    deliveries = [q["sql"] for q in queries.captured_queries if 'FROM "history_delivery"' in q["sql"]]
    assert len(deliveries) == 2
    assert deliveries[0].startswith('SELECT COUNT(*) FROM (SELECT "history_delivery"."created_at"')
    assert "LIMIT 10001) subquery" in deliveries[0]
    assert not any("DISTINCT" in q["sql"] for q in queries.captured_queries)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"status__exact": "failure"},
        {"webhook__id__exact": "1"},
        {"project__id__exact": "1"},
        {"source__exact": "resend"},
        {"failure_reason__exact": "cancelled"},
        {"journey_name": "Welcome"},
        {"user_id": "u-1001"},
        {"q": "u-1001"},
        {"q": "6f1c1b9e-5bd6-4c4c-9a51-0f8f7c3f7c11"},
        {"created_from": "2026-11-02", "created_to": "2026-11-03"},
    ],
)
def test_each_filter_finds_and_orders_its_rows_through_an_index(admin_client, sends, params):
    with CaptureQueriesContext(connection) as queries:
        listed(admin_client.get(CHANGELIST_URL, params))

    deliveries = [q["sql"] for q in queries.captured_queries if 'FROM "history_delivery"' in q["sql"]]
    assert len(deliveries) == 2  # the bounded count and the page
    for sql in deliveries:
        plan = query_plan(sql)
        # A whole-table read, or a sort of every matching row before the first page, would
        # cost a million rows. A UUID searched for is a user id or a delivery id: the rows of
        # both lookups are sorted.
        assert not reads_whole_table(plan, "history_delivery"), plan
        assert not sorts_matching_rows(plan) or combines_indexes(plan), plan


def test_past_the_cap_the_list_says_so_and_pages_through_the_first_rows(admin_client, sends, monkeypatch):
    from history.admin import DeliveryAdmin
    from history.changelist import CappedCountPaginator

    monkeypatch.setattr(CappedCountPaginator, "cap", 4)
    monkeypatch.setattr(DeliveryAdmin, "list_per_page", 2)

    with CaptureQueriesContext(connection) as queries:
        first = admin_client.get(CHANGELIST_URL)
    count = next(q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT COUNT(*)"))
    second = admin_client.get(CHANGELIST_URL, {"p": 2})
    beyond = admin_client.get(CHANGELIST_URL, {"p": 3})

    assert count.endswith("LIMIT 5) subquery")
    assert listed(first) == sends.named("d6 d5")
    assert listed(second) == sends.named("d4 d3")
    assert '<span class="result-count">4+</span> deliveries' in first.content.decode()
    assert beyond.status_code == 302  # like any page past the end
    # Under the cap the count is exact.
    monkeypatch.setattr(CappedCountPaginator, "cap", 6)
    assert '<span class="result-count">6</span> deliveries' in admin_client.get(CHANGELIST_URL).content.decode()
    assert '<span class="result-count">1</span> delivery' in admin_client.get(CHANGELIST_URL, {"q": "u-3003"}).content.decode()


# The detail


def test_the_detail_pretty_prints_json_and_links_the_webhook(admin_client, sends):
    page = admin_client.get(detail_url(sends.d2)).content.decode()

    text = html.unescape(page)
    assert (
        '<pre class="request-body">{\n  "body": "Hello",\n  "sendNo": "15446859",\n  "recipientList": [\n'
        '    {\n      "recipientNo": "01099998888",\n      "countryCode": "82"\n    }\n  ]\n}</pre>'
    ) in text
    assert '<pre class="response-body">{\n  "error": "down"\n}</pre>' in text
    assert f'<a class="webhook-link" href="/admin/channels_webhook/webhook/{sends.down.pk}/change/">Down SMS</a>' in page
    assert "<strong>X-Secret-Key</strong>: ••••••" in page


def test_a_body_that_is_not_json_is_shown_as_it_is_and_a_binary_one_is_labelled(admin_client, httpserver, make_webhook, end_user):
    httpserver.expect_request("/text", method="POST").respond_with_data("OK  queued\n", content_type="text/plain")
    httpserver.expect_request("/png", method="POST").respond_with_data(b"\x89PNG\r\n\x1a\n\x00", content_type="image/png")
    text_delivery = sending.send_test(webhook=make_webhook(httpserver.url_for("/text")), end_user=end_user, data={"text": "x"})
    binary_delivery = sending.send_test(webhook=make_webhook(httpserver.url_for("/png")), end_user=end_user, data={"text": "x"})

    text_page = admin_client.get(detail_url(text_delivery)).content.decode()
    binary_page = admin_client.get(detail_url(binary_delivery)).content.decode()

    assert '<pre class="response-body">OK  queued\n</pre>' in text_page
    assert "Binary body" not in text_page
    assert '<p class="body-note">Binary body, shown as base64.</p><pre class="response-body">iVBORw0KGgoA</pre>' in binary_page


def test_the_attempts_read_as_a_timeline_with_the_retry_time(admin_client, httpserver, make_webhook, end_user):
    httpserver.expect_oneshot_request("/flaky", method="POST").respond_with_data("busy", status=503)
    httpserver.expect_request("/flaky", method="POST").respond_with_json({"ok": True})
    webhook = make_webhook(httpserver.url_for("/flaky"), max_attempts=3)
    (delivery_id,) = sending.send_to_users(webhook=webhook, user_ids=["u-1001"], data={"text": "x"}, source="api").delivery_ids
    sending.deliver(delivery_id=delivery_id)
    # The retry is due in a few seconds; the test does not wait for it.
    Delivery.objects.filter(pk=delivery_id).update(next_attempt_at=timezone.now() - dt.timedelta(seconds=1))
    sending.deliver(delivery_id=delivery_id)
    first, second = DeliveryAttempt.objects.filter(delivery_id=delivery_id).order_by("number")
    assert (first.status_code, second.status_code) == (503, 200)

    page = admin_client.get(f"/admin/history/delivery/{delivery_id}/change/").content.decode()

    assert (
        '<ol class="attempt-timeline">'
        f'<li class="attempt attempt-{first.outcome}"><strong>Attempt 1</strong> · {moment(first.started_at)} · '
        f'{first.duration_ms} ms · <span class="attempt-status">HTTP 503</span> — {html.escape(first.error_message)} · '
        f'<span class="attempt-next">next attempt {moment(first.next_attempt_at)}</span></li>'
        f'<li class="attempt attempt-{second.outcome}"><strong>Attempt 2</strong> · {moment(second.started_at)} · '
        f'{second.duration_ms} ms · <span class="attempt-status">HTTP 200</span></li>'
        "</ol>"
    ) in page


def test_a_delivery_that_was_never_sent_has_no_attempts_and_no_curl(admin_client, sends):
    page = admin_client.get(detail_url(sends.d5)).content.decode()

    assert "No attempt was made." in page
    assert 'id="curl-command"' not in page
    assert "tags.phone_number is not defined" in html.unescape(page)


def test_copy_as_curl_is_the_stored_request_with_the_secret_masked(admin_client, sends, httpserver, settings):
    page = admin_client.get(detail_url(sends.d1)).content.decode()

    shown = html.unescape(re.search(r'<pre class="curl-command" id="curl-command">(.*?)</pre>', page, re.DOTALL)[1])
    assert shown == (
        f"curl -X POST '{httpserver.url_for('/ok')}' \\\n"
        "  -H 'Content-Type: application/json;charset=UTF-8' \\\n"
        "  -H 'X-Secret-Key: ••••••' \\\n"
        f"  -H 'User-Agent: {settings.WEBHOOK_USER_AGENT}' \\\n"
        '  --data-raw \'{"body": "Hello", "sendNo": "15446859", '
        '"recipientList": [{"recipientNo": "01012345678", "countryCode": "82"}]}\''
    )
    assert SECRET_KEY_VALUE not in shown
    assert '<button type="button" class="button" id="copy-curl" data-copy-target="curl-command">Copy as cURL</button>' in page
    assert "navigator.clipboard.writeText(text)" in page


def test_copy_as_curl_quotes_a_body_with_a_single_quote(admin_client, httpserver, make_webhook, end_user):
    httpserver.expect_request("/ok", method="POST").respond_with_json({})
    delivery = sending.send_test(webhook=make_webhook(httpserver.url_for("/ok")), end_user=end_user, data={"text": "It's $5"})

    page = admin_client.get(detail_url(delivery)).content.decode()

    shown = html.unescape(re.search(r'<pre class="curl-command" id="curl-command">(.*?)</pre>', page, re.DOTALL)[1])
    assert shown.endswith(
        '  --data-raw \'{"body": "It\'\\\'\'s $5", "sendNo": "15446859", '
        + '"recipientList": [{"recipientNo": "01012345678", "countryCode": "82"}]}\''
    )


# Resend


def test_resend_creates_a_new_delivery_of_the_same_request_recorded_as_the_staff_users(
    admin_client, admin_user, sends, httpserver
):
    received_before = len(httpserver.log)
    original_body = httpserver.log[0][0].get_data()
    count_before = Delivery.objects.count()

    response = admin_client.post(resend_url(sends.d1))

    assert Delivery.objects.count() == count_before + 1
    resent = Delivery.objects.get(resent_from=sends.d1)
    assert response.status_code == 302
    assert response["Location"] == detail_url(resent)
    assert (resent.source, resent.status, resent.created_by_id) == ("resend", "success", admin_user.pk)
    assert (resent.webhook_id, resent.user_id, resent.request_body) == (sends.ok.pk, "u-1001", sends.d1.request_body)
    assert len(httpserver.log) == received_before + 1
    request, _ = httpserver.log[-1]
    assert request.get_data() == original_body
    assert request.headers["X-Secret-Key"] == SECRET_KEY_VALUE  # the real value went out; only pages are masked

    page = admin_client.get(response["Location"]).content.decode()
    assert "Resent to u-1001: this is the new delivery, with the same request as the original." in page
    assert f'<a class="resent-from" href="{detail_url(sends.d1)}">the original delivery ({sends.d1.pk})</a>' in page
    assert f"{admin_user.username} (resent)" in page
    original_page = admin_client.get(detail_url(sends.d1)).content.decode()
    assert f'<a class="resend" href="{detail_url(resent)}">{moment(resent.created_at)}</a> (success)' in original_page


def test_a_resend_that_could_only_fail_again_is_refused_with_the_reason(admin_client, make_webhook, end_user, httpserver):
    webhook = make_webhook(httpserver.url_for("/sms"))
    (delivery_id,) = sending.send_to_users(webhook=webhook, user_ids=[end_user.user_id], data={}, source="api").delivery_ids
    sending.deliver(delivery_id=delivery_id)  # fails to render: no value for `text`
    original = Delivery.objects.get()

    response = admin_client.post(resend_url(original), follow=True)

    assert response.redirect_chain == [(detail_url(original), 302)]
    assert [str(message) for message in response.context["messages"]] == [
        "This delivery has no value for the data variable 'text', so a resend would fail the same way. "
        "Fix the cause, then send again."
    ]
    assert Delivery.objects.count() == 1
    assert httpserver.log == []


def test_resend_is_a_post(admin_client, sends):
    assert admin_client.get(resend_url(sends.d1)).status_code == 405
    assert Delivery.objects.count() == 6


def test_resend_of_an_unknown_delivery_is_404(admin_client, sends):
    assert admin_client.post("/admin/history/delivery/00000000-0000-4000-8000-000000000000/resend/").status_code == 404


def test_staff_who_may_only_view_see_no_resend_and_a_direct_post_is_refused(viewer, sends, httpserver):
    received_before = len(httpserver.log)

    page = viewer.get(detail_url(sends.d1)).content.decode()
    response = viewer.post(resend_url(sends.d1))

    assert 'id="resend-form"' not in page
    assert resend_url(sends.d1) not in page
    assert 'id="curl-command"' in page  # reading is allowed
    assert SECRET_KEY_VALUE not in page
    assert response.status_code == 403
    assert Delivery.objects.count() == 6
    assert len(httpserver.log) == received_before


def test_staff_with_the_webhook_change_permission_see_the_resend_button(viewer, sends):
    user = User.objects.get(username="viewer")
    user.user_permissions.add(Permission.objects.get(codename="change_webhook"))

    page = viewer.get(detail_url(sends.d1)).content.decode()

    assert (
        f'<form method="post" action="{resend_url(sends.d1)}" id="resend-form" data-confirm="Send this request to u-1001 again, as a new delivery?">'
        in page
    )


# The chart


def test_the_chart_above_the_list_counts_the_last_hours_and_follows_the_webhook_filter(
    admin_client, httpserver, make_webhook, end_user, monkeypatch
):
    httpserver.expect_request("/ok", method="POST").respond_with_json({})
    httpserver.expect_request("/down", method="POST").respond_with_data("no", status=500)
    ok = make_webhook(httpserver.url_for("/ok"), name="Kakao alert")
    down = make_webhook(httpserver.url_for("/down"), name="Down SMS")
    hour = timezone.now().astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    # Sent as if at these moments, so they are counted in those hours as they are recorded.
    with monkeypatch.context() as clock:
        clock.setattr(timezone, "now", lambda: hour)
        for webhook in (ok, ok, down):
            sending.send_test(webhook=webhook, end_user=end_user, data={"text": "x"})
        # Eight days ago: outside the chart, still in the list.
        clock.setattr(timezone, "now", lambda: hour - dt.timedelta(days=8))
        sending.send_test(webhook=ok, end_user=end_user, data={"text": "x"})

    every = admin_client.get(CHANGELIST_URL)
    one = admin_client.get(CHANGELIST_URL, {"webhook__id__exact": down.pk})

    assert (every.context["chart"].success_total, every.context["chart"].failure_total) == (2, 1)
    assert (one.context["chart"].success_total, one.context["chart"].failure_total) == (0, 1)
    assert one.context["chart_webhook"] == "Down SMS"
    every_page, one_page = every.content.decode(), one.content.decode()
    assert f"<title>{hour:%Y-%m-%d %H:00} — 2 success, 1 failure</title>" in every_page
    assert f"<title>{hour:%Y-%m-%d %H:00} — 0 success, 1 failure</title>" in one_page
    assert "Last 7 days — Down SMS</h2>" in one_page
    assert every_page.count('<g class="hour">') == 168
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="hourly-chart"' in every_page
    assert "<script" not in every_page[every_page.index("<svg") : every_page.index("</svg>")]
    assert len(listed(every)) == 4


def test_the_webhook_filter_lists_names_as_people_read_them(admin_client, make_webhook, httpserver):
    for name in ("Third-party SMS", "editme", "Own API"):
        make_webhook(httpserver.url_for("/x"), name=name)

    response = admin_client.get(CHANGELIST_URL)

    (spec,) = [spec for spec in response.context["cl"].filter_specs if getattr(spec, "field_path", "") == "webhook"]
    assert [str(label) for _pk, label in spec.lookup_choices] == ["editme", "Own API", "Third-party SMS"]
