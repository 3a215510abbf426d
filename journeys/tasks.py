"""django-q2 tasks of the journey engine: ids in, idempotent."""

from django.utils import timezone
from django_q.tasks import async_task

from channels_webhook.tasks import _broker
from journeys import engine

ADVANCE_SCHEDULE_NAME = "Advance due journey runs"


def enqueue_run_advance(run_id: str) -> None:
    async_task("journeys.tasks.advance_run", run_id, broker=_broker(), task_name=f"journey run {run_id}")


def advance_run(run_id: str) -> None:
    engine.run_advance(run_id=run_id)


def advance_due_runs() -> int:
    run_ids = engine.runs_due(now=timezone.now())
    for run_id in run_ids:
        enqueue_run_advance(str(run_id))
    return len(run_ids)
