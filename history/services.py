"""The only writer of Delivery and DeliveryAttempt rows.

A delivery moves pending → sending → success | failure, or back to pending with a
`next_attempt_at` when an attempt will be retried. Moving to `sending` is a conditional
UPDATE (a claim with a lease), so two workers handed the same delivery cannot both send it,
and a worker that dies mid-send leaves a lease that expires and lets the sweeper retry.

Every change that makes a delivery final also adds it to DeliveryHourlyCount, in the same
transaction, so the hourly chart never has to count the deliveries themselves.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import BooleanField, Case, Count, Field, JSONField, Q, Value, When
from django.db.models.functions import Coalesce, TruncHour
from django.utils import timezone

from channels_webhook.models import Webhook
from flarelane.audience.models import Project
from flarelane.sealing import seal
from history.models import Delivery, DeliveryAttempt, DeliveryHourlyCount, SendBatch

MAX_ERROR_MESSAGE_LENGTH = 2000


@dataclass(frozen=True)
class Recipient:
    user_id: str
    end_user_id: int | None


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
    # Headers sent with this attempt only (the signature), beside the stored request's.
    attempt_headers: tuple[tuple[str, str], ...] = ()


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
) -> list[uuid.UUID]:
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


SEND_CANCELLED_MESSAGE = "Cancelled: the send was cancelled before this was sent."


@transaction.atomic
def send_batch_cancel(*, batch: SendBatch, now: dt.datetime) -> int:
    """Stop a send: no more deliveries are created, and the waiting ones end as cancelled."""
    SendBatch.objects.filter(pk=batch.pk, cancelled_at__isnull=True).update(cancelled_at=now)
    return _cancel_pending(Q(batch=batch), message=SEND_CANCELLED_MESSAGE, now=now)


@transaction.atomic
def _cancel_pending(which: Q, *, message: str, now: dt.datetime) -> int:
    """End the matching deliveries that still wait (queued or for a retry) as cancelled."""
    cancelled = Delivery.objects.filter(which, status=Delivery.Status.PENDING).update(
        status=Delivery.Status.FAILURE,
        failure_reason=Delivery.FailureReason.CANCELLED,
        error_message=message,
        next_attempt_at=None,
        completed_at=now,
        updated_at=now,
    )
    if cancelled:
        # Counted after the UPDATE, by the `now` it wrote: the rows it changed stay locked by
        # this transaction until commit, so this finds exactly them.
        just_cancelled = Delivery.objects.filter(
            which, status=Delivery.Status.FAILURE, failure_reason=Delivery.FailureReason.CANCELLED, updated_at=now
        )
        _upsert_hourly_counts(
            (project_id, webhook_id, hour, 0, count)
            for project_id, webhook_id, hour, count in just_cancelled.annotate(
                hour=_HourUTC("created_at", tzinfo=dt.UTC), webhook_key=Coalesce("webhook_id", DeliveryHourlyCount.NO_WEBHOOK)
            )
            .values_list("project_id", "webhook_key", "hour")
            .annotate(count=Count("pk"))
            .order_by()
        )
    return cancelled


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
) -> list[uuid.UUID]:
    """Insert one pending delivery per recipient and return their ids.

    Rows go in with COPY on PostgreSQL and as one INSERT statement run per row (executemany)
    on SQLite, not with bulk_create: a fan-out to 100,000 users spent most of its time
    building model instances and, on SQLite, splitting the insert into statements of 28 rows
    for the 999-parameter limit.
    """
    now = timezone.now()
    common: dict[str, object] = {
        "project_id": project.pk,
        "webhook_id": webhook.pk,
        "webhook_name": webhook.name,
        "source": source,
        "data": data,
        "max_attempts": max_attempts,
        "created_by_id": created_by_id,
        "journey_id": journey.journey_id if journey else None,
        "journey_name": journey.journey_name if journey else "",
        "journey_node_key": journey.node_key if journey else "",
        "entry_event": journey.entry_event if journey else None,
        "batch_id": batch.pk if batch else None,
        "created_at": now,
        "updated_at": now,
    }
    fields: list[Field[Any, Any]] = list(Delivery._meta.concrete_fields)
    copying = connection.vendor == "postgresql"

    def prepare(field: Field[Any, Any], value: Any) -> Any:
        if copying and isinstance(field, JSONField):
            return None if value is None else json.dumps(value, cls=field.encoder)  # COPY reads JSON as text
        return field.get_db_prep_save(value, connection)

    prepared_common = {
        f.attname: prepare(f, common[f.attname] if f.attname in common else f.get_default())
        for f in fields
        if f.attname not in ("id", "user_id", "end_user_id")
    }
    ids = [uuid.uuid4() for _ in recipients]
    id_field = Delivery._meta.pk
    assert id_field is not None
    # One row made once; each recipient's copy differs in three columns.
    template = [prepared_common.get(f.attname) for f in fields]
    names = [f.attname for f in fields]
    id_at, user_id_at, end_user_at = names.index("id"), names.index("user_id"), names.index("end_user_id")
    rows = []
    for delivery_id, recipient in zip(ids, recipients, strict=True):
        row = template.copy()
        row[id_at] = id_field.get_db_prep_save(delivery_id, connection)
        row[user_id_at], row[end_user_at] = recipient.user_id, recipient.end_user_id
        rows.append(row)
    quote = connection.ops.quote_name
    table, columns = quote(Delivery._meta.db_table), ", ".join(quote(f.column or f.name) for f in fields)
    with connection.cursor() as cursor:
        if copying:
            # COPY: executemany binds every parameter in Python (Django's psycopg cursors bind
            # client-side), which was most of a 100,000-user fan-out's time.
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"  # noqa: S608 (model names only)
            cursor.executemany(sql, rows)
    return ids


def _claimable(now: dt.datetime) -> Q:
    due = Q(status=Delivery.Status.PENDING) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
    abandoned = Q(status=Delivery.Status.SENDING, lease_expires_at__lt=now)
    return due | abandoned


def deliveries_claim(*, delivery_ids: Sequence[uuid.UUID | str], now: dt.datetime, lease_seconds: int) -> list[Delivery]:
    """Take the due ones among these deliveries for sending, in three queries whatever their
    number. A delivery final, not due, or held by another worker is left out."""
    lease = now + dt.timedelta(seconds=lease_seconds)
    # The claim condition goes in as one expression so the rows are found by their ids: as
    # plain conditions, SQLite (without ANALYZE statistics) searched the status index instead,
    # reading every pending delivery of a large send for each group.
    claimable = Case(When(_claimable(now), then=Value(True)), default=Value(False), output_field=BooleanField())
    claimed = Delivery.objects.filter(Q(pk__in=list(delivery_ids)), claimable).update(
        status=Delivery.Status.SENDING, lease_expires_at=lease, updated_at=now
    )
    if not claimed:
        return []
    deliveries = list(
        Delivery.objects.filter(pk__in=list(delivery_ids), status=Delivery.Status.SENDING, lease_expires_at=lease).select_related(
            "end_user"
        )
    )
    # A group is nearly always one webhook: load it once rather than joined into every row
    # (its headers and secrets were decoded a hundred times per group).
    webhooks = Webhook.objects.in_bulk({delivery.webhook_id for delivery in deliveries if delivery.webhook_id})
    for delivery in deliveries:
        delivery.webhook = webhooks.get(delivery.webhook_id) if delivery.webhook_id else None
    return deliveries


def deliveries_release(*, delivery_ids: Sequence[uuid.UUID], lease: dt.datetime, now: dt.datetime) -> int:
    """Give back claimed deliveries that were not attempted (a worker out of time): pending
    again, as they were, for the next task; only those still held under `lease`."""
    return Delivery.objects.filter(pk__in=list(delivery_ids), status=Delivery.Status.SENDING, lease_expires_at=lease).update(
        status=Delivery.Status.PENDING, lease_expires_at=None, updated_at=now
    )


def _set_request(delivery: Delivery, request: StoredRequest) -> None:
    """Fix the request's bytes on first render; every retry sends these. Secret header values
    are masked in `request_headers` and kept only sealed."""
    delivery.request_method, delivery.request_url, delivery.request_body = request.method, request.url, request.body
    delivery.request_headers = [list(pair) for pair in request.masked_headers]
    delivery.request_headers_sealed = (
        seal(json.dumps([list(pair) for pair in request.headers])) if request.masked_headers != request.headers else ""
    )


def delivery_store_request(*, delivery: Delivery, request: StoredRequest) -> None:
    _set_request(delivery, request)
    Delivery.objects.filter(pk=delivery.pk).update(
        request_method=delivery.request_method,
        request_url=delivery.request_url,
        request_headers=delivery.request_headers,
        request_headers_sealed=delivery.request_headers_sealed,
        request_body=delivery.request_body,
    )


def deliveries_cancel_pending(*, webhook_id: int, message: str, now: dt.datetime) -> int:
    """End every delivery of a webhook that is still waiting (queued or for a retry)."""
    return _cancel_pending(Q(webhook_id=webhook_id), message=message, now=now)


@transaction.atomic
def delivery_fail_before_sending(*, delivery: Delivery, reason: str, message: str, now: dt.datetime) -> None:
    """Nothing was sent (render error, invalid request): final, with no attempt row."""
    failed = Delivery.objects.filter(
        pk=delivery.pk, lease_expires_at=delivery.lease_expires_at, status__in=[Delivery.Status.PENDING, Delivery.Status.SENDING]
    ).update(
        status=Delivery.Status.FAILURE,
        failure_reason=reason,
        error_message=_storable(message[:MAX_ERROR_MESSAGE_LENGTH]),
        lease_expires_at=None,
        next_attempt_at=None,
        completed_at=now,
        updated_at=now,
    )
    if failed:
        delivery.status = Delivery.Status.FAILURE
        _count_finished([delivery])


def _storable(text: str) -> str:
    """Text as PostgreSQL can keep it: its text and JSON columns refuse NUL, and one such
    value would fail the whole group's record (the group then stays claimed and is sent
    again). Only for what a receiver or a library wrote: response headers, error messages."""
    return text.replace("\x00", "\N{REPLACEMENT CHARACTER}")


# Response headers kept per delivery, names and values together: the body is capped, so a
# receiver must not be able to make the history keep megabytes of headers instead.
RESPONSE_HEADERS_LIMIT = 32 * 1024
TRUNCATED = "… (cut: the history keeps 32 KiB of response headers)"


def _stored_response_headers(headers: Sequence[tuple[str, str]]) -> list[list[str]]:
    kept: list[list[str]] = []
    room = RESPONSE_HEADERS_LIMIT
    for name, value in headers:
        if room <= len(name):
            break
        if len(name) + len(value) > room:
            kept.append([_storable(name), _storable(value[: room - len(name)]) + TRUNCATED])
            break
        kept.append([_storable(name), _storable(value)])
        room -= len(name) + len(value)
    return kept


def _stored_body(body: bytes) -> tuple[str, bool]:
    """Text when the body is UTF-8 (without NUL, which PostgreSQL text refuses), else base64."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), True
    if "\x00" in text:
        return base64.b64encode(body).decode("ascii"), True
    return text, False


@dataclass(frozen=True)
class DeliveryOutcome:
    """What happened to one claimed delivery: rendered now (`request`), and either an HTTP
    attempt or a failure before anything was sent."""

    delivery: Delivery
    request: StoredRequest | None = None
    attempt: AttemptRecord | None = None
    failure_reason: str = ""
    failure_message: str = ""


_RECORDED_FIELDS = (
    "status",
    "failure_reason",
    "error_message",
    "request_method",
    "request_url",
    "request_headers",
    "request_headers_sealed",
    "request_body",
    "response_status_code",
    "response_headers",
    "response_body",
    "response_body_is_base64",
    "response_body_truncated",
    "duration_ms",
    "attempt_count",
    "next_attempt_at",
    "lease_expires_at",
    "completed_at",
    "updated_at",
)


def _apply_outcome(outcome: DeliveryOutcome, now: dt.datetime) -> DeliveryAttempt | None:
    delivery, attempt = outcome.delivery, outcome.attempt
    if outcome.request is not None:
        _set_request(delivery, outcome.request)
    delivery.lease_expires_at = None
    delivery.updated_at = now
    if attempt is None:
        delivery.status = Delivery.Status.FAILURE
        delivery.failure_reason = outcome.failure_reason
        delivery.error_message = _storable(outcome.failure_message[:MAX_ERROR_MESSAGE_LENGTH])
        delivery.next_attempt_at = None
        delivery.completed_at = now
        return None
    body_text, is_base64 = _stored_body(attempt.response_body)
    final = attempt.verdict in ("success", "failure")
    delivery.status = {"success": Delivery.Status.SUCCESS, "failure": Delivery.Status.FAILURE}.get(
        attempt.verdict, Delivery.Status.PENDING
    )
    delivery.failure_reason = "" if attempt.verdict == "success" else attempt.failure_reason
    delivery.error_message = _storable(attempt.message[:MAX_ERROR_MESSAGE_LENGTH])
    delivery.response_status_code = attempt.status_code
    delivery.response_headers = _stored_response_headers(attempt.response_headers)
    delivery.response_body, delivery.response_body_is_base64 = body_text, is_base64
    delivery.response_body_truncated = attempt.response_body_truncated
    delivery.duration_ms = attempt.duration_ms
    delivery.attempt_count += 1
    delivery.next_attempt_at = attempt.next_attempt_at
    delivery.completed_at = now if final else None
    return DeliveryAttempt(
        delivery_id=delivery.pk,
        number=delivery.attempt_count,
        started_at=attempt.started_at,
        duration_ms=attempt.duration_ms,
        outcome=attempt.outcome,
        status_code=attempt.status_code,
        failure_reason=delivery.failure_reason,
        error_message=delivery.error_message,
        next_attempt_at=attempt.next_attempt_at,
        request_headers=[list(pair) for pair in attempt.attempt_headers],
    )


def _update_held(deliveries: Sequence[Delivery], lease: dt.datetime) -> int:
    """One UPDATE statement run for each delivery (executemany), each only while the row is
    still held under `lease`. Django's bulk_update builds a CASE per field and row, which
    costs more CPU than sending the requests; this is the same write without that."""
    fields: list[Field[Any, Any]] = [Delivery._meta.get_field(name) for name in _RECORDED_FIELDS]  # type: ignore[misc]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(field.column or field.name)} = %s" for field in fields)
    table, where = quote(Delivery._meta.db_table), " AND ".join(f"{quote(c)} = %s" for c in ("id", "lease_expires_at", "status"))
    sql = f"UPDATE {table} SET {assignments} WHERE {where}"  # noqa: S608 (quoted model names only; values are parameters)
    pk_field, lease_field = Delivery._meta.pk, Delivery._meta.get_field("lease_expires_at")
    assert pk_field is not None
    rows = [
        [
            *(field.get_db_prep_save(getattr(delivery, field.attname), connection) for field in fields),
            pk_field.get_db_prep_value(delivery.pk, connection),
            lease_field.get_db_prep_value(lease, connection),
            Delivery.Status.SENDING.value,
        ]
        for delivery in deliveries
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
        return max(cursor.rowcount, 0)


@transaction.atomic
def deliveries_record(*, outcomes: Sequence[DeliveryOutcome], lease: dt.datetime, now: dt.datetime) -> int:
    """Record what happened to deliveries claimed together, in three queries: one UPDATE of the
    deliveries (only those still held under `lease`), one INSERT of their attempts, and one
    upsert of the hourly counts of those now final (usually one hour of one webhook)."""
    if not outcomes:
        return 0
    attempts = {outcome.delivery.pk: _apply_outcome(outcome, now) for outcome in outcomes}
    deliveries = [outcome.delivery for outcome in outcomes]
    updated = _update_held(deliveries, lease)
    if updated < len(outcomes):
        # A lease ran out and the sweeper gave some away: record attempts only for ours.
        ours = set(Delivery.objects.filter(pk__in=list(attempts), updated_at=now).values_list("pk", flat=True))
        attempts = {pk: row for pk, row in attempts.items() if pk in ours}
        deliveries = [delivery for delivery in deliveries if delivery.pk in ours]
    DeliveryAttempt.objects.bulk_create([row for row in attempts.values() if row is not None])
    _count_finished(deliveries)
    return updated


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


def deliveries_prune(*, older_than: dt.datetime, batch_size: int) -> int:
    """Delete final deliveries created before `older_than`, with their attempts and hourly
    counts; return how many deliveries.

    Each batch of `batch_size` is its own short transaction, so senders and the console wait
    at most one batch for the table. Pending and sending deliveries stay whatever their age:
    a worker or a journey run may still need them.
    """
    # Hourly counts go with the hours wholly before `older_than`; the hour it falls in still
    # counts deliveries that stay.
    DeliveryHourlyCount.objects.filter(hour__lte=older_than - dt.timedelta(hours=1)).delete()
    deleted = 0
    while True:
        batch = Delivery.objects.filter(status__in=Delivery.FINAL_STATUSES, created_at__lt=older_than)
        ids = list(batch.order_by("created_at").values_list("pk", flat=True)[:batch_size])
        if not ids:
            return deleted
        with transaction.atomic():
            DeliveryAttempt.objects.filter(delivery_id__in=ids).delete()
            # Only the ids: the rows carry request and response bodies the delete has no use for.
            Delivery.objects.filter(pk__in=ids).only("pk").delete()
        deleted += len(ids)


# Hourly counts


class _HourUTC(TruncHour):
    """TruncHour in UTC, with a fast path on SQLite.

    On SQLite Django truncates through a Python function called once per row, which takes
    over a second for 100,000 deliveries. SQLite stores datetimes as UTC text, so its own
    strftime gives the same hour in C. Other databases use TruncHour as it is.
    """

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        if connection.timezone_name != "UTC" or self.tzinfo is not dt.UTC:
            return super().as_sqlite(compiler, connection, **extra_context)
        sql, params = compiler.compile(self.lhs)
        return f"strftime('%%Y-%%m-%%d %%H:00:00', {sql})", params


def _count_finished(deliveries: Iterable[Delivery]) -> None:
    """Add the final ones among these deliveries to the hourly counts: one statement per
    project, webhook and hour they fall in."""
    totals: dict[tuple[int, int, dt.datetime], list[int]] = {}
    for delivery in deliveries:
        if delivery.status in Delivery.FINAL_STATUSES:
            hour = delivery.created_at.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
            key = (delivery.project_id, delivery.webhook_id or DeliveryHourlyCount.NO_WEBHOOK, hour)
            totals.setdefault(key, [0, 0])[delivery.status == Delivery.Status.FAILURE] += 1
    _upsert_hourly_counts((*key, success, failure) for key, (success, failure) in totals.items())


def _upsert_hourly_counts(rows: Iterable[tuple[int, int, dt.datetime, int, int]]) -> None:
    """Add (project id, webhook id, hour, success, failure) rows to the counts. Django's
    bulk_create can replace a conflicting row but not add to it, hence the SQL (SQLite 3.24+
    and PostgreSQL both have INSERT ... ON CONFLICT DO UPDATE)."""
    fields = {field.name: field for field in DeliveryHourlyCount._meta.concrete_fields}
    params = [
        (project_id, webhook_id, fields["hour"].get_db_prep_value(hour, connection), success, failure)
        for project_id, webhook_id, hour, success, failure in rows
    ]
    if not params:
        return
    quote = connection.ops.quote_name
    table = quote(DeliveryHourlyCount._meta.db_table)
    project, webhook, hour, success, failure = (
        quote(fields[name].column or name) for name in ("project", "webhook_id", "hour", "success", "failure")
    )
    sql = (
        f"INSERT INTO {table} ({project}, {webhook}, {hour}, {success}, {failure}) VALUES (%s, %s, %s, %s, %s) "  # noqa: S608 (quoted model names only; values are parameters)
        f"ON CONFLICT ({project}, {webhook}, {hour}) DO UPDATE SET "
        f"{success} = {table}.{success} + excluded.{success}, {failure} = {table}.{failure} + excluded.{failure}"
    )
    with connection.cursor() as cursor:
        if len(params) == 1:
            cursor.execute(sql, params[0])
        else:
            cursor.executemany(sql, params)


@transaction.atomic
def delivery_hourly_counts_rebuild() -> int:
    """Recount the hourly counts from the deliveries themselves; return how many rows it wrote.

    For data written around the services (a benchmark's bulk seed, a restore); run it while
    no worker records deliveries, since one finishing during the recount could be counted
    twice or not at all. Migration 0008 does the same once in SQL, when the table is created.
    """
    DeliveryHourlyCount.objects.all().delete()
    counts = (
        Delivery.objects.filter(status__in=Delivery.FINAL_STATUSES)
        .annotate(hour=_HourUTC("created_at", tzinfo=dt.UTC), webhook_key=Coalesce("webhook_id", DeliveryHourlyCount.NO_WEBHOOK))
        .values_list("project_id", "webhook_key", "hour")
        .annotate(
            success=Count("pk", filter=Q(status=Delivery.Status.SUCCESS)),
            failure=Count("pk", filter=Q(status=Delivery.Status.FAILURE)),
        )
        .order_by()
    )
    rows = DeliveryHourlyCount.objects.bulk_create(
        DeliveryHourlyCount(project_id=project_id, webhook_id=webhook_id, hour=hour, success=success, failure=failure)
        for project_id, webhook_id, hour, success, failure in counts
    )
    return len(rows)
