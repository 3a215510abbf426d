"""The Webhook: a request defined once, each field a Liquid template rendered per user."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from channels_webhook.rendering import HeaderTemplate, RequestTemplate
from flarelane.audience.models import Project
from flarelane.sealing import unseal

# The limiter keeps one database row per request allowed in a second (rate_limit.py), made on
# the first send; a limit in the millions would have that send write millions of rows.
MAX_RATE_LIMIT_PER_SECOND = 1000
RATE_LIMIT_TOO_HIGH = (
    f"A rate limit is at most {MAX_RATE_LIMIT_PER_SECOND} requests per second; leave it empty (or 0) for no limit."
)


class Webhook(models.Model):
    class Method(models.TextChoices):
        # Labelled as written on the wire (TextChoices would show "Post").
        GET = "GET", "GET"
        POST = "POST", "POST"
        PUT = "PUT", "PUT"
        PATCH = "PATCH", "PATCH"
        DELETE = "DELETE", "DELETE"

    class BodyType(models.TextChoices):
        JSON = "json", "JSON"
        FORM = "form", "Form (x-www-form-urlencoded)"
        TEXT = "text", "Text"
        NONE = "none", "No body"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="webhooks")
    name = models.CharField(max_length=200)
    method = models.CharField(max_length=8, choices=Method.choices, default=Method.POST)
    url = models.TextField("URL", help_text="Liquid allowed, e.g. https://api.example.com/users/{{ userId }}")
    # [{"name": str, "secret": bool, "value": str}] with "sealed" (encrypted) instead of
    # "value" for secret headers. Written only through channels_webhook.services.
    headers = models.JSONField(default=list, blank=True)
    body_type = models.CharField(max_length=8, choices=BodyType.choices, default=BodyType.JSON)
    body = models.TextField(blank=True)
    timeout_seconds = models.PositiveSmallIntegerField(default=10, validators=[MinValueValidator(1), MaxValueValidator(30)])
    max_attempts = models.PositiveSmallIntegerField(default=3, validators=[MinValueValidator(1), MaxValueValidator(10)])
    rate_limit_per_second = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(MAX_RATE_LIMIT_PER_SECOND, message=RATE_LIMIT_TOO_HIGH)],
        help_text=f"Requests per second across all workers (a vendor contract), at most {MAX_RATE_LIMIT_PER_SECOND}; "
        "empty or 0 for no limit.",
    )
    send_idempotency_key = models.BooleanField(
        "send Idempotency-Key",
        default=False,
        help_text="Send an Idempotency-Key header with the delivery id, the same on every retry.",
    )
    # Standard Webhooks signing secrets, sealed, newest first; a rotation keeps the previous
    # one signing until `previous_signing_secret_expires_at`. Written by the services only.
    signing_secrets = models.JSONField(default=list, blank=True, editable=False)
    previous_signing_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    is_active = models.BooleanField(default=True)
    # Derived from the templates on every save (static analysis), never typed in.
    data_variables = models.JSONField(default=list, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["project", "name"])]

    def __str__(self) -> str:
        return self.name

    @property
    def is_signed(self) -> bool:
        return bool(self.signing_secrets)

    def request_template(self) -> RequestTemplate:
        """The templates as plain values, secret header values decrypted (for rendering only)."""
        return RequestTemplate(
            method=self.method,
            url=self.url,
            headers=tuple(
                HeaderTemplate(
                    name=header["name"],
                    value=unseal(header["sealed"]) if header.get("secret") else header.get("value", ""),
                    secret=bool(header.get("secret")),
                )
                for header in self.headers
            ),
            body_type=self.body_type,
            body=self.body,
        )


class RateLimitSlot(models.Model):
    """One of a webhook's N send slots (N = its rate limit per second).

    A send takes the slot used longest ago, and only if that was at least a second ago; so
    any one-second window holds at most N sends, whichever worker made them.
    """

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="+")
    index = models.PositiveIntegerField()
    last_used_at = models.FloatField(default=0.0)  # epoch seconds

    class Meta:
        constraints = [models.UniqueConstraint(fields=["webhook", "index"], name="rate_limit_slot_unique")]

    def __str__(self) -> str:
        return f"slot {self.index} of webhook {self.webhook_id}"
