"""Writes for projects, API keys and end users. Each function is one transaction."""

import datetime as dt
import functools
import json
import secrets
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from flarelane.audience.models import ApiKey, EndUser, Event, IdempotencyRecord, Project

API_KEY_PREFIX_LENGTH = 8
USER_ATTRIBUTE_FIELDS = ("email", "phone_number", "name", "country", "language", "time_zone")
MAX_TAGS = 200
MAX_TAG_NAME_LENGTH = 128


def tags_problem(tags: object) -> str:
    """Why these tags may not be stored on a user, as a sentence, or "" (the API and the
    console share the rules)."""
    if not isinstance(tags, dict):
        return 'Tags must be a JSON object of names and values, e.g. {"plan": "pro"}.'
    if len(tags) > MAX_TAGS:
        return f"A user may have at most {MAX_TAGS} tags."
    if any(not key or len(key) > MAX_TAG_NAME_LENGTH for key in tags):
        return f"Tag names must be 1 to {MAX_TAG_NAME_LENGTH} characters."
    return ""


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def attribute_problem(field: str, value: str) -> str:
    """Why `value` may not be a user's `field`, as a sentence, or "" (the API and the console
    share the rules). A time zone must be one a delay node can use, or it would fall back to UTC."""
    if not value:
        return ""
    if field == "email":
        try:
            validate_email(value)
        except ValidationError:
            return "Enter an email address such as minji@example.com, or leave it empty."
    if field == "time_zone" and value not in _time_zones():
        return f"'{value[:64]}' is not a time zone: use an IANA name such as Asia/Seoul or UTC, or leave it empty."
    return ""


class TagsRefused(ValueError):
    """Tags that, merged into the user's, would break the rules of tags_problem."""


@dataclass(frozen=True)
class IssuedApiKey:
    api_key: ApiKey
    plaintext: str


def project_get_or_create(*, slug: str, name: str = "") -> Project:
    project, _ = Project.objects.get_or_create(slug=slug, defaults={"name": name or slug})
    return project


@transaction.atomic
def api_key_issue(*, project: Project, name: str = "") -> IssuedApiKey:
    """Create a key; the plaintext exists only in the return value."""
    prefix = secrets.token_hex(API_KEY_PREFIX_LENGTH // 2)
    secret = secrets.token_urlsafe(32)
    plaintext = f"fl_{prefix}_{secret}"
    api_key = ApiKey.objects.create(project=project, name=name, prefix=prefix, secret_hash=ApiKey.hash_secret(plaintext))
    return IssuedApiKey(api_key=api_key, plaintext=plaintext)


def api_key_touch(*, api_key: ApiKey) -> None:
    # Written at most once a minute so that authentication does not write on every call.
    now = timezone.now()
    if api_key.last_used_at is None or (now - api_key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)


@transaction.atomic
def end_user_put(*, project: Project, user_id: str, attributes: dict[str, Any], tags: dict[str, Any]) -> tuple[EndUser, bool]:
    """Create or replace a user: attributes not given are cleared, tags replaced whole."""
    values = {field: attributes.get(field) or "" for field in USER_ATTRIBUTE_FIELDS}
    end_user, created = EndUser.objects.update_or_create(project=project, user_id=user_id, defaults={**values, "tags": tags})
    return end_user, created


@dataclass(frozen=True)
class UserInput:
    """One user of a batch: the project's user id, its fixed attributes and its tags."""

    user_id: str
    attributes: dict[str, Any]
    tags: dict[str, Any]


@dataclass(frozen=True)
class BatchPutResult:
    created: list[str]
    replaced: list[str]


@transaction.atomic
def end_users_put_many(*, project: Project, users: Sequence[UserInput]) -> BatchPutResult:
    """Create or replace many users with one lookup and one upsert (a few on SQLite's
    parameter limit), each exactly as `end_user_put` would. User ids must be distinct."""
    user_ids = [user.user_id for user in users]
    if len(set(user_ids)) != len(user_ids):
        raise ValueError("end_users_put_many needs distinct user ids")
    existing = set(EndUser.objects.filter(project=project, user_id__in=user_ids).values_list("user_id", flat=True))
    rows = [
        EndUser(
            project=project,
            user_id=user.user_id,
            tags=user.tags,
            **{field: user.attributes.get(field) or "" for field in USER_ATTRIBUTE_FIELDS},
        )
        for user in users
    ]
    EndUser.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["project", "user_id"],
        update_fields=[*USER_ATTRIBUTE_FIELDS, "tags", "updated_at"],
    )
    return BatchPutResult(
        created=[user_id for user_id in user_ids if user_id not in existing],
        replaced=[user_id for user_id in user_ids if user_id in existing],
    )


@transaction.atomic
def end_user_patch(*, end_user: EndUser, attributes: dict[str, Any], tags: dict[str, Any] | None) -> EndUser:
    """Merge attributes and tags into the user as stored now; a tag set to None is removed.

    `end_user` may have been loaded long before (a journey run holds it across a webhook
    call), so the row is read again under a lock and merged there: patches at the same time
    queue and each keeps the others' tags. PostgreSQL locks the row; SQLite has no row locks,
    but its transactions here begin IMMEDIATE (settings), taking the write lock before the read.
    Raises EndUser.DoesNotExist if the user was deleted meanwhile, and TagsRefused (nothing
    saved) if the merged tags would be more than a user may have.
    """
    current = EndUser.objects.select_for_update().get(pk=end_user.pk)
    for field in USER_ATTRIBUTE_FIELDS:
        if field in attributes:
            setattr(current, field, attributes[field] or "")
    if tags:
        merged = dict(current.tags)
        for key, value in tags.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        if len(merged) > MAX_TAGS and len(merged) > len(current.tags):
            raise TagsRefused(f"A user may have at most {MAX_TAGS} tags; with these they would have {len(merged)}.")
        current.tags = merged
    current.save()
    return current


def end_user_delete(*, end_user: EndUser) -> None:
    """Delete a user and their events; their deliveries stay in the history under their user id."""
    end_user.delete()


def event_record(
    *, project: Project, end_user: EndUser, type: str, data: dict[str, Any], event_id: str | None
) -> tuple[Event, bool]:
    """Record an event; with an `event_id` already recorded, return that one and False."""
    if event_id:
        existing = Event.objects.filter(project=project, event_id=event_id).first()
        if existing is not None:
            return existing, False
    try:
        with transaction.atomic():
            return Event.objects.create(project=project, end_user=end_user, type=type, data=data, event_id=event_id or None), True
    except IntegrityError:
        # The same event_id arrived twice at once: the other request recorded it.
        return Event.objects.get(project=project, event_id=event_id), False


IDEMPOTENCY_KEY_LIFETIME = dt.timedelta(hours=24)


@dataclass(frozen=True)
class IdempotencyClaim:
    record: IdempotencyRecord
    # True: this call holds the key and runs; False: an earlier call's record, to replay.
    claimed: bool


def idempotency_claim(*, project: Project, key: str, fingerprint: str, now: dt.datetime) -> IdempotencyClaim:
    """Take `key` for a call about to run, or return the record of the call that took it.

    Run it inside the transaction that runs the call: the row is then committed together
    with the call's writes (or rolled back with them), and a concurrent call with the same
    key waits on the unique constraint until this one ends, then finds its record.
    """
    IdempotencyRecord.objects.filter(project=project, key=key, created_at__lt=now - IDEMPOTENCY_KEY_LIFETIME).delete()
    for _ in range(2):  # a second go only if the other record expired in between
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    project=project, key=key, request_fingerprint=fingerprint, created_at=now
                )
            return IdempotencyClaim(record=record, claimed=True)
        except IntegrityError:
            existing = IdempotencyRecord.objects.filter(project=project, key=key).first()
            if existing is not None:
                return IdempotencyClaim(record=existing, claimed=False)
    raise IntegrityError(f"Idempotency-Key {key!r} could not be claimed")


def idempotency_complete(*, record: IdempotencyRecord, status: int, body: Any) -> None:
    """Keep the answer of the call that claimed the key, for its retries to get."""
    record.response_status = status
    record.response_body = json.dumps(body, cls=DjangoJSONEncoder)
    record.save(update_fields=["response_status", "response_body"])


def idempotency_release(*, record: IdempotencyRecord) -> None:
    """Give the key back: the call failed and did nothing, so a retry may run it again."""
    record.delete()


def idempotency_records_prune(*, now: dt.datetime) -> int:
    """Delete records past their lifetime; their keys may then be used afresh."""
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=now - IDEMPOTENCY_KEY_LIFETIME).delete()
    return deleted
