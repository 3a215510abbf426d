"""django-q2 tasks: thin, they take ids and call a service. Safe to run twice."""

from functools import lru_cache

from django_q.brokers import Broker, get_broker
from django_q.tasks import async_task

from channels_webhook import sending

SWEEP_SCHEDULE_NAME = "Sweep due webhook deliveries"


@lru_cache(maxsize=1)
def _broker() -> Broker:
    # One broker per process: without it every enqueue opens a new Redis connection.
    return get_broker()


def enqueue_deliveries(delivery_ids: list[str]) -> None:
    async_task(
        "channels_webhook.tasks.deliver_many",
        delivery_ids,
        broker=_broker(),
        task_name=f"deliver {delivery_ids[0]} (+{len(delivery_ids) - 1})",
    )


def enqueue_fan_out(batch_id: str) -> None:
    async_task("channels_webhook.tasks.fan_out", batch_id, broker=_broker(), task_name=f"fan out send {batch_id}")


def deliver_many(delivery_ids: list[str]) -> int:
    return sending.deliver_many(delivery_ids=delivery_ids)


def fan_out(batch_id: str) -> int:
    return sending.fan_out(batch_id=batch_id)


def sweep() -> int:
    return sending.sweep()
