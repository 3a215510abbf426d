"""Services that send: one path for every send (test, API, resend, retry, journey).

render → check the request → SSRF guard and HTTP (transport) → judge (retry_policy) →
record (history.services). Deliveries are created first and sent by a task enqueued after
the transaction commits; test sends run the same path at once, with one attempt.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import math
import statistics
import time
import uuid
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from channels_webhook import rate_limit, retry_policy, signing, transport
from channels_webhook.models import Webhook
from channels_webhook.rendering import RenderedRequest, RenderFailed, RequestTemplate, render_context, render_request
from flarelane.audience.models import EndUser
from flarelane.audience.selectors import audience_count, audience_page, end_users_by_user_ids
from flarelane.sealing import unseal
from history import services as history
from history.models import Delivery, SendBatch
from history.selectors import delivery_ids_due, delivery_ids_stranded, send_ids_cancelled

logger = logging.getLogger(__name__)

SWEEP_BATCH_SIZE = 1000


class UnknownUsers(Exception):
    def __init__(self, user_ids: Sequence[str]) -> None:
        self.user_ids = list(user_ids)
        super().__init__(f"No such users in this project: {', '.join(self.user_ids[:20])}")


@dataclass(frozen=True)
class QueuedSend:
    send_id: str
    delivery_ids: list[str]


DELIVERIES_PER_TASK = 100
# Deliveries are claimed, sent and recorded a group at a time (the database work is per
# group, so larger groups cost fewer statements per delivery), as large as the queue's task
# timeout allows: see _group_size.
TASK_TIMEOUT_MARGIN_SECONDS = 10
MAX_TIMEOUT_SECONDS = Webhook._meta.get_field("timeout_seconds").validators[-1].limit_value  # type: ignore[attr-defined]


def _enqueue(delivery_ids: Sequence[uuid.UUID | str]) -> None:
    """Queue deliveries in chunks: one task per hundred, not one per delivery."""
    from channels_webhook.tasks import enqueue_deliveries

    ids = [str(delivery_id) for delivery_id in delivery_ids]
    for start in range(0, len(ids), DELIVERIES_PER_TASK):
        enqueue_deliveries(ids[start : start + DELIVERIES_PER_TASK])


def send_to_users(
    *, webhook: Webhook, user_ids: Sequence[str], data: dict[str, Any], source: str, created_by_id: int | None = None
) -> QueuedSend:
    """Create one pending delivery per user and enqueue them once the transaction commits."""
    unique_ids = list(dict.fromkeys(user_ids))
    users = end_users_by_user_ids(project=webhook.project, user_ids=unique_ids)
    missing = [user_id for user_id in unique_ids if user_id not in users]
    if missing:
        raise UnknownUsers(missing)
    with transaction.atomic():
        batch = history.send_batch_create(
            project=webhook.project, webhook=webhook, source=source, total=len(unique_ids), created_by_id=created_by_id
        )
        ids = history.delivery_create_many(
            project=webhook.project,
            webhook=webhook,
            recipients=[history.Recipient(user_id=user_id, end_user_id=users[user_id].pk) for user_id in unique_ids],
            data=data,
            source=source,
            max_attempts=webhook.max_attempts,
            created_by_id=created_by_id,
            batch=batch,
        )
        transaction.on_commit(lambda: _enqueue(ids))
    return QueuedSend(send_id=str(batch.pk), delivery_ids=[str(pk) for pk in ids])


FAN_OUT_CHUNK_SIZE = 1000


def send_to_audience(
    *, webhook: Webhook, audience: dict[str, Any], data: dict[str, Any], source: str, created_by_id: int | None = None
) -> SendBatch:
    """Queue a send to every user of an audience; a task creates the deliveries in chunks."""
    from channels_webhook.tasks import enqueue_fan_out

    total = audience_count(project=webhook.project, audience=audience)
    with transaction.atomic():
        batch = history.send_batch_create(
            project=webhook.project,
            webhook=webhook,
            source=source,
            total=total,
            created_by_id=created_by_id,
            audience=audience,
            data=data,
        )
        transaction.on_commit(lambda: enqueue_fan_out(str(batch.pk)))
    return batch


def fan_out(*, batch_id: uuid.UUID | str) -> int:
    """Create an audience send's deliveries chunk by chunk and queue them. Safe to run twice."""
    created = 0
    while True:
        batch = SendBatch.objects.select_related("webhook", "project").filter(pk=batch_id).first()
        if batch is None or batch.fan_out_done or batch.cancelled_at is not None or batch.webhook is None:
            return created
        users = audience_page(
            project=batch.project, audience=batch.audience or {}, after_pk=batch.fanned_out_to_user_pk, limit=FAN_OUT_CHUNK_SIZE
        )
        ids = history.send_batch_fan_out_chunk(
            batch=batch,
            recipients=[(pk, history.Recipient(user_id=user_id, end_user_id=pk)) for pk, user_id in users],
            max_attempts=batch.webhook.max_attempts,
        )
        _enqueue(ids)
        created += len(ids)


def send_test(*, webhook: Webhook, end_user: EndUser, data: dict[str, Any], created_by_id: int | None = None) -> Delivery:
    """Send now, once, and return the finished delivery (nothing is queued or retried)."""
    (delivery_id,) = history.delivery_create_many(
        project=webhook.project,
        webhook=webhook,
        recipients=[history.Recipient(user_id=end_user.user_id, end_user_id=end_user.pk)],
        data=data,
        source=Delivery.Source.TEST,
        max_attempts=1,
        created_by_id=created_by_id,
    )
    deliver(delivery_id=delivery_id)
    return Delivery.objects.get(pk=delivery_id)


def send_for_journey(*, webhook: Webhook, end_user: EndUser, data: dict[str, Any], origin: history.JourneyOrigin) -> Delivery:
    """A journey's webhook node: create the delivery and make its first attempt now.

    Retries, if any, go through the sweeper like every other send; the journey engine
    follows the delivery until it is final.
    """
    (delivery_id,) = history.delivery_create_many(
        project=webhook.project,
        webhook=webhook,
        recipients=[history.Recipient(user_id=end_user.user_id, end_user_id=end_user.pk)],
        data=data,
        source=Delivery.Source.JOURNEY,
        max_attempts=webhook.max_attempts,
        journey=origin,
    )
    deliver(delivery_id=delivery_id)
    return Delivery.objects.get(pk=delivery_id)


def fail_for_journey(
    *, webhook: Webhook, end_user: EndUser, origin: history.JourneyOrigin, reason: str, message: str
) -> Delivery:
    """A journey's webhook node whose own data could not be rendered: recorded, never sent."""
    (delivery_id,) = history.delivery_create_many(
        project=webhook.project,
        webhook=webhook,
        recipients=[history.Recipient(user_id=end_user.user_id, end_user_id=end_user.pk)],
        data={},
        source=Delivery.Source.JOURNEY,
        max_attempts=webhook.max_attempts,
        journey=origin,
    )
    delivery = Delivery.objects.get(pk=delivery_id)
    history.delivery_fail_before_sending(delivery=delivery, reason=reason, message=message, now=timezone.now())
    delivery.refresh_from_db()
    return delivery


class CannotResend(Exception):
    """A resend that could only fail again; `field` names what is missing, for the API."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


def resend(*, original: Delivery, created_by_id: int | None) -> Delivery:
    """A new delivery of the same request bytes; only its Idempotency-Key is its own, since a
    deliberate resend must not be discarded by a receiver as a duplicate of the original.

    A delivery that was never rendered renders afresh from its user and data, unless it has
    no value for a data variable (a journey node whose own data failed to render): that
    resend would fail the same way, so it is refused with the reason instead.
    """
    if original.webhook is None:
        raise CannotResend("webhook", "The webhook of this delivery was deleted; it cannot be resent.")
    missing = [name for name in original.webhook.data_variables if name not in original.data]
    if not original.request_method and missing:
        raise CannotResend(
            "data",
            f"This delivery has no value for the data variable '{missing[0]}'"
            + (" (its journey node could not render it)" if original.journey_id else "")
            + ", so a resend would fail the same way. Fix the cause, then send again"
            + (" from the journey." if original.journey_id else "."),
        )
    delivery_id = uuid.uuid4()
    request = None
    if original.request_method:

        def own_key(headers: Sequence[Sequence[str]]) -> tuple[tuple[str, str], ...]:
            return tuple(
                (name, str(delivery_id) if name.lower() == "idempotency-key" and value == str(original.pk) else value)
                for name, value in headers
            )

        request = history.StoredRequest(
            method=original.request_method,
            url=original.request_url,
            headers=own_key(_request_to_send(original).headers),
            masked_headers=own_key(original.request_headers),
            body=original.request_body,
        )
    with transaction.atomic():
        delivery = history.delivery_create_resend(
            original=original, delivery_id=delivery_id, request=request, created_by_id=created_by_id
        )
        transaction.on_commit(lambda: _enqueue([delivery.pk]))
    return delivery


PREVIEW_DELIVERY_ID = "(the delivery id)"


def preview(*, webhook: Webhook, end_user: EndUser, data: dict[str, Any]) -> RenderedRequest:
    """Render without sending, with the headers the product adds. Raises RenderFailed."""
    rendered = render_request(
        webhook.request_template(), user_context(end_user=end_user, data=data, delivery_id=PREVIEW_DELIVERY_ID)
    )
    return _with_product_headers(rendered, webhook, PREVIEW_DELIVERY_ID)


def _with_product_headers(rendered: RenderedRequest, webhook: Webhook, delivery_id: str) -> RenderedRequest:
    """Add the headers the product sends unless the webhook sets them itself."""
    present = {name.lower() for name, _ in rendered.headers}
    added: list[tuple[str, str]] = []
    if "user-agent" not in present:
        added.append(("User-Agent", settings.WEBHOOK_USER_AGENT))
    if webhook.send_idempotency_key and "idempotency-key" not in present:
        added.append(("Idempotency-Key", delivery_id))
    return dataclasses.replace(rendered, headers=(*rendered.headers, *added))


def user_context(
    *,
    end_user: EndUser,
    data: dict[str, Any],
    delivery_id: str,
    entry_event: dict[str, Any] | None = None,
    journey: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The Liquid context of DESIGN.md for one user (and, in a journey, its event and journey)."""
    return render_context(
        user_id=end_user.user_id,
        attributes={
            "email": end_user.email,
            "phoneNumber": end_user.phone_number,
            "name": end_user.name,
            "country": end_user.country,
            "language": end_user.language,
            "timeZone": end_user.time_zone,
        },
        tags=end_user.tags or {},
        data=data,
        delivery_id=delivery_id,
        entry_event=entry_event,
        journey=journey,
    )


def _request_to_send(delivery: Delivery) -> transport.OutgoingRequest:
    """The stored request of a delivery: the same bytes on every attempt."""
    headers = json.loads(unseal(delivery.request_headers_sealed)) if delivery.request_headers_sealed else delivery.request_headers
    return transport.OutgoingRequest(
        method=delivery.request_method,
        url=delivery.request_url,
        headers=tuple((name, value) for name, value in headers),
        body=delivery.request_body.encode("utf-8"),
    )


@dataclass
class _Prepared:
    """A claimed delivery made ready: the request to send, or why nothing may be sent."""

    delivery: Delivery
    request: transport.OutgoingRequest | None = None
    stored: history.StoredRequest | None = None  # rendered now, for the first time
    failure_reason: str = ""
    failure_message: str = ""

    def outcome(self, attempt: history.AttemptRecord | None) -> history.DeliveryOutcome:
        return history.DeliveryOutcome(
            delivery=self.delivery,
            request=self.stored,
            attempt=attempt,
            failure_reason=self.failure_reason,
            failure_message=self.failure_message,
        )


def _prepare(delivery: Delivery, templates: dict[int, RequestTemplate]) -> _Prepared:
    """Render the request once (later attempts reuse the stored bytes) or say why not."""
    stopped = _stopped_webhook_message(delivery)
    if stopped:
        return _Prepared(delivery, failure_reason="cancelled", failure_message=stopped)
    if delivery.request_method:
        return _Prepared(delivery, request=_request_to_send(delivery))
    webhook, end_user = delivery.webhook, delivery.end_user
    assert webhook is not None
    if end_user is None:
        return _Prepared(
            delivery, failure_reason="render_error", failure_message="The user was deleted before the delivery was sent."
        )
    if webhook.pk not in templates:  # secret headers are decrypted once per webhook, not per user
        templates[webhook.pk] = webhook.request_template()
    try:
        rendered = render_request(
            templates[webhook.pk],
            user_context(
                end_user=end_user,
                data=delivery.data,
                delivery_id=str(delivery.pk),
                entry_event=delivery.entry_event,
                journey={"id": delivery.journey_id, "name": delivery.journey_name} if delivery.journey_id else None,
            ),
        )
    except RenderFailed as failed:
        return _Prepared(delivery, failure_reason=failed.reason, failure_message=failed.message)
    # Headers the product adds are part of the stored request, so history shows what went
    # out and every retry sends them unchanged.
    rendered = _with_product_headers(rendered, webhook, str(delivery.pk))
    stored = history.StoredRequest(
        method=rendered.method,
        url=rendered.url,
        headers=rendered.headers,
        masked_headers=tuple(rendered.masked_headers()),
        body=rendered.body_text(),
    )
    request = transport.OutgoingRequest(method=rendered.method, url=rendered.url, headers=rendered.headers, body=rendered.body)
    return _Prepared(delivery, request=request, stored=stored)


def _signature_headers(
    request: transport.OutgoingRequest, webhook: Webhook, delivery_id: str, now: dt.datetime
) -> tuple[tuple[str, str], ...]:
    """Standard Webhooks signature headers, fresh for each attempt (they carry its time)."""
    secrets = [unseal(sealed) for sealed in webhook.signing_secrets[:1]]
    expires = webhook.previous_signing_secret_expires_at
    if len(webhook.signing_secrets) > 1 and expires is not None and expires > now:
        secrets.append(unseal(webhook.signing_secrets[1]))
    return tuple(
        signing.signature_headers(
            message_id=delivery_id, timestamp=int(now.timestamp()), body=request.body, secrets_newest_first=secrets
        )
    )


def _stopped_webhook_message(delivery: Delivery) -> str:
    """Why a delivery may no longer be sent, or "" (test sends may try an inactive webhook)."""
    if delivery.webhook is None:
        return "Cancelled: the webhook was deleted before this was sent."
    if not delivery.webhook.is_active and delivery.source != Delivery.Source.TEST:
        return "Cancelled: the webhook was deactivated before this was sent."
    return ""


def _attempt(prepared: _Prepared) -> history.AttemptRecord:
    """One HTTP attempt, judged. Safe in a worker thread: it does not touch the database."""
    delivery, webhook = prepared.delivery, prepared.delivery.webhook
    assert prepared.request is not None and webhook is not None
    request = prepared.request
    attempt_headers: tuple[tuple[str, str], ...] = ()
    if webhook.is_signed:
        attempt_headers = _signature_headers(request, webhook, str(delivery.pk), timezone.now())
        request = dataclasses.replace(request, headers=(*request.headers, *attempt_headers))
    result = transport.send(
        request,
        timeout_seconds=webhook.timeout_seconds,
        body_limit=settings.HISTORY_RESPONSE_BODY_LIMIT,
        allowed_networks=tuple(settings.WEBHOOK_ALLOWED_NETWORKS),
        user_agent=settings.WEBHOOK_USER_AGENT,
    )
    finished = timezone.now()
    decision = retry_policy.decide(
        outcome=result.outcome,
        status_code=result.status_code,
        headers={name.lower(): value for name, value in result.headers},
        error=result.error,
        attempt_number=delivery.attempt_count + 1,
        max_attempts=delivery.max_attempts,
        now=finished,
    )
    return history.AttemptRecord(
        started_at=result.started_at,
        duration_ms=result.duration_ms,
        outcome=result.outcome,
        status_code=result.status_code,
        response_headers=result.headers,
        response_body=result.body,
        response_body_truncated=result.body_truncated,
        verdict=decision.verdict,
        failure_reason=decision.failure_reason,
        message=decision.message,
        next_attempt_at=decision.retry_at,
        attempt_headers=attempt_headers,
    )


_sender_pool: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    # One pool per process: with a slow receiver, throughput is requests in flight over
    # latency, so a worker keeps several requests open at once.
    global _sender_pool
    if _sender_pool is None:
        _sender_pool = ThreadPoolExecutor(max_workers=settings.WEBHOOK_SEND_CONCURRENCY, thread_name_prefix="webhook-send")
    return _sender_pool


# A receiver that answers about as fast as this process can build and read a request is
# sent to from the task's own thread, one request after another: the work is then mostly
# CPU, and handing it to threads only adds their switching (about 25 % more CPU per delivery,
# measured against a local receiver). A request counts as fast when its wall time is under
# FAST_WALL_TO_CPU times the CPU this thread spent on it (waiting on a busy machine's run
# queue is not helped by threads either). Every slower receiver gets requests in parallel.
# Speed is measured only on requests sent alone (in parallel every answer also waits for
# the other threads), so a receiver sent to in parallel is measured again, a few requests
# alone, every PROBE_AGAIN_SECONDS.
FAST_WALL_TO_CPU = 3.0
PROBE_AGAIN_SECONDS = 10.0
PROBE_REQUESTS = 3  # the first may open the connection: the median of the last five counts
RECENT_REQUESTS = 5
# An answer this slow switches to parallel at once, so a fast receiver that starts to hang
# costs one timeout in this thread (_rounds_of_hung_requests counts it); a shorter stall
# (a busy machine descheduling the worker) is outvoted by the median.
CLEARLY_SLOW_SECONDS = 1.0


@dataclass
class _ReceiverSpeed:
    wall_to_cpu: deque[float] = dataclasses.field(default_factory=lambda: deque(maxlen=RECENT_REQUESTS))
    measured_at: float = 0.0  # time.monotonic()

    @property
    def measuring(self) -> bool:
        return len(self.wall_to_cpu) < PROBE_REQUESTS

    @property
    def fast(self) -> bool:
        return not self.measuring and statistics.median(self.wall_to_cpu) < FAST_WALL_TO_CPU


_receiver_speeds: dict[int, _ReceiverSpeed] = {}  # by webhook id, in this process


def _send_alone(prepared: _Prepared, webhook_id: int) -> history.AttemptRecord:
    """Send from this thread and update the receiver's speed estimate."""
    start, start_cpu = time.monotonic(), time.thread_time()
    attempt = _attempt(prepared)
    finished = time.monotonic()
    speed = _receiver_speeds.setdefault(webhook_id, _ReceiverSpeed())
    if finished - start >= CLEARLY_SLOW_SECONDS:
        speed.wall_to_cpu.extend([math.inf] * RECENT_REQUESTS)
    else:
        speed.wall_to_cpu.append((finished - start) / max(time.thread_time() - start_cpu, 1e-6))
    speed.measured_at = finished
    return attempt


def _sent_alone(webhook_id: int) -> bool:
    """Whether the next request to this webhook goes from this thread: its receiver is fast,
    or it is being measured (again)."""
    speed = _receiver_speeds.get(webhook_id)
    if speed is None or speed.measuring or speed.fast:
        return True
    if time.monotonic() - speed.measured_at > PROBE_AGAIN_SECONDS:
        _receiver_speeds[webhook_id] = _ReceiverSpeed()
        return True
    return False


def _deliver_group(delivery_ids: Sequence[uuid.UUID | str], *, last_start: float) -> None:
    """Claim, send and record one group; no rate-limited request starts after `last_start`
    (time.monotonic())."""
    now = timezone.now()
    claimed = history.deliveries_claim(delivery_ids=delivery_ids, now=now, lease_seconds=settings.DELIVERY_LEASE_SECONDS)
    if not claimed:
        return
    templates: dict[int, RequestTemplate] = {}
    prepared: list[_Prepared] = []
    attempts: dict[object, history.AttemptRecord] = {}
    in_flight: dict[object, Future[history.AttemptRecord]] = {}
    rate_limited: list[_Prepared] = []
    parallel = settings.WEBHOOK_SEND_CONCURRENCY > 1 and len(claimed) > 1
    for delivery in claimed:
        # Each request leaves as soon as it is rendered, so sending overlaps rendering.
        ready = _prepare(delivery, templates)
        webhook = delivery.webhook
        if ready.request is not None and webhook is not None and webhook.rate_limit_per_second:
            rate_limited.append(ready)  # sent and recorded one at a time, below
            continue
        prepared.append(ready)
        if ready.request is None or webhook is None:
            continue
        if parallel and not _sent_alone(webhook.pk):
            in_flight[delivery.pk] = _pool().submit(_attempt, ready)
        else:
            attempts[delivery.pk] = _send_alone(ready, webhook.pk)
    lease = claimed[0].lease_expires_at
    assert lease is not None
    _send_rate_limited(rate_limited, lease=lease, last_start=last_start)
    attempts.update((pk, future.result()) for pk, future in in_flight.items())
    recorded = history.deliveries_record(
        outcomes=[p.outcome(attempts.get(p.delivery.pk)) for p in prepared],
        lease=lease,
        now=timezone.now(),
    )
    if recorded < len(prepared):
        logger.warning(
            "%d deliveries were taken over by another worker before their attempt was recorded", len(prepared) - recorded
        )


def _send_rate_limited(waiting: Sequence[_Prepared], *, lease: dt.datetime, last_start: float) -> None:
    """Send from this thread (the send slots live in the database) one slot after another,
    recording each delivery as soon as its answer is back.

    At a few requests per second a group takes many seconds, so: each is recorded at once (a
    worker killed midway has sent nothing it did not record), a send cancelled meanwhile
    stops here (its claimed deliveries are no longer pending, so the cancel cannot reach
    them), and what has not started by `last_start` goes back to the queue rather than run
    into the task timeout (the queue would kill the task and send the group again).
    """
    batch_ids = {ready.delivery.batch_id for ready in waiting if ready.delivery.batch_id is not None}
    for index, ready in enumerate(waiting):
        webhook = ready.delivery.webhook
        assert webhook is not None and webhook.rate_limit_per_second
        attempt = None
        # One lookup by primary key per send, affordable at a rate-limited pace, and it is
        # what lets a cancel stop the deliveries this worker already holds.
        if batch_ids and ready.delivery.batch_id in send_ids_cancelled(batch_ids=batch_ids):
            ready.failure_reason, ready.failure_message = "cancelled", history.SEND_CANCELLED_MESSAGE
        else:
            slot_id = rate_limit.take_send_slot(
                webhook_id=webhook.pk,
                per_second=webhook.rate_limit_per_second,
                hold_seconds=webhook.timeout_seconds,
                give_up_at=last_start,
            )
            if slot_id is None:
                later = [not_sent.delivery.pk for not_sent in waiting[index:]]
                history.deliveries_release(delivery_ids=later, lease=lease, now=timezone.now())
                _enqueue(later)
                return
            try:
                attempt = _attempt(ready)
            finally:
                rate_limit.release_send_slot(slot_id=slot_id)
        history.deliveries_record(outcomes=[ready.outcome(attempt)], lease=lease, now=timezone.now())


def _rounds_of_hung_requests(group_size: int) -> int:
    """How many timeouts in a row a group can wait for when every receiver in it hangs: one
    request in this thread (a fast receiver gone slow; the few sub-second answers it may take
    before that fit in TASK_TIMEOUT_MARGIN_SECONDS), then rounds of the sender threads."""
    return 1 + math.ceil(group_size / max(1, settings.WEBHOOK_SEND_CONCURRENCY))


def _group_size() -> int:
    """The largest group that ends before the queue's task timeout even if it all hangs."""
    affordable_rounds = int((settings.Q_TASK_TIMEOUT_SECONDS - TASK_TIMEOUT_MARGIN_SECONDS) // MAX_TIMEOUT_SECONDS)
    return max(1, min(DELIVERIES_PER_TASK, (affordable_rounds - 1) * max(1, settings.WEBHOOK_SEND_CONCURRENCY)))


def deliver_many(*, delivery_ids: Sequence[uuid.UUID | str]) -> int:
    """Make the next attempt of each due delivery, a group at a time (claimed, sent, recorded
    together); returns how many ids were handled before the time budget ran out (the rest
    are queued again). Safe to run twice: the claim decides."""
    started = time.monotonic()
    group = _group_size()
    # A further group is started only if it would end before the queue's task timeout even
    # if every receiver in it hung.
    budget = settings.Q_TASK_TIMEOUT_SECONDS - TASK_TIMEOUT_MARGIN_SECONDS - _rounds_of_hung_requests(group) * MAX_TIMEOUT_SECONDS
    # A rate-limited request, sent one at a time, may start while its answer (at most one
    # timeout away) would still come back before the queue's task timeout.
    last_start = started + settings.Q_TASK_TIMEOUT_SECONDS - TASK_TIMEOUT_MARGIN_SECONDS - MAX_TIMEOUT_SECONDS
    for start in range(0, len(delivery_ids), group):
        if start and time.monotonic() - started > budget:
            _enqueue(delivery_ids[start:])
            return start
        _deliver_group(delivery_ids[start : start + group], last_start=last_start)
    return len(delivery_ids)


def deliver(*, delivery_id: uuid.UUID | str) -> None:
    """Make the next attempt of one delivery if it is due (the same path as a group of one)."""
    deliver_many(delivery_ids=[delivery_id])


def sweep() -> int:
    """Enqueue retries that are due, deliveries whose worker died, and lost tasks."""
    now = timezone.now()
    due = delivery_ids_due(now=now, limit=SWEEP_BATCH_SIZE)
    stranded = delivery_ids_stranded(
        created_before=now - dt.timedelta(seconds=settings.DELIVERY_STRANDED_SECONDS), limit=SWEEP_BATCH_SIZE
    )
    ids = list(dict.fromkeys([*due, *stranded]))
    _enqueue(ids)
    return len(ids)
