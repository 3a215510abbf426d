"""Steps of bench/send_path.py that run inside Django (one process each, configured by env).

prepare USERS URL   make USERS users and the SMS webhook aimed at URL; prints its id
send WEBHOOK USERS  send to everyone, wait until every delivery is final; prints the rate
enqueue N           time the fan-out of a send to N users (deliveries created and queued)
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flarelane.settings")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from channels_webhook import sending  # noqa: E402
from channels_webhook.models import Webhook  # noqa: E402
from channels_webhook.services import HeaderInput, webhook_create  # noqa: E402
from flarelane.audience.models import EndUser  # noqa: E402
from flarelane.audience.services import project_get_or_create  # noqa: E402
from history import services as history_services  # noqa: E402
from history.models import Delivery  # noqa: E402

SMS_BODY = '{"body": "{{ text }}", "sendNo": "15446859", "recipientList": [{"recipientNo": "{{ tags.phone_number }}", "countryCode": "82"}]}'


def make_users(project_slug: str, count: int) -> None:
    project = project_get_or_create(slug=project_slug)
    EndUser.objects.filter(project=project).delete()
    EndUser.objects.bulk_create(
        (
            EndUser(project=project, user_id=f"u-{n}", name=f"User {n}", tags={"phone_number": f"010{n:08d}"})
            for n in range(count)
        ),
        batch_size=2000,
    )


def prepare(users: int, url: str) -> None:
    Delivery.objects.all().delete()
    Webhook.objects.all().delete()
    make_users("bench", users)
    webhook = webhook_create(
        project=project_get_or_create(slug="bench"),
        values={"name": "SMS", "method": "POST", "url": url, "body_type": "json", "body": SMS_BODY, "timeout_seconds": 10},
        headers=[
            HeaderInput("Content-Type", "application/json;charset=UTF-8"),
            HeaderInput("X-Secret-Key", "bench-secret", secret=True),
        ],
    )
    # SQL statements per delivery on the hot path, measured here before any worker runs: 200
    # deliveries created without queueing and sent in this process against the receiver.
    ids = history_services.delivery_create_many(
        project=webhook.project,
        webhook=webhook,
        recipients=[
            history_services.Recipient(user_id=u, end_user_id=pk)
            for pk, u in EndUser.objects.filter(project=webhook.project).values_list("pk", "user_id")[:200]
        ],
        data={"text": "x"},
        source="api",
        max_attempts=1,
    )
    with CaptureQueriesContext(connection) as queries:
        sending.deliver_many(delivery_ids=ids)
    # executemany shows as one captured entry ("N times: ..."); count what it ran.
    executed = sum(int(q["sql"].split()[0]) if " times: " in q["sql"] else 1 for q in queries.captured_queries)
    Delivery.objects.filter(pk__in=ids).delete()
    print(f"{executed / len(ids):.2f}")
    print(webhook.pk)


def send(webhook_id: int, users: int) -> None:
    webhook = Webhook.objects.select_related("project").get(pk=webhook_id)
    start = time.monotonic()
    batch = sending.send_to_audience(webhook=webhook, audience={"all": True}, data={"text": "Hello"}, source="api")
    while Delivery.objects.filter(batch=batch, status__in=["success", "failure"]).count() < users:
        time.sleep(0.2)
    elapsed = time.monotonic() - start
    success = Delivery.objects.filter(batch=batch, status="success").count()
    print(f"{users / elapsed:.1f} ({success:,} success in {elapsed:.1f} s)")


def enqueue(count: int) -> None:
    from django_q.brokers import get_broker

    make_users("bench-enqueue", count)
    project = project_get_or_create(slug="bench-enqueue")
    webhook = webhook_create(
        project=project,
        values={"name": "Enqueue", "method": "POST", "url": "https://example.com/x", "body_type": "json", "body": "{}"},
    )
    start = time.monotonic()
    batch = sending.send_to_audience(webhook=webhook, audience={"all": True}, data={}, source="api")
    created = sending.fan_out(batch_id=batch.pk)
    elapsed = time.monotonic() - start
    get_broker().purge_queue()
    print(f"{elapsed:.1f} s ({created:,} deliveries, {created / elapsed:,.0f} per second)")


if __name__ == "__main__":
    step, *args = sys.argv[1:]
    if step == "prepare":
        prepare(int(args[0]), args[1])
    elif step == "send":
        send(int(args[0]), int(args[1]))
    else:
        enqueue(int(args[0]))
