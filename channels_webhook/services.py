"""Writes for webhooks: create, update, delete. Templates are validated and analysed here.

Secret header values are sealed before they are stored; an update that leaves a secret
header's value empty keeps the stored one, so the console never needs to show it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone

from channels_webhook.models import Webhook
from channels_webhook.rendering import TemplateProblem, data_variables, validate_request_template
from channels_webhook.request_checks import header_name_problem
from channels_webhook.signing import generate_secret
from flarelane.audience.models import Project
from flarelane.sealing import seal
from history.services import deliveries_cancel_pending

WEBHOOK_FIELDS = (
    "name",
    "method",
    "url",
    "body_type",
    "body",
    "timeout_seconds",
    "max_attempts",
    "rate_limit_per_second",
    "send_idempotency_key",
    "is_active",
)
# After a rotation the previous signing secret keeps signing this long, beside the new one.
SIGNING_ROTATION_OVERLAP = dt.timedelta(hours=24)


@dataclass(frozen=True)
class HeaderInput:
    """A header as typed: `value` None on a secret header means "keep the stored value"."""

    name: str
    value: str | None
    secret: bool = False


class WebhookInvalid(ValidationError):
    """Carries the problems with their field, line and column, for forms and the API."""

    def __init__(self, problems: Sequence[TemplateProblem]) -> None:
        self.problems = list(problems)
        super().__init__([f"{p.field}: {p}" for p in self.problems])


def _stored_headers(headers: Sequence[HeaderInput], previous: list[dict[str, Any]]) -> list[dict[str, Any]]:
    previous_secret = {h["name"].lower(): h["sealed"] for h in previous if h.get("secret")}
    stored = []
    for header in headers:
        if header.secret:
            if header.value is None or header.value == "":
                sealed = previous_secret.get(header.name.lower())
                if sealed is None:
                    raise WebhookInvalid(
                        [TemplateProblem(field=f"Header '{header.name}'", message="A secret header needs a value.")]
                    )
            else:
                sealed = seal(header.value)
            stored.append({"name": header.name, "secret": True, "sealed": sealed})
        else:
            stored.append({"name": header.name, "secret": False, "value": header.value or ""})
    return stored


def _header_problems(headers: Sequence[HeaderInput]) -> list[TemplateProblem]:
    problems, seen = [], set()
    for header in headers:
        problem = header_name_problem(header.name)
        if problem:
            problems.append(TemplateProblem(field="Headers", message=problem))
        if header.name.lower() in seen:
            problems.append(TemplateProblem(field="Headers", message=f"Header '{header.name}' is listed twice."))
        seen.add(header.name.lower())
    return problems


def _apply(webhook: Webhook, values: dict[str, Any], headers: Sequence[HeaderInput] | None) -> None:
    for field in WEBHOOK_FIELDS:
        if field in values:
            setattr(webhook, field, values[field])
    problems: list[TemplateProblem] = []
    if headers is not None:
        problems += _header_problems(headers)
        if problems:
            raise WebhookInvalid(problems)
        webhook.headers = _stored_headers(headers, webhook.headers)
    template = webhook.request_template()
    problems += validate_request_template(template)
    if problems:
        raise WebhookInvalid(problems)
    webhook.data_variables = data_variables(template)
    try:
        webhook.full_clean(exclude=["project", "headers"])
    except ValidationError as error:
        raise WebhookInvalid(
            [TemplateProblem(field=field, message=" ".join(messages)) for field, messages in error.message_dict.items()]
        ) from None


def webhook_problems(
    *, webhook: Webhook | None, project: Project | None, values: dict[str, Any], headers: Sequence[HeaderInput] | None
) -> list[TemplateProblem]:
    """What webhook_create/webhook_update would refuse, without saving anything."""
    return webhook_analyze(webhook=webhook, project=project, values=values, headers=headers).problems


@dataclass(frozen=True)
class WebhookAnalysis:
    data_variables: list[str]
    problems: list[TemplateProblem]


def webhook_analyze(
    *, webhook: Webhook | None, project: Project | None, values: dict[str, Any], headers: Sequence[HeaderInput] | None
) -> WebhookAnalysis:
    """The data variables and the problems of a webhook being edited, by the checks save runs; nothing is saved.

    Data variables are reported even when a field has a problem (from the fields that parse), so
    the console's list keeps following the templates while one of them is half typed.
    """
    draft = Webhook(project=project, headers=list(webhook.headers) if webhook else [])
    if webhook is not None:
        for field in WEBHOOK_FIELDS:
            setattr(draft, field, getattr(webhook, field))
    problems: list[TemplateProblem] = []
    try:
        _apply(draft, values, headers)
    except WebhookInvalid as invalid:
        problems = invalid.problems
    return WebhookAnalysis(data_variables=data_variables(draft.request_template()), problems=problems)


@transaction.atomic
def webhook_create(*, project: Project, values: dict[str, Any], headers: Sequence[HeaderInput] = ()) -> Webhook:
    webhook = Webhook(project=project)
    _apply(webhook, values, headers)
    webhook.save()
    return webhook


@transaction.atomic
def webhook_update(*, webhook: Webhook, values: dict[str, Any], headers: Sequence[HeaderInput] | None = None) -> Webhook:
    was_active = webhook.is_active
    _apply(webhook, values, headers)
    webhook.save()
    if was_active and not webhook.is_active:
        # Deactivating stops the vendor getting anything more, retries included.
        deliveries_cancel_pending(
            webhook_id=webhook.pk, message="Cancelled: the webhook was deactivated before this was sent.", now=timezone.now()
        )
    return webhook


class WebhookInUse(Exception):
    pass


def webhook_delete(*, webhook: Webhook) -> None:
    # History keeps the deliveries (their webhook becomes empty, the name stays); a webhook
    # that a journey node sends is protected, so no journey is left pointing at nothing.
    try:
        with transaction.atomic():
            deliveries_cancel_pending(
                webhook_id=webhook.pk, message="Cancelled: the webhook was deleted before this was sent.", now=timezone.now()
            )
            webhook.delete()
    except ProtectedError as protected:
        names = sorted({str(getattr(node, "journey", "")) for node in protected.protected_objects})
        raise WebhookInUse(f"Journeys use this webhook: {', '.join(names)}. Remove it from them first.") from None


def header_inputs_for_display(webhook: Webhook) -> list[dict[str, Any]]:
    """Headers as the console and the API show them: secret values never leave the server."""
    return [
        {"name": h["name"], "value": "" if h.get("secret") else h.get("value", ""), "secret": bool(h.get("secret"))}
        for h in webhook.headers
    ]


@dataclass(frozen=True)
class RotatedSecret:
    secret: str
    previous_valid_until: dt.datetime | None


@transaction.atomic
def webhook_rotate_signing_secret(*, webhook: Webhook) -> RotatedSecret:
    """Start signing with a new secret (shown once); the previous one signs too for a day."""
    secret = generate_secret()
    previous = webhook.signing_secrets[:1]
    webhook.signing_secrets = [seal(secret), *previous]
    webhook.previous_signing_secret_expires_at = timezone.now() + SIGNING_ROTATION_OVERLAP if previous else None
    webhook.save(update_fields=["signing_secrets", "previous_signing_secret_expires_at", "updated_at"])
    return RotatedSecret(secret=secret, previous_valid_until=webhook.previous_signing_secret_expires_at)


def webhook_disable_signing(*, webhook: Webhook) -> None:
    webhook.signing_secrets = []
    webhook.previous_signing_secret_expires_at = None
    webhook.save(update_fields=["signing_secrets", "previous_signing_secret_expires_at", "updated_at"])
