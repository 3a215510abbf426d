"""The only writer of Delivery and DeliveryAttempt rows.

A delivery moves pending → sending → success | failure, or back to pending with a
`next_attempt_at` when an attempt will be retried. Moving to `sending` is a conditional
UPDATE (a claim with a lease), so two workers handed the same delivery cannot both send it,
and a worker that dies mid-send leaves a lease that expires and lets the sweeper retry.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F, Q

from channels_webhook.models import Webhook
from flarelane.audience.models import EndUser, Project
from flarelane.sealing import seal
from history.models import Delivery, DeliveryAttempt, SendBatch

MAX_ERROR_MESSAGE_LENGTH = 2000


@dataclass(frozen=True)
class Recipient:
    user_id: str
    end_user: EndUser | None


@dataclass(frozen=True)
class JourneyOrigin:
    journey_id: int
    journey_name: str
    node_key: str
    entry_event: dict[str, object] | None = None


@dataclass(frozen=True)
class StoredRequest:
    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    masked_headers: tuple[tuple[str, str], ...]
    body: str


@dataclass(frozen=True)
class AttemptRecord:
    """One HTTP attempt, as the sending service saw it."""

    started_at: dt.datetime
    duration_ms: int
    outcome: str
    status_code: int | None
    response_headers: tuple[tuple[str, str], ...]
    response_body: bytes
    response_body_truncated: bool
    verdict: str  # success | failure | retry
    failure_reason: str
    message: str
    next_attempt_at: dt.datetime | None


def send_batch_create(
    *,
    project: Project,
    webhook: Webhook,
    source: str,
    total: int,
    created_by_id: int | None,
    audience: dict[str, object] | None = None,
    data: dict[str, object] | None = None,
) -> SendBatch:
    return SendBatch.objects.create(
        project=project,
        webhook=webhook,
        webhook_name=webhook.name,
        source=source,
        total=total,
        created_by_id=created_by_id,
        audience=audience,
        data=data or {},
        fan_out_done=audience is None,
    )


@transaction.atomic
def send_batch_fan_out_chunk(
    *, batch: SendBatch, recipients: Sequence[tuple[int, Recipient]], max_attempts: int
) -> list[Delivery]:
    """Create the deliveries of the next chunk of an audience and move the batch's cursor past
    it, in one transaction: a chunk is created once, whatever happens to the task."""
    if not recipients:
        SendBatch.objects.filter(pk=batch.pk).update(fan_out_done=True)
        return []
    moved = SendBatch.objects.filter(
        pk=batch.pk, fanned_out_to_user_pk=batch.fanned_out_to_user_pk, cancelled_at__isnull=True
    ).update(fanned_out_to_user_pk=recipients[-1][0])
    if not moved:
        return []  # another run of the task took this chunk, or the send was cancelled
    assert batch.webhook is not None
    deliveries = delivery_create_many(
        project=batch.project,
        webhook=batch.webhook,
        recipients=[recipient for _, recipient in recipients],
        data=batch.data,
        source=batch.source,
        max_attempts=max_attempts,
        created_by_id=batch.created_by_id,
        batch=batch,
    )
    batch.fanned_out_to_user_pk = recipients[-1][0]
    return deliveries


@transaction.atomic
def send_batch_cancel(*, batch: SendBatch, now: dt.datetime) -> int:
    """Stop a send: no more deliveries are created, and the waiting ones end as cancelled."""
    SendBatch.objects.filter(pk=batch.pk, cancelled_at__isnull=True).update(cancelled_at=now)
    return Delivery.objects.filter(batch=batch, status=Delivery.Status.PENDING).update(
        status=Delivery.Status.FAILURE,
        failure_reason=Delivery.FailureReason.CANCELLED,
        error_message="Cancelled: the send was cancelled before this was sent.",
        next_attempt_at=None,
        completed_at=now,
        updated_at=now,
    )


def delivery_create_many(
    *,
    project: Project,
    webhook: Webhook,
    recipients: Sequence[Recipient],
    data: dict[str, object],
    source: str,
    max_attempts: int,
    created_by_id: int | None = None,
    journey: JourneyOrigin | None = None,
    batch: SendBatch | None = None,
) -> list[Delivery]:
    deliveries = [
        Delivery(
            project=project,
            webhook=webhook,
            webhook_name=webhook.name,
            end_user=recipient.end_user,
            user_id=recipient.user_id,
            source=source,
            data=data,
            max_attempts=max_attempts,
            created_by_id=created_by_id,
            journey_id=journey.journey_id if journey else None,
            journey_name=journey.journey_name if journey else "",
            journey_node_key=journey.node_key if journey else "",
            entry_event=journey.entry_event if journey else None,
            batch=batch,
        )
        for recipient in recipients
    ]
    return Delivery.objects.bulk_create(deliveries, batch_size=500)


def _claimable(now: dt.datetime) -> Q:
    due = Q(status=Delivery.Status.PENDING) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
    abandoned = Q(status=Delivery.Status.SENDING, lease_expires_at__lt=now)
    return due | abandoned


def delivery_claim(*, delivery_id: uuid.UUID | str, now: dt.datetime, lease_seconds: int) -> Delivery | None:
    """Take a due delivery for sending; None when it is final, not due, or held by another worker."""
    lease = now + dt.timedelta(seconds=lease_seconds)
    claimed = Delivery.objects.filter(Q(pk=delivery_id) & _claimable(now)).update(
        status=Delivery.Status.SENDING, lease_expires_at=lease, updated_at=now
    )
    if not claimed:
        return None
    return Delivery.objects.select_related("webhook", "end_user", "project").get(pk=delivery_id)


def delivery_store_request(*, delivery: Delivery, request: StoredRequest) -> None:
    """Fix the request's bytes on first render; every retry sends these."""
    masked = [list(pair) for pair in request.masked_headers]
    sealed = seal(json.dumps([list(pair) for pair in request.headers])) if request.masked_headers != request.headers else ""
    Delivery.objects.filter(pk=delivery.pk).update(
        request_method=request.method,
        request_url=request.url,
        request_headers=masked,
        request_headers_sealed=sealed,
        request_body=request.body,
    )
    delivery.request_method, delivery.request_url = request.method, request.url
    delivery.request_headers, delivery.request_headers_sealed, delivery.request_body = masked, sealed, request.body


def deliveries_cancel_pending(*, webhook_id: int, message: str, now: dt.datetime) -> int:
    """End every delivery of a webhook that is still waiting (queued or for a retry)."""
    return Delivery.objects.filter(webhook_id=webhook_id, status=Delivery.Status.PENDING).update(
        status=Delivery.Status.FAILURE,
        failure_reason=Delivery.FailureReason.CANCELLED,
        error_message=message,
        next_attempt_at=None,
        completed_at=now,
        updated_at=now,
    )


def delivery_fail_before_sending(*, delivery: Delivery, reason: str, message: str, now: dt.datetime) -> None:
    """Nothing was sent (render error, invalid request): final, with no attempt row."""
    Delivery.objects.filter(pk=delivery.pk, lease_expires_at=delivery.lease_expires_at).update(
        status=Delivery.Status.FAILURE,
        failure_reason=reason,
        error_message=message[:MAX_ERROR_MESSAGE_LENGTH],
        lease_expires_at=None,
        next_attempt_at=None,
        completed_at=now,
        updated_at=now,
    )


def _stored_body(body: bytes) -> tuple[str, bool]:
    """Text when the body is UTF-8 (without NUL, which PostgreSQL text refuses), else base64."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), True
    if "\x00" in text:
        return base64.b64encode(body).decode("ascii"), True
    return text, False


@transaction.atomic
def delivery_record_attempt(*, delivery: Delivery, attempt: AttemptRecord, now: dt.datetime) -> bool:
    """Record an attempt and move the delivery on. False when the lease was lost meanwhile."""
    body_text, is_base64 = _stored_body(attempt.response_body)
    final = attempt.verdict in ("success", "failure")
    status = {"success": Delivery.Status.SUCCESS, "failure": Delivery.Status.FAILURE}.get(
        attempt.verdict, Delivery.Status.PENDING
    )
    updated = Delivery.objects.filter(
        pk=delivery.pk, status=Delivery.Status.SENDING, lease_expires_at=delivery.lease_expires_at
    ).update(
        status=status,
        failure_reason="" if attempt.verdict == "success" else attempt.failure_reason,
        error_message=attempt.message[:MAX_ERROR_MESSAGE_LENGTH],
        response_status_code=attempt.status_code,
        response_headers=[list(pair) for pair in attempt.response_headers],
        response_body=body_text,
        response_body_is_base64=is_base64,
        response_body_truncated=attempt.response_body_truncated,
        duration_ms=attempt.duration_ms,
        attempt_count=F("attempt_count") + 1,
        next_attempt_at=attempt.next_attempt_at,
        lease_expires_at=None,
        completed_at=now if final else None,
        updated_at=now,
    )
    if not updated:
        return False
    DeliveryAttempt.objects.create(
        delivery_id=delivery.pk,
        number=delivery.attempt_count + 1,
        started_at=attempt.started_at,
        duration_ms=attempt.duration_ms,
        outcome=attempt.outcome,
        status_code=attempt.status_code,
        failure_reason="" if attempt.verdict == "success" else attempt.failure_reason,
        error_message=attempt.message[:MAX_ERROR_MESSAGE_LENGTH],
        next_attempt_at=attempt.next_attempt_at,
    )
    return True


def delivery_create_resend(
    *, original: Delivery, delivery_id: uuid.UUID, request: StoredRequest | None, created_by_id: int | None
) -> Delivery:
    """A new pending delivery sending `request` (the original's, as the caller adjusted it).

    With no request (the original was never rendered) the new delivery renders afresh.
    """
    delivery = Delivery.objects.create(
        id=delivery_id,
        project_id=original.project_id,
        webhook_id=original.webhook_id,
        webhook_name=original.webhook_name,
        end_user_id=original.end_user_id,
        user_id=original.user_id,
        source=Delivery.Source.RESEND,
        journey_id=original.journey_id,
        journey_name=original.journey_name,
        journey_node_key=original.journey_node_key,
        data=original.data,
        max_attempts=original.webhook.max_attempts if original.webhook else 1,
        resent_from=original,
        created_by_id=created_by_id,
    )
    if request is not None:
        delivery_store_request(delivery=delivery, request=request)
    return delivery
