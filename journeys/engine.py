"""The journey engine: moves runs through their graph. Runs and due times live in the database.

A run is advanced by one worker at a time: it is claimed with a conditional UPDATE that
sets a lease, so two workers handed the same run cannot both move it, and each node records
its step once (a unique constraint), so a webhook node creates one delivery per run.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from channels_webhook import sending
from channels_webhook.rendering import RenderFailed, render_value
from channels_webhook.selectors import webhook_get
from flarelane.audience.services import TagsRefused, end_user_patch
from flarelane.storable_json import unstorable_json_problem
from history.models import Delivery
from history.services import JourneyOrigin
from journeys import graph as graphs
from journeys.models import Journey, JourneyRun, JourneyStep
from journeys.services import journey_graph

logger = logging.getLogger(__name__)

RUN_LEASE_SECONDS = 180
MAX_STEPS_PER_ADVANCE = 100
DUE_BATCH_SIZE = 500


def _claimable(now: dt.datetime, leased: dt.datetime | None = None) -> Q:
    free = Q(lease_expires_at=leased) if leased else Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)
    due = Q(status=JourneyRun.Status.ACTIVE, due_at__lte=now) | Q(
        status=JourneyRun.Status.WAITING, delivery__status__in=Delivery.FINAL_STATUSES
    )
    return free & due & Q(journey__status=Journey.Status.ACTIVE)


def _claim(run_id: uuid.UUID | str, now: dt.datetime) -> JourneyRun | None:
    # The lease is taken with a condition on the run's own row only, so that on PostgreSQL a
    # second worker's UPDATE re-checks it after the first commits and takes nothing.
    lease = now + dt.timedelta(seconds=RUN_LEASE_SECONDS)
    free = Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)
    if not JourneyRun.objects.filter(Q(pk=run_id) & free).update(lease_expires_at=lease):
        return None
    if not JourneyRun.objects.filter(Q(pk=run_id) & _claimable(now, leased=lease)).exists():
        JourneyRun.objects.filter(pk=run_id, lease_expires_at=lease).update(lease_expires_at=None)
        return None  # not due (any more): release and leave it
    return JourneyRun.objects.select_related("journey", "journey__project", "end_user", "delivery").get(pk=run_id)


def _record(run: JourneyRun, node_key: str, outcome: str) -> bool:
    """Record a step once; False if this run already has it (another worker got there)."""
    try:
        with transaction.atomic():
            JourneyStep.objects.create(run=run, journey_id=run.journey_id, node_key=node_key, outcome=outcome)
        return True
    except IntegrityError:
        return False


def _save(run: JourneyRun, **changes: Any) -> None:
    for field, value in changes.items():
        setattr(run, field, value)
    JourneyRun.objects.filter(pk=run.pk).update(**changes, updated_at=timezone.now())


def _finish(run: JourneyRun, now: dt.datetime) -> None:
    _save(run, status=JourneyRun.Status.COMPLETED, finished_at=now, due_at=None, lease_expires_at=None)


def _render_node_data(run: JourneyRun, config: dict[str, Any]) -> dict[str, str]:
    context = sending.user_context(
        end_user=run.end_user,
        data={},
        delivery_id="",
        entry_event=run.entry_event_snapshot or None,
        journey={"id": run.journey_id, "name": run.journey.name},
    )
    return {
        name: render_value(str(source), context, field_name=f"Data variable '{name}'")
        for name, source in (config.get("data") or {}).items()
    }


def _webhook_node(run: JourneyRun, node: graphs.Node) -> Delivery | None:
    """Send the node's webhook for this run; None when the webhook no longer exists."""
    webhook = webhook_get(project=run.journey.project, webhook_id=node.config.get("webhook"))
    if webhook is None:
        return None
    origin = JourneyOrigin(
        journey_id=run.journey_id, journey_name=run.journey.name, node_key=node.key, entry_event=run.entry_event_snapshot or None
    )
    try:
        data = _render_node_data(run, dict(node.config))
    except RenderFailed as failed:
        return sending.fail_for_journey(
            webhook=webhook, end_user=run.end_user, origin=origin, reason=failed.reason, message=failed.message
        )
    return sending.send_for_journey(webhook=webhook, end_user=run.end_user, data=data, origin=origin)


def _after_delivery(run: JourneyRun, node: graphs.Node, delivery: Delivery) -> str:
    """The branch to follow now that the node's delivery is final."""
    if delivery.status == Delivery.Status.SUCCESS:
        mapping = node.config.get("response_to_tags") or {}
        if mapping and not delivery.response_body_is_base64:
            try:
                tags = graphs.response_values(mapping, json.loads(delivery.response_body))
            except (ValueError, RecursionError):  # not JSON, or nested past what Python parses
                tags = {}
            # A value the database cannot keep (NUL, a lone surrogate, nesting past 32 levels)
            # is left out rather than fail the save on every advance and stall the run.
            tags = {tag: value for tag, value in tags.items() if unstorable_json_problem(value) is None}
            if tags:
                # Merged into the user as stored now, not the copy loaded with the run: tags
                # changed while the webhook was in flight are kept.
                try:
                    run.end_user = end_user_patch(end_user=run.end_user, attributes={}, tags=tags)
                except TagsRefused:
                    logger.warning("Run %s: the response's tags would give the user too many; not saved", run.pk)
        _record(run, node.key, JourneyStep.Outcome.SUCCESS)
        return "success"
    _record(run, node.key, JourneyStep.Outcome.FAILURE)
    return "failure"


def _arrive(run: JourneyRun, graph: graphs.Graph, key: str, now: dt.datetime) -> str | None:
    """Enter node `key`. Returns the branch to leave by now, or None when the run parks here."""
    node = graph.node(key)
    _save(run, node_key=key, delivery=None)
    if node is None:
        logger.warning("Run %s reached missing node %s; completing it", run.pk, key)
        _finish(run, now)
        return None
    if not _record(run, key, JourneyStep.Outcome.ENTERED):
        return None  # another worker already handled this node for this run
    if node.type == "exit":
        _finish(run, now)
        return None
    if node.type == "delay":
        due = graphs.delay_until(node.config, now=now, time_zone=run.end_user.time_zone)
        if due > now:
            _save(run, status=JourneyRun.Status.ACTIVE, due_at=due)
            return None
        return ""
    if node.type == "condition":
        context = {
            **sending.user_context(end_user=run.end_user, data={}, delivery_id=""),
            "entry_event": run.entry_event_snapshot,
        }
        return "true" if graphs.condition_holds(node.config, context) else "false"
    if node.type == "split":
        return graphs.split_branch(node.config, seed=f"{run.pk}:{key}")
    if node.type == "webhook":
        delivery = _webhook_node(run, node)
        if delivery is None:
            _record(run, key, JourneyStep.Outcome.FAILURE)
            return "failure"
        if delivery.status in Delivery.FINAL_STATUSES:
            return _after_delivery(run, node, delivery)
        _save(run, status=JourneyRun.Status.WAITING, delivery=delivery, due_at=None)
        return None
    return ""  # entry


def run_advance(*, run_id: uuid.UUID | str) -> None:
    """Move a due run as far as it can go now. Safe to call twice: the claim decides."""
    now = timezone.now()
    run = _claim(run_id, now)
    if run is None:
        return
    graph = journey_graph(run.journey)
    node = graph.node(run.node_key)
    branch: str | None
    if run.status == JourneyRun.Status.WAITING and run.delivery is not None and node is not None:
        branch = _after_delivery(run, node, run.delivery)
    elif node is not None and node.type == "delay" and JourneyStep.objects.filter(run=run, node_key=node.key).exists():
        branch = ""  # a delay that is over
    else:
        branch = _arrive(run, graph, run.node_key, now)
    steps = 0
    while branch is not None and steps < MAX_STEPS_PER_ADVANCE:
        steps += 1
        target = graph.next_key(run.node_key, branch)
        if target is None:
            _finish(run, now)  # validation forbids loose ends; a graph edited since ends here
            break
        _save(run, status=JourneyRun.Status.ACTIVE)
        branch = _arrive(run, graph, target, now)
    _save(run, lease_expires_at=None)


def runs_due(*, now: dt.datetime, limit: int = DUE_BATCH_SIZE) -> list[uuid.UUID]:
    """Runs that can move now. On PostgreSQL rows locked by another sweep are skipped."""
    runs = JourneyRun.objects.filter(_claimable(now)).order_by("due_at")
    if connection.features.has_select_for_update_skip_locked:
        with transaction.atomic():
            return list(runs.select_for_update(skip_locked=True, of=("self",)).values_list("pk", flat=True)[:limit])
    return list(runs.values_list("pk", flat=True)[:limit])
