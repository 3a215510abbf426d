"""Reads of the send history."""

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet, Sum

from flarelane.audience.models import Project
from history.charts import HourlyCount
from history.models import Delivery, DeliveryHourlyCount, SendBatch


@dataclass(frozen=True)
class DeliveryFilters:
    status: str = ""
    webhook_id: int | None = None
    user_id: str = ""
    source: str = ""
    failure_reason: str = ""
    journey_id: int | None = None
    created_after: dt.datetime | None = None
    created_before: dt.datetime | None = None


def delivery_list(*, project: Project, filters: DeliveryFilters | None = None) -> QuerySet[Delivery]:
    filters = filters or DeliveryFilters()
    deliveries = Delivery.objects.filter(project=project)
    if filters.status:
        deliveries = deliveries.filter(status=filters.status)
    if filters.webhook_id is not None:
        deliveries = deliveries.filter(webhook_id=filters.webhook_id)
    if filters.user_id:
        deliveries = deliveries.filter(user_id=filters.user_id)
    if filters.source:
        deliveries = deliveries.filter(source=filters.source)
    if filters.failure_reason:
        deliveries = deliveries.filter(failure_reason=filters.failure_reason)
    if filters.journey_id is not None:
        deliveries = deliveries.filter(journey_id=filters.journey_id)
    if filters.created_after:
        deliveries = deliveries.filter(created_at__gte=filters.created_after)
    if filters.created_before:
        deliveries = deliveries.filter(created_at__lt=filters.created_before)
    return deliveries.order_by("-created_at", "-id")


def delivery_get(*, project: Project, delivery_id: uuid.UUID | str) -> Delivery | None:
    return Delivery.objects.filter(project=project, pk=delivery_id).select_related("webhook").prefetch_related("attempts").first()


def delivery_ids_due(*, now: dt.datetime, limit: int) -> list[uuid.UUID]:
    """Deliveries waiting for a retry that is due, or held by a worker whose lease ran out."""
    due = Q(status=Delivery.Status.PENDING, next_attempt_at__lte=now) | Q(
        status=Delivery.Status.SENDING, lease_expires_at__lt=now
    )
    return list(Delivery.objects.filter(due).order_by("next_attempt_at").values_list("pk", flat=True)[:limit])


def delivery_ids_stranded(*, created_before: dt.datetime, limit: int) -> list[uuid.UUID]:
    """Pending deliveries never attempted, older than a task could take to start: their task was lost."""
    return list(
        Delivery.objects.filter(
            status=Delivery.Status.PENDING, next_attempt_at__isnull=True, created_at__lt=created_before
        ).values_list("pk", flat=True)[:limit]
    )


@dataclass(frozen=True)
class SendProgress:
    batch_id: uuid.UUID
    webhook_name: str
    total: int
    success: int
    failure: int
    pending: int
    created_at: dt.datetime
    cancelled_at: dt.datetime | None = None
    cancelled: int = 0  # of the failures, those cancelled before they were sent

    @property
    def done(self) -> int:
        return self.success + self.failure


def send_progress(*, batch: SendBatch) -> SendProgress:
    """Done of total for a send to many users, in one grouped count over its deliveries."""
    counts = dict(batch.deliveries.values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
    cancelled = 0
    if batch.cancelled_at is not None or counts.get(Delivery.Status.FAILURE):
        cancelled = batch.deliveries.filter(
            status=Delivery.Status.FAILURE, failure_reason=Delivery.FailureReason.CANCELLED
        ).count()
    return SendProgress(
        batch_id=batch.pk,
        webhook_name=batch.webhook_name,
        total=batch.total,
        success=counts.get(Delivery.Status.SUCCESS, 0),
        failure=counts.get(Delivery.Status.FAILURE, 0),
        pending=counts.get(Delivery.Status.PENDING, 0)
        + counts.get(Delivery.Status.SENDING, 0)
        # Users of an audience not yet given a delivery are pending too.
        + max(0, batch.total - sum(counts.values())) * (batch.cancelled_at is None),
        created_at=batch.created_at,
        cancelled_at=batch.cancelled_at,
        cancelled=cancelled,
    )


def send_batch_get(*, project: Project, batch_id: uuid.UUID | str) -> SendBatch | None:
    return SendBatch.objects.filter(project=project, pk=batch_id).first()


def send_ids_cancelled(*, batch_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these sends were cancelled (one indexed lookup by primary key)."""
    return set(SendBatch.objects.filter(pk__in=list(batch_ids), cancelled_at__isnull=False).values_list("pk", flat=True))


def send_progress_recent(*, webhook_id: int, limit: int = 5) -> list[SendProgress]:
    return [send_progress(batch=batch) for batch in SendBatch.objects.filter(webhook_id=webhook_id)[:limit]]


def delivery_hourly_counts(
    *, project: Project | None = None, webhook_id: int | None = None, since: dt.datetime
) -> list[HourlyCount]:
    """Finished deliveries per UTC hour of creation, from the hour `since` falls in onwards.

    Read from the hourly counts the services keep (a few rows per hour and webhook), never
    from the deliveries. Hours without a finished delivery are absent; pending and sending
    ones are not counted, since they have no outcome yet. A deleted webhook's counts stay
    under its former id, and in the total.
    """
    counts = DeliveryHourlyCount.objects.filter(hour__gte=since.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0))
    if project is not None:
        counts = counts.filter(project=project)
    if webhook_id is not None:
        counts = counts.filter(webhook_id=webhook_id)
    rows = counts.values("hour").annotate(success=Sum("success"), failure=Sum("failure")).order_by("hour")
    return [HourlyCount(hour=row["hour"], success=row["success"], failure=row["failure"]) for row in rows]
