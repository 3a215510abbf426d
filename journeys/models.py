"""Journeys, their graph (nodes and edges), and runs: one user's way through one journey.

Journeys sit above the webhook channel and the history: a run waiting on a webhook node
points at its Delivery; history never points back.
"""

import uuid

from django.db import models

from flarelane.audience.models import EndUser, Event, Project
from history.models import Delivery


class Journey(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        ACTIVE = "active"
        PAUSED = "paused"
        ARCHIVED = "archived"

    class Reentry(models.TextChoices):
        ONCE = "once"
        AFTER_HOURS = "after_hours", "Again after N hours"
        ALWAYS = "always"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="journeys")
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    entry_event = models.CharField(
        max_length=200, blank=True, help_text="Event type that enrols users; empty for API-only entry."
    )
    entry_filter = models.JSONField(
        null=True, blank=True, help_text='{"field": "entry_event.data.plan", "op": "equals", "value": "pro"}'
    )
    reentry_policy = models.CharField(max_length=16, choices=Reentry.choices, default=Reentry.ONCE)
    reentry_hours = models.PositiveIntegerField(null=True, blank=True)
    exit_events = models.JSONField(default=list, blank=True)
    duplicated_from = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["project", "status", "entry_event"], name="journey_entry_lookup")]

    def __str__(self) -> str:
        return self.name


class JourneyNode(models.Model):
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="nodes")
    key = models.CharField(max_length=100)
    type = models.CharField(max_length=16)
    config = models.JSONField(default=dict, blank=True)
    position = models.JSONField(default=dict, blank=True)
    # Denormalised from config for "which journeys use this webhook".
    webhook = models.ForeignKey(
        "channels_webhook.Webhook", on_delete=models.PROTECT, null=True, blank=True, related_name="journey_nodes"
    )
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["journey", "order"]
        constraints = [models.UniqueConstraint(fields=["journey", "key"], name="journey_node_key_unique")]

    def __str__(self) -> str:
        return f"{self.key} ({self.type})"


class JourneyEdge(models.Model):
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="edges")
    source_key = models.CharField(max_length=100)
    target_key = models.CharField(max_length=100)
    branch = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["journey", "id"]

    def __str__(self) -> str:
        return f"{self.source_key} → {self.target_key}"


class JourneyRun(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active"  # due to move on at `due_at`
        WAITING = "waiting"  # on a delivery that is not final yet
        COMPLETED = "completed"
        EXITED = "exited"  # taken out by an exit event or a paused/archived journey

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="runs")
    end_user = models.ForeignKey(EndUser, on_delete=models.CASCADE, related_name="journey_runs")
    entry_event = models.ForeignKey(Event, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    entry_event_snapshot = models.JSONField(default=dict, blank=True)
    node_key = models.CharField(max_length=100)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    due_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    delivery = models.ForeignKey(Delivery, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "due_at"], name="journey_run_due"),
            models.Index(fields=["journey", "end_user", "-created_at"], name="journey_run_user"),
        ]

    def __str__(self) -> str:
        return f"{self.end_user_id} at {self.node_key} ({self.status})"


class JourneyStep(models.Model):
    """What happened to a run at a node; node counts on the canvas are counts of these."""

    class Outcome(models.TextChoices):
        ENTERED = "entered"
        SUCCESS = "success"
        FAILURE = "failure"

    run = models.ForeignKey(JourneyRun, on_delete=models.CASCADE, related_name="steps")
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="+")
    node_key = models.CharField(max_length=100)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["journey", "node_key", "outcome"], name="journey_step_counts")]
        constraints = [
            # Two workers advancing the same run cannot record a node twice.
            models.UniqueConstraint(fields=["run", "node_key", "outcome"], name="journey_step_once")
        ]

    def __str__(self) -> str:
        return f"{self.node_key}: {self.outcome}"
