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


def enqueue_delivery(delivery_id: str) -> None:
    async_task("channels_webhook.tasks.deliver", delivery_id, broker=_broker(), task_name=f"deliver {delivery_id}")


def deliver(delivery_id: str) -> None:
    sending.deliver(delivery_id=delivery_id)


def sweep() -> int:
    return sending.sweep()
