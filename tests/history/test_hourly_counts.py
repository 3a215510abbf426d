"""Deliveries per hour for the chart: counted once, when a delivery becomes final, into
DeliveryHourlyCount by the UTC hour it was created in; the chart reads those few rows and
they always equal a count of the deliveries themselves."""

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from pytest_httpserver import HTTPServer

from channels_webhook import sending
from channels_webhook.services import webhook_delete, webhook_update
from flarelane.audience.services import end_user_put
from history import services as history_services
from history.models import Delivery, DeliveryHourlyCount
from history.selectors import HourlyCount, delivery_hourly_counts

pytestmark = pytest.mark.django_db

UTC = dt.UTC
SINCE = dt.datetime(2026, 11, 30, 0, 0, tzinfo=UTC)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch):
    """`with clock(moment):` runs the send path as if it were `moment`, so the delivery is
    created (and counted) then, the way a running system would have done it."""

    @contextmanager
    def at(moment: dt.datetime) -> Iterator[None]:
        with monkeypatch.context() as patch:
            patch.setattr(timezone, "now", lambda: moment)
            yield

    return at


def rows() -> list[tuple[int, int, dt.datetime, int, int]]:
    return list(
        DeliveryHourlyCount.objects.order_by("hour", "project_id", "webhook_id").values_list(
            "project_id", "webhook_id", "hour", "success", "failure"
        )
    )


def counted_directly(**filters: object) -> list[HourlyCount]:
    """What the chart must show, counted from the deliveries (UTC hours, in Python)."""
    totals: dict[dt.datetime, list[int]] = {}
    for created_at, status in Delivery.objects.filter(status__in=Delivery.FINAL_STATUSES, **filters).values_list(
        "created_at", "status"
    ):
        hour = created_at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        totals.setdefault(hour, [0, 0])[status == Delivery.Status.FAILURE] += 1
    return [HourlyCount(hour=hour, success=s, failure=f) for hour, (s, f) in sorted(totals.items())]


@pytest.fixture
def week(httpserver: HTTPServer, make_webhook, end_user, other_project, clock) -> dict[str, object]:
    httpserver.expect_request("/ok", method="POST").respond_with_json({"ok": True})
    httpserver.expect_request("/down", method="POST").respond_with_data("down", status=500)
    ok = make_webhook(httpserver.url_for("/ok"))
    down = make_webhook(httpserver.url_for("/down"), name="Down SMS")
    elsewhere = make_webhook(httpserver.url_for("/ok"), name="Globex SMS", project=other_project)
    elsewhere_user, _ = end_user_put(project=other_project, user_id="g-1", attributes={}, tags={"phone_number": "010"})

    def send(webhook, moment, user=end_user):
        with clock(moment):
            return sending.send_test(webhook=webhook, end_user=user, data={"text": "Hi"})

    # 14:00 on Nov 30: two successes (first and last moment of the hour) and one failure.
    send(ok, dt.datetime(2026, 11, 30, 14, 0, 0, tzinfo=UTC))
    send(ok, dt.datetime(2026, 11, 30, 14, 59, 59, 999999, tzinfo=UTC))
    send(down, dt.datetime(2026, 11, 30, 14, 30, tzinfo=UTC))
    # Midnight Dec 1 exactly: a failure, at a moment given in another zone.
    send(down, dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=9))))
    # Just before the window: not counted.
    send(ok, dt.datetime(2026, 11, 29, 23, 10, tzinfo=UTC))
    send(ok, dt.datetime(2026, 11, 29, 23, 59, 59, tzinfo=UTC))
    # Another project's success at 14:00 on Nov 30.
    send(elsewhere, dt.datetime(2026, 11, 30, 14, 10, tzinfo=UTC), elsewhere_user)
    # Pending (queued, not yet sent) in the 14:00 hour: no outcome, not counted.
    with clock(dt.datetime(2026, 11, 30, 14, 20, tzinfo=UTC)):
        queued = sending.send_to_users(webhook=ok, user_ids=["u-1001"], data={"text": "Hi"}, source="api").delivery_ids
    assert Delivery.objects.get(pk=queued[0]).status == Delivery.Status.PENDING
    return {"ok": ok, "down": down, "elsewhere": elsewhere}


def test_counts_per_hour_over_every_project(week):
    assert delivery_hourly_counts(since=SINCE) == [
        HourlyCount(hour=dt.datetime(2026, 11, 30, 14, 0, tzinfo=UTC), success=3, failure=1),
        HourlyCount(hour=dt.datetime(2026, 12, 1, 0, 0, tzinfo=UTC), success=0, failure=1),
    ]


def test_counts_for_one_project(week, project):
    assert delivery_hourly_counts(project=project, since=SINCE) == [
        HourlyCount(hour=dt.datetime(2026, 11, 30, 14, 0, tzinfo=UTC), success=2, failure=1),
        HourlyCount(hour=dt.datetime(2026, 12, 1, 0, 0, tzinfo=UTC), success=0, failure=1),
    ]


def test_counts_for_one_webhook(week):
    assert delivery_hourly_counts(webhook_id=week["ok"].pk, since=SINCE) == [
        HourlyCount(hour=dt.datetime(2026, 11, 30, 14, 0, tzinfo=UTC), success=2, failure=0),
    ]
    assert delivery_hourly_counts(webhook_id=week["down"].pk, since=SINCE) == [
        HourlyCount(hour=dt.datetime(2026, 11, 30, 14, 0, tzinfo=UTC), success=0, failure=1),
        HourlyCount(hour=dt.datetime(2026, 12, 1, 0, 0, tzinfo=UTC), success=0, failure=1),
    ]


def test_since_counts_from_the_start_of_its_hour_and_the_hours_are_aware_utc(week):
    counts = delivery_hourly_counts(since=dt.datetime(2026, 11, 29, 23, 59, 59, tzinfo=UTC))

    # Hours are whole: 23:10 counts as well as 23:59:59.
    assert counts[0] == HourlyCount(hour=dt.datetime(2026, 11, 29, 23, 0, tzinfo=UTC), success=2, failure=0)
    assert [count.hour.utcoffset() for count in counts] == [dt.timedelta(0)] * 3


def test_one_row_per_project_webhook_and_hour_and_one_query_to_read_them(week, project, other_project, django_assert_num_queries):
    ok, down, elsewhere = week["ok"].pk, week["down"].pk, week["elsewhere"].pk
    assert rows() == [
        (project.pk, ok, dt.datetime(2026, 11, 29, 23, 0, tzinfo=UTC), 2, 0),
        (project.pk, ok, dt.datetime(2026, 11, 30, 14, 0, tzinfo=UTC), 2, 0),
        (project.pk, down, dt.datetime(2026, 11, 30, 14, 0, tzinfo=UTC), 0, 1),
        (other_project.pk, elsewhere, dt.datetime(2026, 11, 30, 14, 0, tzinfo=UTC), 1, 0),
        (project.pk, down, dt.datetime(2026, 12, 1, 0, 0, tzinfo=UTC), 0, 1),
    ]
    with django_assert_num_queries(1):
        delivery_hourly_counts(since=SINCE)


def test_the_counts_equal_a_direct_count_of_the_deliveries(week, project):
    earliest = dt.datetime(2026, 11, 29, tzinfo=UTC)

    assert delivery_hourly_counts(since=earliest) == counted_directly()
    assert delivery_hourly_counts(project=project, since=earliest) == counted_directly(project=project)
    for webhook in (week["ok"], week["down"], week["elsewhere"]):
        assert delivery_hourly_counts(webhook_id=webhook.pk, since=earliest) == counted_directly(webhook=webhook)


# Counted when final, once


NOW = dt.datetime(2026, 12, 3, 10, 15, tzinfo=UTC)
HOUR = dt.datetime(2026, 12, 3, 10, 0, tzinfo=UTC)


def test_a_success_is_counted_in_the_hour_it_was_created(httpserver: HTTPServer, make_webhook, end_user, project, clock):
    httpserver.expect_request("/ok", method="POST").respond_with_json({"ok": True})
    webhook = make_webhook(httpserver.url_for("/ok"))

    with clock(NOW):
        delivery = sending.send_test(webhook=webhook, end_user=end_user, data={"text": "Hi"})

    assert delivery.status == Delivery.Status.SUCCESS
    assert rows() == [(project.pk, webhook.pk, HOUR, 1, 0)]


def test_a_failure_after_retries_is_counted_once_when_final_in_the_hour_it_was_created(
    httpserver: HTTPServer, make_webhook, end_user, project, clock
):
    httpserver.expect_request("/down", method="POST").respond_with_data("down", status=503)
    webhook = make_webhook(httpserver.url_for("/down"), max_attempts=3)
    with clock(NOW):
        (delivery_id,) = sending.send_to_users(
            webhook=webhook, user_ids=["u-1001"], data={"text": "Hi"}, source="api"
        ).delivery_ids
        sending.deliver(delivery_id=delivery_id)

    for attempt in (2, 3):
        waiting = Delivery.objects.get(pk=delivery_id)
        assert (waiting.status, waiting.attempt_count) == (Delivery.Status.PENDING, attempt - 1)
        assert rows() == []  # a retry is not an outcome yet
        assert waiting.next_attempt_at is not None
        # The retry happens in a later hour; the count stays with the hour of creation.
        with clock(waiting.next_attempt_at + dt.timedelta(hours=1)):
            sending.deliver(delivery_id=delivery_id)

    final = Delivery.objects.get(pk=delivery_id)
    assert (final.status, final.attempt_count, final.failure_reason) == (Delivery.Status.FAILURE, 3, "http_error")
    assert len(httpserver.log) == 3
    assert rows() == [(project.pk, webhook.pk, HOUR, 0, 1)]
    sending.deliver(delivery_id=delivery_id)  # a final delivery is not sent, nor counted, again
    assert rows() == [(project.pk, webhook.pk, HOUR, 0, 1)]


def test_failures_before_sending_are_counted(httpserver: HTTPServer, make_webhook, end_user, project, clock):
    webhook = make_webhook(httpserver.url_for("/never"))
    no_phone, _ = end_user_put(project=project, user_id="u-3003", attributes={}, tags={})
    origin = history_services.JourneyOrigin(journey_id=7, journey_name="Welcome", node_key="sms")

    with clock(NOW):
        render_error = sending.send_test(webhook=webhook, end_user=no_phone, data={"text": "Hi"})
        journey_failure = sending.fail_for_journey(
            webhook=webhook, end_user=end_user, origin=origin, reason="render_error", message="Missing: coupon."
        )

    assert (render_error.status, render_error.failure_reason) == (Delivery.Status.FAILURE, "render_error")
    assert (journey_failure.status, journey_failure.failure_reason) == (Delivery.Status.FAILURE, "render_error")
    assert httpserver.log == []
    assert rows() == [(project.pk, webhook.pk, HOUR, 0, 2)]
    # Failing it again changes nothing: it is already final.
    history_services.delivery_fail_before_sending(delivery=journey_failure, reason="render_error", message="again", now=NOW)
    assert rows() == [(project.pk, webhook.pk, HOUR, 0, 2)]


def test_cancelled_deliveries_are_counted_as_failures_and_a_deleted_webhook_keeps_its_counts(
    httpserver: HTTPServer, make_webhook, end_user, project, clock
):
    httpserver.expect_request("/ok", method="POST").respond_with_json({"ok": True})
    webhook = make_webhook(httpserver.url_for("/ok"))
    other = make_webhook(httpserver.url_for("/ok"), name="Other SMS")
    with clock(NOW):
        sending.send_test(webhook=webhook, end_user=end_user, data={"text": "Hi"})
        waiting = sending.send_to_users(webhook=webhook, user_ids=["u-1001"], data={"text": "Hi"}, source="api").delivery_ids
    with clock(NOW + dt.timedelta(hours=2)):
        later = sending.send_to_users(webhook=webhook, user_ids=["u-1001"], data={"text": "Hi"}, source="api").delivery_ids
        untouched = sending.send_to_users(webhook=other, user_ids=["u-1001"], data={"text": "Hi"}, source="api").delivery_ids
    assert Delivery.objects.filter(status=Delivery.Status.PENDING).count() == 3
    webhook_id = webhook.pk

    webhook_delete(webhook=webhook)

    cancelled = Delivery.objects.filter(pk__in=[*waiting, *later])
    assert sorted(cancelled.values_list("status", "failure_reason", "webhook_id")) == [("failure", "cancelled", None)] * 2
    assert Delivery.objects.get(pk=untouched[0]).status == Delivery.Status.PENDING
    assert rows() == [
        (project.pk, webhook_id, HOUR, 1, 1),
        (project.pk, webhook_id, HOUR + dt.timedelta(hours=2), 0, 1),
    ]
    # The deliveries lost their webhook; the chart of all webhooks still counts them.
    assert delivery_hourly_counts(since=HOUR) == [
        HourlyCount(hour=HOUR, success=1, failure=1),
        HourlyCount(hour=HOUR + dt.timedelta(hours=2), success=0, failure=1),
    ]
    assert delivery_hourly_counts(since=HOUR) == counted_directly()


def test_deactivating_cancels_and_counts_only_what_waited(httpserver: HTTPServer, make_webhook, end_user, project, clock):
    httpserver.expect_request("/ok", method="POST").respond_with_json({"ok": True})
    webhook = make_webhook(httpserver.url_for("/ok"))
    with clock(NOW):
        sending.send_to_users(webhook=webhook, user_ids=["u-1001"], data={"text": "Hi"}, source="api")
        sending.send_test(webhook=webhook, end_user=end_user, data={"text": "Hi"})

        webhook_update(webhook=webhook, values={"is_active": False})
        webhook_update(webhook=webhook, values={"is_active": False})  # already inactive: nothing more to cancel

    assert sorted(Delivery.objects.values_list("status", "failure_reason")) == [("failure", "cancelled"), ("success", "")]
    assert rows() == [(project.pk, webhook.pk, HOUR, 1, 1)]


def test_a_delivery_without_a_webhook_is_counted_under_webhook_zero(project, clock):
    with clock(NOW):
        delivery = Delivery.objects.create(project=project, webhook_name="Gone", user_id="u-1", source="api")
        history_services.delivery_fail_before_sending(delivery=delivery, reason="render_error", message="x", now=NOW)

    assert rows() == [(project.pk, DeliveryHourlyCount.NO_WEBHOOK, HOUR, 0, 1)]


# Rebuilt from the deliveries, and filled by the migration


def test_a_rebuild_recounts_exactly_what_the_services_counted(week):
    counted = rows()
    DeliveryHourlyCount.objects.update(success=99)

    assert history_services.delivery_hourly_counts_rebuild() == 5
    assert rows() == counted


@pytest.mark.django_db(transaction=True)
def test_the_migration_counts_the_deliveries_finished_before_the_upgrade(project, other_project):
    executor = MigrationExecutor(connection)
    executor.migrate([("history", "0007_delivery_hourly_count")])
    made = [
        (project, None, dt.datetime(2026, 11, 30, 14, 0, tzinfo=UTC), "success"),
        (project, None, dt.datetime(2026, 11, 30, 14, 59, 59, 999999, tzinfo=UTC), "failure"),
        (project, None, dt.datetime(2026, 11, 30, 15, 0, tzinfo=UTC), "success"),
        (other_project, None, dt.datetime(2026, 11, 30, 14, 30, tzinfo=UTC), "success"),
        (project, None, dt.datetime(2026, 11, 30, 14, 30, tzinfo=UTC), "pending"),
    ]
    for owner, webhook, moment, status in made:
        delivery = Delivery.objects.create(
            project=owner, webhook=webhook, webhook_name="SMS", user_id="u-1", source="api", status=status
        )
        Delivery.objects.filter(pk=delivery.pk).update(created_at=moment)

    try:
        executor = MigrationExecutor(connection)
        executor.migrate([("history", "0008_fill_delivery_hourly_counts")])
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())

    assert rows() == [
        (project.pk, 0, dt.datetime(2026, 11, 30, 14, 0, tzinfo=UTC), 1, 1),
        (other_project.pk, 0, dt.datetime(2026, 11, 30, 14, 0, tzinfo=UTC), 1, 0),
        (project.pk, 0, dt.datetime(2026, 11, 30, 15, 0, tzinfo=UTC), 1, 0),
    ]
    assert delivery_hourly_counts(since=SINCE) == counted_directly()


def test_the_counts_read_no_delivery(week, django_assert_num_queries):
    with django_assert_num_queries(1) as captured:
        delivery_hourly_counts(since=SINCE)

    assert "history_delivery" not in captured.captured_queries[0]["sql"].replace("history_deliveryhourlycount", "")
