"""django-q2 tasks of the audience app; each calls one service."""

from django.utils import timezone

from flarelane.audience.services import idempotency_records_prune


def prune_idempotency_records() -> int:
    """Scheduled hourly (migration 0004): expired Idempotency-Key records."""
    return idempotency_records_prune(now=timezone.now())
