"""Reads of the send history."""

import datetime as dt
import uuid
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from flarelane.audience.models import Project
from history.models import Delivery


@dataclass(frozen=True)
class DeliveryFilters:
    status: str = ""
    webhook_id: int | None = None
    user_id: str = ""
    source: str = ""
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
