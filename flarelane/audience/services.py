"""Writes for projects, API keys and end users. Each function is one transaction."""

import secrets
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from flarelane.audience.models import ApiKey, EndUser, Event, Project

API_KEY_PREFIX_LENGTH = 8
USER_ATTRIBUTE_FIELDS = ("email", "phone_number", "name", "country", "language", "time_zone")


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


@transaction.atomic
def end_user_patch(*, end_user: EndUser, attributes: dict[str, Any], tags: dict[str, Any] | None) -> EndUser:
    """Merge attributes and tags; a tag set to None is removed."""
    for field in USER_ATTRIBUTE_FIELDS:
        if field in attributes:
            setattr(end_user, field, attributes[field] or "")
    if tags:
        merged = dict(end_user.tags)
        for key, value in tags.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        end_user.tags = merged
    end_user.save()
    return end_user


def end_user_delete(*, end_user: EndUser) -> None:
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
