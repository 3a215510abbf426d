"""Per-webhook rate limit shared by every worker: at most N sends in any one-second window.

A webhook limited to N per second has N slot rows. A send takes the slot used longest
ago, if that use is at least a second old, with a conditional UPDATE; two workers racing
for one slot cannot both win. Held in the database, so it works on SQLite with the ORM
broker as well as on PostgreSQL, across processes and machines. A send over the limit
waits; it never fails.
"""

import time

from channels_webhook.models import RateLimitSlot

# A little over a second between two uses of a slot, so that the receiver, which sees the
# requests a few milliseconds after we take the slot, also never counts N+1 in a second.
SLOT_SPACING_SECONDS = 1.05


def _ensure_slots(webhook_id: int, per_second: int) -> None:
    RateLimitSlot.objects.bulk_create(
        [RateLimitSlot(webhook_id=webhook_id, index=index) for index in range(per_second)], ignore_conflicts=True
    )


def wait_for_send_slot(*, webhook_id: int, per_second: int) -> float:
    """Block until a send is allowed, take the slot, and return how long it waited."""
    started = time.monotonic()
    slots = RateLimitSlot.objects.filter(webhook_id=webhook_id, index__lt=per_second)
    while True:
        oldest = slots.order_by("last_used_at", "index").values_list("pk", "last_used_at").first()
        if oldest is None:
            _ensure_slots(webhook_id, per_second)
            continue
        slot_id, last_used_at = oldest
        now = time.time()
        free_at = last_used_at + SLOT_SPACING_SECONDS
        if now >= free_at:
            if RateLimitSlot.objects.filter(pk=slot_id, last_used_at=last_used_at).update(last_used_at=now):
                return time.monotonic() - started
            continue  # another worker took it first
        time.sleep(min(free_at - now, 1.0))
