"""Projects, their API keys, and the end users (customers) that webhooks are sent for."""

import hashlib

from django.db import models


class Project(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name or self.slug


class ApiKey(models.Model):
    """A project's API key. Only a SHA-256 of the secret is kept; the prefix finds the row."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=200, blank=True)
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.project.slug})"

    @staticmethod
    def hash_secret(plaintext: str) -> str:
        # The key is 32 random bytes, so a plain SHA-256 is enough (no password stretching).
        return hashlib.sha256(plaintext.encode()).hexdigest()


class EndUser(models.Model):
    """A customer of a project, identified by the project's own user id."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="end_users")
    user_id = models.CharField("user id", max_length=255)
    email = models.CharField(max_length=254, blank=True)
    phone_number = models.CharField(max_length=64, blank=True)
    name = models.CharField(max_length=255, blank=True)
    country = models.CharField(max_length=64, blank=True)
    language = models.CharField(max_length=32, blank=True)
    time_zone = models.CharField(max_length=64, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "user"
        ordering = ["user_id"]
        constraints = [models.UniqueConstraint(fields=["project", "user_id"], name="end_user_unique_per_project")]
        indexes = [models.Index(fields=["project", "email"]), models.Index(fields=["project", "name"])]

    def __str__(self) -> str:
        return self.user_id


class Event(models.Model):
    """Something a user did, sent by the project's systems; journeys start on these."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="events")
    end_user = models.ForeignKey(EndUser, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=200)
    data = models.JSONField(default=dict, blank=True)
    # The sender's id for the event: the same id posted twice is recorded once.
    event_id = models.CharField(max_length=200, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "event_id"], condition=models.Q(event_id__isnull=False), name="event_id_once_per_project"
            )
        ]
        indexes = [models.Index(fields=["project", "type", "-created_at"], name="event_project_type")]

    def __str__(self) -> str:
        return f"{self.type} ({self.end_user_id})"


class IdempotencyRecord(models.Model):
    """The stored answer to a call made with an `Idempotency-Key`, replayed to its retries.

    The row is inserted before the call runs and committed with the call's own writes, so
    the unique (project, key) makes a concurrent duplicate wait, then replay.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    # SHA-256 of the method, path and body: the same key with another request is refused.
    request_fingerprint = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    # The answer as JSON text: a jsonb column would reorder its keys, and a replay must be
    # the same bytes as the first answer.
    response_body = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "key"], name="idempotency_key_once_per_project")]

    def __str__(self) -> str:
        return self.key
