"""Deliveries per hour for the chart: one grouped query, exact counts per UTC hour."""

import datetime as dt

import pytest
from pytest_httpserver import HTTPServer

from channels_webhook.sending import send_test, send_to_users
from flarelane.audience.services import end_user_put
from history.models import Delivery
from history.selectors import HourlyCount, delivery_hourly_counts

pytestmark = pytest.mark.django_db

UTC = dt.UTC
SINCE = dt.datetime(2026, 11, 30, 0, 0, tzinfo=UTC)


def _at(delivery: Delivery, moment: dt.datetime) -> Delivery:
    Delivery.objects.filter(pk=delivery.pk).update(created_at=moment)
    return delivery


@pytest.fixture
def week(httpserver: HTTPServer, make_webhook, end_user, other_project) -> dict[str, object]:
    httpserver.expect_request("/ok", method="POST").respond_with_json({"ok": True})
    httpserver.expect_request("/down", method="POST").respond_with_data("down", status=500)
    ok = make_webhook(httpserver.url_for("/ok"))
    down = make_webhook(httpserver.url_for("/down"), name="Down SMS")
    elsewhere = make_webhook(httpserver.url_for("/ok"), name="Globex SMS", project=other_project)
    elsewhere_user, _ = end_user_put(project=other_project, user_id="g-1", attributes={}, tags={"phone_number": "010"})

    def send(webhook, user=end_user):
        return send_test(webhook=webhook, end_user=user, data={"text": "Hi"})

    # 14:00 on Nov 30: two successes (first and last moment of the hour) and one failure.
    _at(send(ok), dt.datetime(2026, 11, 30, 14, 0, 0, tzinfo=UTC))
    _at(send(ok), dt.datetime(2026, 11, 30, 14, 59, 59, 999999, tzinfo=UTC))
    _at(send(down), dt.datetime(2026, 11, 30, 14, 30, tzinfo=UTC))
    # Midnight Dec 1 exactly: a failure, given in another zone.
    _at(send(down), dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=9))))
    # Just before the window: not counted.
    _at(send(ok), dt.datetime(2026, 11, 29, 23, 59, 59, tzinfo=UTC))
    # Another project's success at 14:00 on Nov 30.
    _at(send(elsewhere, elsewhere_user), dt.datetime(2026, 11, 30, 14, 10, tzinfo=UTC))
    # Pending (queued, not yet sent) in the 14:00 hour: no outcome, not counted.
    queued = send_to_users(webhook=ok, user_ids=["u-1001"], data={"text": "Hi"}, source="api").delivery_ids
    Delivery.objects.filter(pk__in=queued).update(created_at=dt.datetime(2026, 11, 30, 14, 20, tzinfo=UTC))
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


def test_since_includes_its_own_moment_and_the_hours_are_aware_utc(week):
    counts = delivery_hourly_counts(since=dt.datetime(2026, 11, 29, 23, 59, 59, tzinfo=UTC))

    assert counts[0] == HourlyCount(hour=dt.datetime(2026, 11, 29, 23, 0, tzinfo=UTC), success=1, failure=0)
    assert [count.hour.utcoffset() for count in counts] == [dt.timedelta(0)] * 3


def test_one_grouped_query(week, django_assert_num_queries):
    with django_assert_num_queries(1):
        delivery_hourly_counts(since=SINCE)
