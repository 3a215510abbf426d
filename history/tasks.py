"""django-q2 tasks of the send history. They decide nothing: settings in, one service call."""

import datetime as dt

from django.conf import settings
from django.utils import timezone

from history.services import deliveries_prune

# Rows per transaction: small enough that the table is never held for long.
PRUNE_BATCH_SIZE = 1000


def prune_history() -> int:
    """Scheduled hourly (migration 0006): deliveries older than HISTORY_RETENTION_DAYS go."""
    days = settings.HISTORY_RETENTION_DAYS
    if days <= 0:
        return 0  # 0 keeps the history forever
    return deliveries_prune(older_than=timezone.now() - dt.timedelta(days=days), batch_size=PRUNE_BATCH_SIZE)
