"""Per-webhook rate limit shared by every worker: at most N requests reach the receiver in
any one-second window.

A webhook limited to N per second has N slot rows. A send takes a slot that has been free
for at least a second, with a conditional UPDATE (two workers racing for one slot cannot
both win), marks it busy while the request is in flight, and frees it with the time the
response came back. A request reaches the receiver between taking its slot and getting
its answer, so two requests through one slot arrive more than a second apart, and N slots
allow at most N arrivals in any second, whatever the latency and whichever worker sent
them. Held in the database, so it works on SQLite with the ORM broker as on PostgreSQL.
A send over the limit waits; it never fails.
"""

import math
import time

from channels_webhook.models import RateLimitSlot

# A little over a second: the receiver counts arrivals, which network jitter and the clocks
# of different machines (slots compare wall-clock times) move by milliseconds; at exactly
# one second a sixth request could land inside a receiver's one-second window for five.
SLOT_SPACING_SECONDS = 1.05
# A slot held by a worker that died mid-send frees itself this long after its deadline.
ABANDONED_SLOT_GRACE_SECONDS = 5.0


def _ensure_slots(webhook_id: int, per_second: int) -> None:
    RateLimitSlot.objects.bulk_create(
        [RateLimitSlot(webhook_id=webhook_id, index=index) for index in range(per_second)], ignore_conflicts=True
    )


def take_send_slot(*, webhook_id: int, per_second: int, hold_seconds: float, give_up_at: float = math.inf) -> int | None:
    """Wait until a slot is free, take it for at most `hold_seconds`, and return its id; or
    None once `time.monotonic()` passes `give_up_at` without one."""
    slots = RateLimitSlot.objects.filter(webhook_id=webhook_id, index__lt=per_second)
    while True:
        if time.monotonic() > give_up_at:
            return None
        oldest = slots.order_by("last_used_at", "index").values_list("pk", "last_used_at").first()
        if oldest is None:
            _ensure_slots(webhook_id, per_second)
            continue
        slot_id, last_used_at = oldest
        now = time.time()
        free_at = last_used_at + SLOT_SPACING_SECONDS
        if now >= free_at:
            # While the request is in flight the slot looks used at the end of its deadline.
            busy_until = now + hold_seconds + ABANDONED_SLOT_GRACE_SECONDS
            if RateLimitSlot.objects.filter(pk=slot_id, last_used_at=last_used_at).update(last_used_at=busy_until):
                return slot_id
            continue  # another worker took it first
        time.sleep(min(free_at - now, 1.0))


def release_send_slot(*, slot_id: int) -> None:
    """The response is back: the request reached the receiver no later than now."""
    RateLimitSlot.objects.filter(pk=slot_id).update(last_used_at=time.time())
