"""Seed the demo: an admin login, a project with users, the two example webhooks of the
reference documentation aimed at the built-in demo receiver, and a first history.

Idempotent: running it again updates the same rows and adds no duplicates.
"""

from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from channels_webhook.models import Webhook
from channels_webhook.sending import send_test
from channels_webhook.services import HeaderInput, webhook_create, webhook_update
from flarelane.audience.models import EndUser, Project
from flarelane.audience.services import end_user_put, project_get_or_create
from history.models import Delivery
from journeys.graph import parse_graph
from journeys.services import journey_activate, journey_create

DEMO_USERS = [
    (
        "u-1001",
        {"name": "Minji Kim", "email": "minji@example.com", "country": "KR", "language": "ko", "time_zone": "Asia/Seoul"},
        {"phone_number": "01012345678", "plan": "pro"},
    ),
    (
        "u-1002",
        {"name": "Jisoo Park", "email": "jisoo@example.com", "country": "KR", "language": "ko", "time_zone": "Asia/Seoul"},
        {"phone_number": "01087654321", "plan": "free"},
    ),
    (
        "u-1003",
        {"name": "Alex Morgan", "email": "alex@example.com", "country": "US", "language": "en", "time_zone": "America/New_York"},
        {"phone_number": "01055550100", "plan": "pro"},
    ),
    # No phone number: the SMS webhook refuses to send a blank recipient for this user.
    (
        "u-1004",
        {"name": "Sam Lee", "email": "sam@example.com", "country": "KR", "language": "en", "time_zone": "Asia/Seoul"},
        {"plan": "free"},
    ),
]

SMS_BODY = (
    '{"body": "{{ text }}", "sendNo": "15446859", '
    '"recipientList": [{"recipientNo": "{{ tags.phone_number }}", "countryCode": "82"}]}'
)
COUPON_BODY = '{"userId": "{{ userId }}", "text": "{{ text }}"}'


def _follow_the_receiver(project: Project, receiver: str) -> str:
    """Point the project's webhooks at the demo receiver of this run (make run PORT=...)."""
    moved = 0
    for webhook in Webhook.objects.filter(project=project, url__contains=DEMO_RECEIVER_PATH):
        url = receiver + webhook.url[webhook.url.index(DEMO_RECEIVER_PATH) + len(DEMO_RECEIVER_PATH) :]
        if url != webhook.url:
            webhook_update(webhook=webhook, values={"url": url})
            moved += 1
    return f"{moved} webhooks now aim at {receiver}" if moved else ""


def demo_webhooks(receiver: str) -> list[tuple[dict[str, Any], list[HeaderInput]]]:
    return [
        (
            {
                "name": "Third-party SMS",
                "method": "POST",
                "url": f"{receiver}/sms/v3.0/appKeys/demo/sender/sms",
                "body_type": "json",
                "body": SMS_BODY,
            },
            [
                HeaderInput(name="Content-Type", value="application/json;charset=UTF-8"),
                HeaderInput(name="X-Secret-Key", value="demo-secret-key-123", secret=True),
            ],
        ),
        (
            {
                "name": "Own API by user id",
                "method": "POST",
                "url": f"{receiver}/coupons",
                "body_type": "json",
                "body": COUPON_BODY,
            },
            [],
        ),
    ]


DEMO_JOURNEY_NAME = "Welcome SMS on signup"
DEMO_RECEIVER_PATH = "/demo-receiver"


def demo_journey_graph(sms_webhook_id: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    nodes = [
        {"key": "start", "type": "entry", "position": {"x": 40, "y": 120}},
        {"key": "wait", "type": "delay", "config": {"minutes": 0}, "position": {"x": 260, "y": 120}},
        {
            "key": "sms",
            "type": "webhook",
            "config": {"webhook": sms_webhook_id, "data": {"text": "Welcome {{ name }}!"}},
            "position": {"x": 480, "y": 120},
        },
        {"key": "done", "type": "exit", "position": {"x": 720, "y": 60}},
        {"key": "failed", "type": "exit", "position": {"x": 720, "y": 200}},
    ]
    edges = [
        {"from": "start", "to": "wait"},
        {"from": "wait", "to": "sms"},
        {"from": "sms", "to": "done", "branch": "success"},
        {"from": "sms", "to": "failed", "branch": "failure"},
    ]
    return nodes, edges


class Command(BaseCommand):
    help = "Seed a demo project, users, the two example webhooks and a first send history."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--admin-password", default="admin", help="password of the 'admin' login")
        parser.add_argument(
            "--send-examples", action="store_true", help="send one success and one failure (needs the receiver up)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        admin_user = user_model.objects.filter(username="admin").first()
        if admin_user is None:
            user_model.objects.create_superuser("admin", "admin@example.com", options["admin_password"])
        # Seeded once: a later make run must not undo what someone changed in the demo (a tag,
        # a renamed webhook); it only points the demo webhooks at this run's receiver (its port).
        fresh = not Project.objects.filter(slug="demo").exists()
        project = project_get_or_create(slug="demo", name="Demo")
        receiver = settings.DEMO_RECEIVER_BASE_URL.rstrip("/")
        if fresh:
            for user_id, attributes, tags in DEMO_USERS:
                end_user_put(project=project, user_id=user_id, attributes=attributes, tags=tags)
            webhooks = [
                webhook_create(project=project, values=values, headers=headers) for values, headers in demo_webhooks(receiver)
            ]
            journey = journey_create(
                project=project,
                values={"name": DEMO_JOURNEY_NAME, "entry_event": "signup"},
                graph=parse_graph(*demo_journey_graph(webhooks[0].pk)),
            )
            journey_activate(journey=journey)
            self.stdout.write(
                f"Demo project '{project.slug}': {len(DEMO_USERS)} users, {len(webhooks)} webhooks, a journey on 'signup'."
            )
        else:
            moved = _follow_the_receiver(project, receiver)
            self.stdout.write(
                f"Demo project '{project.slug}' is there already; left as it is" + (f" ({moved})." if moved else ".")
            )
        sms = Webhook.objects.filter(project=project, name="Third-party SMS").first()
        if options["send_examples"] and sms is not None and not Delivery.objects.filter(project=project).exists():
            ok = send_test(
                webhook=sms,
                end_user=EndUser.objects.get(project=project, user_id="u-1001"),
                data={"text": "Welcome to the demo!"},
            )
            failed = send_test(
                webhook=sms, end_user=EndUser.objects.get(project=project, user_id="u-1004"), data={"text": "Welcome!"}
            )
            self.stdout.write(
                f"Example sends: {ok.status} ({ok.response_status_code}), {failed.status} ({failed.failure_reason})."
            )
