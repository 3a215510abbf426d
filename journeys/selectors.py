"""Reads of journeys: lists, one journey, and counts per node for the canvas and the API."""

from typing import Any

from django.db.models import Count, QuerySet

from flarelane.audience.models import Project
from journeys.models import Journey, JourneyRun, JourneyStep


def journey_list(*, project: Project) -> QuerySet[Journey]:
    return Journey.objects.filter(project=project).prefetch_related("nodes", "edges").order_by("name", "id")


def journey_get(*, project: Project, journey_id: object) -> Journey | None:
    try:
        pk = int(str(journey_id))
    except ValueError:
        return None
    return Journey.objects.filter(project=project, pk=pk).prefetch_related("nodes", "edges").first()


def journeys_using_webhook(*, webhook_id: int) -> QuerySet[Journey]:
    return Journey.objects.filter(nodes__webhook_id=webhook_id).distinct().order_by("name")


def journey_stats(*, journey: Journey) -> dict[str, Any]:
    """Per node: entered, waiting (runs parked there now), success and failure; and run totals."""
    nodes: dict[str, dict[str, int]] = {
        key: {"entered": 0, "waiting": 0, "success": 0, "failure": 0} for key in journey.nodes.values_list("key", flat=True)
    }
    for key, outcome, count in (
        JourneyStep.objects.filter(journey=journey)
        .values_list("node_key", "outcome")
        .annotate(n=Count("pk"))
        .values_list("node_key", "outcome", "n")
    ):
        if key in nodes:
            nodes[key][outcome] = count
    unfinished = JourneyRun.objects.filter(journey=journey, status__in=[JourneyRun.Status.ACTIVE, JourneyRun.Status.WAITING])
    for key, count in unfinished.values_list("node_key").annotate(n=Count("pk")).values_list("node_key", "n"):
        if key in nodes:
            nodes[key]["waiting"] = count
    runs = dict(
        JourneyRun.objects.filter(journey=journey).values_list("status").annotate(n=Count("pk")).values_list("status", "n")
    )
    return {"nodes": nodes, "runs": {status: runs.get(status, 0) for status in JourneyRun.Status.values}}
