"""Writes for journeys: create, update (drafts only), activate, pause, duplicate; and events,
which record what a user did and enrol them in the journeys that start on it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from channels_webhook.models import Webhook
from flarelane.audience.models import EndUser, Event, Project
from flarelane.audience.services import event_record
from journeys import graph as graphs
from journeys.models import Journey, JourneyEdge, JourneyNode, JourneyRun

JOURNEY_FIELDS = ("name", "entry_event", "entry_filter", "reentry_policy", "reentry_hours", "exit_events")


class JourneyInvalid(Exception):
    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


def journey_graph(journey: Journey) -> graphs.Graph:
    return graphs.Graph(
        nodes=tuple(graphs.Node(key=n.key, type=n.type, config=n.config, position=n.position) for n in journey.nodes.all()),
        edges=tuple(graphs.Edge(source=e.source_key, target=e.target_key, branch=e.branch) for e in journey.edges.all()),
    )


def _settings_problems(values: Mapping[str, Any]) -> list[str]:
    problems = []
    if values.get("reentry_policy") not in graphs.REENTRY_POLICIES:
        problems.append(f"Re-entry policy must be one of {', '.join(graphs.REENTRY_POLICIES)}.")
    if values.get("reentry_policy") == "after_hours" and not values.get("reentry_hours"):
        problems.append("Re-entry 'after_hours' needs hours (a whole number ≥ 1).")
    entry_filter = values.get("entry_filter")
    if entry_filter and (
        not isinstance(entry_filter, Mapping)
        or entry_filter.get("op") not in graphs.CONDITION_OPS
        or not str(entry_filter.get("field") or "").strip()
    ):
        problems.append(f"The entry filter needs field, op ({', '.join(graphs.CONDITION_OPS)}) and value.")
    if not isinstance(values.get("exit_events") or [], list):
        problems.append("Exit events are a list of event types.")
    return problems


def _save_graph(journey: Journey, graph: graphs.Graph) -> None:
    journey.nodes.all().delete()
    journey.edges.all().delete()
    webhook_ids = {n.config.get("webhook") for n in graph.nodes if n.type == "webhook"}
    own = set(
        Webhook.objects.filter(project=journey.project, pk__in=[w for w in webhook_ids if isinstance(w, int)]).values_list(
            "pk", flat=True
        )
    )
    JourneyNode.objects.bulk_create(
        JourneyNode(
            journey=journey,
            key=node.key,
            type=node.type,
            config=dict(node.config),
            position=dict(node.position),
            webhook_id=node.config.get("webhook") if node.type == "webhook" and node.config.get("webhook") in own else None,
            order=index,
        )
        for index, node in enumerate(graph.nodes)
    )
    JourneyEdge.objects.bulk_create(
        JourneyEdge(journey=journey, source_key=e.source, target_key=e.target, branch=e.branch) for e in graph.edges
    )


@transaction.atomic
def journey_create(*, project: Project, values: Mapping[str, Any], graph: graphs.Graph) -> Journey:
    values = {"reentry_policy": "once", "exit_events": [], **values}
    problems = _settings_problems(values)
    if problems:
        raise JourneyInvalid(problems)
    journey = Journey.objects.create(project=project, **{f: values[f] for f in JOURNEY_FIELDS if f in values})
    _save_graph(journey, graph)
    return journey


@transaction.atomic
def journey_update(*, journey: Journey, values: Mapping[str, Any], graph: graphs.Graph | None) -> Journey:
    if journey.status == Journey.Status.ACTIVE:
        raise JourneyInvalid(["An active journey cannot be edited: pause it, or duplicate it to make an editable draft."])
    if journey.status == Journey.Status.ARCHIVED:
        raise JourneyInvalid(["An archived journey cannot be edited: duplicate it to make an editable draft."])
    merged = {f: values.get(f, getattr(journey, f)) for f in JOURNEY_FIELDS}
    problems = _settings_problems(merged)
    if problems:
        raise JourneyInvalid(problems)
    for field, value in merged.items():
        setattr(journey, field, value)
    journey.save()
    if graph is not None:
        _save_graph(journey, graph)
    return journey


def journey_activation_problems(*, journey: Journey) -> list[str]:
    variables = dict(Webhook.objects.filter(project=journey.project).values_list("pk", "data_variables"))
    return graphs.activation_problems(journey_graph(journey), webhook_variables=variables)


@transaction.atomic
def journey_activate(*, journey: Journey) -> Journey:
    problems = journey_activation_problems(journey=journey)
    if problems:
        raise JourneyInvalid(problems)
    journey.status = Journey.Status.ACTIVE
    journey.activated_at = timezone.now()
    journey.save(update_fields=["status", "activated_at", "updated_at"])
    return journey


def journey_pause(*, journey: Journey) -> Journey:
    """New users stop entering and runs in it hold where they are until it is activated again."""
    if journey.status != Journey.Status.ACTIVE:
        raise JourneyInvalid([f"Only an active journey can be paused (this one is {journey.status})."])
    journey.status = Journey.Status.PAUSED
    journey.save(update_fields=["status", "updated_at"])
    return journey


def journey_archive(*, journey: Journey) -> Journey:
    journey.status = Journey.Status.ARCHIVED
    journey.save(update_fields=["status", "updated_at"])
    JourneyRun.objects.filter(journey=journey, status__in=[JourneyRun.Status.ACTIVE, JourneyRun.Status.WAITING]).update(
        status=JourneyRun.Status.EXITED, finished_at=timezone.now()
    )
    return journey


@transaction.atomic
def journey_duplicate(*, journey: Journey) -> Journey:
    suffix = " (copy)"
    # A name already at the column's limit is shortened, or the copy would not fit (PostgreSQL refuses it).
    max_length = Journey._meta.get_field("name").max_length or 200
    copy = Journey.objects.create(
        project=journey.project,
        name=journey.name[: max_length - len(suffix)] + suffix,
        **{f: getattr(journey, f) for f in JOURNEY_FIELDS if f != "name"},
        duplicated_from=journey,
    )
    _save_graph(copy, journey_graph(journey))
    return copy


# --------------------------------------------------------------------------- events and entry


@dataclass(frozen=True)
class EventOutcome:
    event: Event
    recorded: bool
    enrolled_run_ids: list[str]
    exited_runs: int


def _why_not_enter(journey: Journey, end_user: EndUser, now: dt.datetime) -> str:
    """Why the re-entry rules keep the user out now, as a sentence, or ""."""
    last = (
        JourneyRun.objects.filter(journey=journey, end_user=end_user)
        .order_by("-created_at")
        .values_list("created_at", "status")
        .first()
    )
    if last is None:
        return ""
    if last[1] in (JourneyRun.Status.ACTIVE, JourneyRun.Status.WAITING):
        return "The user is in this journey now; a user has one run at a time."
    if journey.reentry_policy == Journey.Reentry.ONCE:
        return "The user has been through this journey, and it lets each user in once."
    if journey.reentry_policy == Journey.Reentry.AFTER_HOURS:
        again = last[0] + dt.timedelta(hours=journey.reentry_hours or 0)
        if now < again:
            return f"The user may enter this journey again from {again.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC."
    return ""


def _entry_context(end_user: EndUser, event: Event | None) -> dict[str, Any]:
    return {
        "userId": end_user.user_id,
        "email": end_user.email,
        "phoneNumber": end_user.phone_number,
        "name": end_user.name,
        "country": end_user.country,
        "language": end_user.language,
        "timeZone": end_user.time_zone,
        "tags": end_user.tags or {},
        "entry_event": {"type": event.type, "data": event.data} if event else {},
    }


def journey_enrol(*, journey: Journey, end_user: EndUser, event: Event | None = None) -> JourneyRun | None:
    """Start a run at the entry node if the journey is active and its rules let the user in."""
    run, _ = journey_enrol_or_why_not(journey=journey, end_user=end_user, event=event)
    return run


def journey_enrol_or_why_not(*, journey: Journey, end_user: EndUser, event: Event | None = None) -> tuple[JourneyRun | None, str]:
    """journey_enrol, with the reason (a sentence) when the user is not let in."""
    from journeys.tasks import enqueue_run_advance

    now = timezone.now()
    if journey.status != Journey.Status.ACTIVE:
        return None, "Only an active journey enrols users."
    refused = _why_not_enter(journey, end_user, now)
    if refused:
        return None, refused
    if journey.entry_filter and not graphs.condition_holds(journey.entry_filter, _entry_context(end_user, event)):
        return None, "The user does not match the journey's entry filter."
    entry = journey.nodes.filter(type="entry").values_list("key", flat=True).first()
    if entry is None:
        return None, "The journey has no entry node."
    run = JourneyRun.objects.create(
        journey=journey,
        end_user=end_user,
        entry_event=event,
        entry_event_snapshot={"type": event.type, "data": event.data} if event else {},
        node_key=entry,
        status=JourneyRun.Status.ACTIVE,
        due_at=now,
    )
    transaction.on_commit(lambda: enqueue_run_advance(str(run.pk)))
    return run, ""


@transaction.atomic
def event_ingest(*, project: Project, end_user: EndUser, type: str, data: dict[str, Any], event_id: str | None) -> EventOutcome:
    """Record the event once; take the user out of journeys it exits; enrol them in those it starts."""
    event, recorded = event_record(project=project, end_user=end_user, type=type, data=data, event_id=event_id)
    if not recorded:
        return EventOutcome(event=event, recorded=False, enrolled_run_ids=[], exited_runs=0)
    exiting = [j.pk for j in Journey.objects.filter(project=project).exclude(exit_events=[]) if type in (j.exit_events or [])]
    exited = 0
    if exiting:
        exited = JourneyRun.objects.filter(
            journey_id__in=exiting, end_user=end_user, status__in=[JourneyRun.Status.ACTIVE, JourneyRun.Status.WAITING]
        ).update(status=JourneyRun.Status.EXITED, finished_at=timezone.now())
    runs = [
        journey_enrol(journey=journey, end_user=end_user, event=event)
        for journey in Journey.objects.filter(project=project, status=Journey.Status.ACTIVE, entry_event=type)
    ]
    return EventOutcome(event=event, recorded=True, enrolled_run_ids=[str(r.pk) for r in runs if r], exited_runs=exited)
