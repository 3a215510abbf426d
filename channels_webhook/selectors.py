"""Reads of webhooks."""

from django.db.models import QuerySet

from channels_webhook.models import Webhook
from flarelane.audience.models import Project


def webhook_list(*, project: Project) -> QuerySet[Webhook]:
    return Webhook.objects.filter(project=project).order_by("name", "id")


def webhook_get(*, project: Project, webhook_id: object) -> Webhook | None:
    try:
        return Webhook.objects.select_related("project").filter(project=project, pk=int(str(webhook_id))).first()
    except ValueError:
        return None
