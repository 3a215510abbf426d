"""HISTORY_RETENTION_DAYS: old final deliveries and their attempts go, in short batches."""

import datetime as dt

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.models import Schedule

from history.models import Delivery, DeliveryAttempt, DeliveryHourlyCount
from history.services import deliveries_prune
from history.tasks import prune_history

NOW = timezone.now()


def _delivery(project, *, age_days: float, status: str = Delivery.Status.SUCCESS, attempts: int = 1) -> Delivery:
    delivery = Delivery.objects.create(
        project=project, webhook_name="SMS", user_id="u-1", source=Delivery.Source.API, status=status, attempt_count=attempts
    )
    created_at = NOW - dt.timedelta(days=age_days)
    Delivery.objects.filter(pk=delivery.pk).update(created_at=created_at)
    for number in range(1, attempts + 1):
        DeliveryAttempt.objects.create(delivery=delivery, number=number, started_at=created_at, duration_ms=5, outcome="success")
    return delivery


def test_prune_deletes_old_final_deliveries_and_their_attempts_in_batches(project):
    old = [_delivery(project, age_days=40, attempts=2) for _ in range(4)] + [
        _delivery(project, age_days=31, status=Delivery.Status.FAILURE)
    ]
    recent = [_delivery(project, age_days=29), _delivery(project, age_days=0)]
    waiting = _delivery(project, age_days=40, status=Delivery.Status.PENDING, attempts=0)

    with CaptureQueriesContext(connection) as queries:
        deleted = deliveries_prune(older_than=NOW - dt.timedelta(days=30), batch_size=2)

    assert deleted == 5
    assert set(Delivery.objects.values_list("pk", flat=True)) == {d.pk for d in [*recent, waiting]}
    assert DeliveryAttempt.objects.filter(delivery__in=old).count() == 0
    assert DeliveryAttempt.objects.count() == 2  # the recent deliveries' own
    delivery_deletes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('DELETE FROM "history_delivery"')]
    assert len(delivery_deletes) == 3  # one per batch: 2 + 2 + 1


def test_prune_with_nothing_old_deletes_nothing(project):
    kept = _delivery(project, age_days=1)

    assert deliveries_prune(older_than=NOW - dt.timedelta(days=30), batch_size=1000) == 0
    assert list(Delivery.objects.values_list("pk", flat=True)) == [kept.pk]


def test_the_scheduled_task_keeps_history_retention_days(settings, project):
    settings.HISTORY_RETENTION_DAYS = 7
    _delivery(project, age_days=8)
    kept = _delivery(project, age_days=6)

    assert prune_history() == 1
    assert list(Delivery.objects.values_list("pk", flat=True)) == [kept.pk]
    schedule = Schedule.objects.get(func="history.tasks.prune_history")
    assert (schedule.schedule_type, schedule.repeats) == (Schedule.HOURLY, -1)


def test_retention_of_zero_keeps_everything(settings, project):
    settings.HISTORY_RETENTION_DAYS = 0
    ancient = _delivery(project, age_days=3650)

    assert prune_history() == 0
    assert list(Delivery.objects.values_list("pk", flat=True)) == [ancient.pk]
    assert DeliveryAttempt.objects.count() == 1


def test_prune_deletes_the_hourly_counts_of_hours_wholly_before_the_retention_window(project):
    older_than = dt.datetime(2026, 11, 3, 10, 30, tzinfo=dt.UTC)
    hours = [dt.datetime(2026, 11, 3, hour, 0, tzinfo=dt.UTC) for hour in (8, 9, 10, 11)]
    DeliveryHourlyCount.objects.bulk_create(
        DeliveryHourlyCount(project=project, webhook_id=4, hour=hour, success=index, failure=1)
        for index, hour in enumerate(hours)
    )

    deliveries_prune(older_than=older_than, batch_size=1000)

    # 10:00 stays: its deliveries from 10:30 on are kept, and the chart still counts them.
    assert list(DeliveryHourlyCount.objects.order_by("hour").values_list("hour", "success", "failure")) == [
        (hours[2], 2, 1),
        (hours[3], 3, 1),
    ]
