"""The send history: one Delivery per send and one DeliveryAttempt per HTTP attempt.

Rows are written only by history/services.py. History sits below journeys: a delivery made
by a journey keeps the journey's id, name and node key as plain values.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from channels_webhook.models import Webhook
from flarelane.audience.models import EndUser, Project


class SendBatch(models.Model):
    """A send to many users at once; its deliveries point at it, so progress is a count."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="send_batches")
    webhook = models.ForeignKey(Webhook, on_delete=models.SET_NULL, null=True, related_name="send_batches")
    webhook_name = models.CharField(max_length=200)
    source = models.CharField(max_length=16)
    total = models.PositiveIntegerField(default=0)
    # A send to an audience is fanned out in chunks by a task: what it sends to, the data,
    # and how far it got (the last user's pk), so a task run twice continues, never repeats.
    audience = models.JSONField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)
    fanned_out_to_user_pk = models.BigIntegerField(default=0)
    fan_out_done = models.BooleanField(default=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["webhook", "-created_at"], name="send_batch_webhook_recent")]

    def __str__(self) -> str:
        return f"{self.webhook_name} to {self.total} users"


class Delivery(models.Model):
    class Source(models.TextChoices):
        TEST = "test", "Test send"
        JOURNEY = "journey", "Journey"
        API = "api", "API"
        CONSOLE = "console", "Console"  # sent to many users from the webhook page
        RESEND = "resend", "Resend"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SUCCESS = "success", "Success"
        FAILURE = "failure", "Failure"

    class FailureReason(models.TextChoices):
        RENDER_ERROR = "render_error", "Template could not be rendered"
        INVALID_REQUEST = "invalid_request", "Invalid request"
        BLOCKED_DESTINATION = "blocked_destination", "Blocked destination"
        TIMEOUT = "timeout", "Timeout"
        CONNECTION_ERROR = "connection_error", "Connection error"
        HTTP_ERROR = "http_error", "HTTP error status"
        CANCELLED = "cancelled", "Cancelled"

    FINAL_STATUSES = (Status.SUCCESS, Status.FAILURE)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Foreign keys without an index of their own where a composite index below starts with
    # them: every index is written again when a delivery changes status, twice per send.
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="deliveries", db_index=False)
    webhook = models.ForeignKey(Webhook, on_delete=models.SET_NULL, null=True, related_name="deliveries", db_index=False)
    webhook_name = models.CharField(max_length=200)
    end_user = models.ForeignKey(EndUser, on_delete=models.SET_NULL, null=True, blank=True, related_name="deliveries")
    user_id = models.CharField("user id", max_length=255)
    source = models.CharField(max_length=16, choices=Source.choices)
    journey_id = models.BigIntegerField(null=True, blank=True)
    journey_name = models.CharField(max_length=200, blank=True)
    journey_node_key = models.CharField(max_length=100, blank=True)
    data = models.JSONField("data variables", default=dict, blank=True)
    batch = models.ForeignKey(
        SendBatch, on_delete=models.SET_NULL, null=True, blank=True, related_name="deliveries", db_index=False
    )
    # The event that made the user enter the journey, for `{{ entry_event... }}` in templates.
    entry_event = models.JSONField(null=True, blank=True)

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    failure_reason = models.CharField(max_length=32, choices=FailureReason.choices, blank=True)
    error_message = models.TextField(blank=True)

    # The request as first rendered; retries send exactly this. `request_headers` has secret
    # values masked (for display); the real ones are sealed in `request_headers_sealed`.
    request_method = models.CharField(max_length=8, blank=True)
    request_url = models.TextField(blank=True)
    request_headers = models.JSONField(default=list, blank=True)
    request_headers_sealed = models.TextField(blank=True)
    request_body = models.TextField(blank=True)

    response_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_headers = models.JSONField(default=list, blank=True)
    response_body = models.TextField(blank=True)
    response_body_is_base64 = models.BooleanField(default=False)
    response_body_truncated = models.BooleanField(default=False)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    attempt_count = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=1)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    # Set on few deliveries (resends, test sends), so indexed only where set.
    resent_from = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="resends", db_index=False
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["project", "-created_at"], name="delivery_project_recent"),
            models.Index(fields=["project", "status", "-created_at"], name="delivery_project_status"),
            models.Index(fields=["webhook", "-created_at"], name="delivery_webhook_recent"),
            models.Index(fields=["project", "user_id", "-created_at"], name="delivery_project_user"),
            models.Index(fields=["status", "next_attempt_at"], name="delivery_due"),
            models.Index(fields=["batch", "status"], name="delivery_batch_status"),
            # The console lists across projects: its Success/Failure tabs and user filter.
            models.Index(fields=["status", "-created_at"], name="delivery_status_recent"),
            models.Index(fields=["user_id", "-created_at"], name="delivery_user_recent"),
            # Its other filters, so a rare value (a reason, a journey, resends) is found
            # through an index instead of reading a million rows to learn there are few.
            models.Index(fields=["failure_reason", "-created_at"], name="delivery_reason_recent"),
            models.Index(fields=["source", "-created_at"], name="delivery_source_recent"),
            models.Index(fields=["journey_name", "-created_at"], name="delivery_journey_recent"),
            models.Index(fields=["resent_from"], name="delivery_resent_from", condition=Q(resent_from__isnull=False)),
            models.Index(fields=["created_by"], name="delivery_created_by", condition=Q(created_by__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.webhook_name} → {self.user_id} ({self.status})"

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL_STATUSES


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    outcome = models.CharField(max_length=32)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    failure_reason = models.CharField(max_length=32, blank=True)
    error_message = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Headers made for this attempt alone, on top of the delivery's stored request: the
    # Standard Webhooks signature carries the attempt's time, so each attempt has its own.
    request_headers = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="attempt_number_unique")]

    def __str__(self) -> str:
        return f"attempt {self.number}"


class DeliveryHourlyCount(models.Model):
    """Finished deliveries per project, webhook and UTC hour of creation: the hourly chart's
    source, so a page view reads a few hundred rows instead of a week of deliveries.

    history/services.py adds to it in the transaction that makes a delivery final, so it
    always equals a count of the final deliveries. The webhook is a plain id, not a foreign
    key: deleting a webhook keeps its counts (0 stands for a delivery without a webhook, so
    the unique constraint also holds for those; NULLs would never conflict).
    """

    NO_WEBHOOK = 0

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    webhook_id = models.BigIntegerField(default=NO_WEBHOOK)
    hour = models.DateTimeField(help_text="Start of the UTC hour the deliveries were created in.")
    success = models.PositiveIntegerField(default=0)
    failure = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "webhook_id", "hour"], name="delivery_hourly_count_unique"),
        ]
        indexes = [
            # The chart of every webhook, and of one webhook (the unique constraint serves a project).
            models.Index(fields=["hour"], name="delivery_hourly_count_hour"),
            models.Index(fields=["webhook_id", "hour"], name="delivery_hourly_count_webhook"),
        ]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H:00} UTC: {self.success} success, {self.failure} failure"
