"""How fast the send history opens with many deliveries, on the embedded SQLite.

    .venv/bin/python bench/history_list.py [ROWS]    (default 100000)

Builds a throw-away SQLite database under /tmp, migrates it, inserts ROWS deliveries (mixed
statuses, sources, webhooks and users, spread over the last 7 days), then times GET of the
history list (all, the Success tab, a webhook filter, a user search) and one detail page with
Django's test client as a superuser, printing the median of 5 runs of each in milliseconds.
The target for the list is under one second.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPEATS = 5
TARGET_MS = 1000.0
BATCH_SIZE = 5000


def _configure(database_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ["DATABASE_URL"] = f"sqlite:///{database_path}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flarelane.settings")
    os.environ["DEBUG"] = "false"
    import django

    django.setup()
    from django.test.utils import setup_test_environment

    setup_test_environment()  # lets the test client use "testserver" as its host


def _seed(rows: int) -> tuple[int, str, str]:
    """Webhooks through the services; deliveries in bulk, since the services would send for real."""
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from channels_webhook.services import HeaderInput, webhook_create
    from flarelane.audience.services import project_get_or_create
    from history.models import Delivery, DeliveryAttempt

    projects = [project_get_or_create(slug=slug, name=slug.title()) for slug in ("acme", "globex")]
    webhooks = [
        webhook_create(
            project=projects[index % 2],
            values={
                "name": f"Webhook {index}",
                "method": "POST",
                "url": f"https://example.com/hooks/{index}",
                "body_type": "json",
                "body": '{"text": "{{ text }}"}',
            },
            headers=[HeaderInput(name="X-Secret-Key", value="bench-secret", secret=True)],
        )
        for index in range(10)
    ]
    # created_at is auto_now_add; the bench spreads rows over a week, so it sets the time itself.
    created_at = Delivery._meta.get_field("created_at")
    created_at.auto_now_add = False  # type: ignore[attr-defined]
    try:
        with transaction.atomic():
            _insert_deliveries(rows, webhooks)
    finally:
        created_at.auto_now_add = True  # type: ignore[attr-defined]
    detail = Delivery.objects.filter(status="failure").order_by("-created_at").first()
    assert detail is not None
    DeliveryAttempt.objects.bulk_create(
        DeliveryAttempt(
            delivery=detail,
            number=number,
            started_at=detail.created_at + dt.timedelta(seconds=number),
            duration_ms=120,
            outcome="http_error",
            status_code=500,
            failure_reason="http_error",
            error_message="The receiver answered 500 Internal Server Error.",
        )
        for number in (1, 2, 3)
    )
    get_user_model().objects.create_superuser("bench", "bench@example.com", None)
    sample_user = Delivery.objects.order_by("created_at").values_list("user_id", flat=True).first() or "u-00001"
    return webhooks[3].pk, sample_user, str(detail.pk)


def _insert_deliveries(rows: int, webhooks: list[Any]) -> None:
    from django.utils import timezone

    from history.models import Delivery

    randomness = random.Random(42)
    statuses = ["success"] * 80 + ["failure"] * 15 + ["pending"] * 4 + ["sending"]
    reasons = ["http_error", "timeout", "connection_error", "render_error"]
    sources = ["journey", "api", "test", "resend"]
    now = timezone.now()
    week_seconds = 7 * 24 * 3600
    # Oldest first, as a running system writes them: rows sit in the table in time order.
    moments = sorted(now - dt.timedelta(seconds=randomness.randrange(week_seconds)) for _ in range(rows))
    for start in range(0, rows, BATCH_SIZE):
        batch = []
        for created_at in moments[start : start + BATCH_SIZE]:
            webhook = randomness.choice(webhooks)
            status = randomness.choice(statuses)
            source = randomness.choice(sources)
            final = status in ("success", "failure")
            batch.append(
                Delivery(
                    id=uuid.UUID(int=randomness.getrandbits(128), version=4),
                    project_id=webhook.project_id,
                    webhook=webhook,
                    webhook_name=webhook.name,
                    user_id=f"u-{randomness.randrange(20000):05d}",
                    source=source,
                    journey_id=7 if source == "journey" else None,
                    journey_name="Welcome" if source == "journey" else "",
                    journey_node_key="sms" if source == "journey" else "",
                    data={"text": "Hello"},
                    status=status,
                    failure_reason=randomness.choice(reasons) if status == "failure" else "",
                    request_method="POST",
                    request_url=webhook.url,
                    request_headers=[["Content-Type", "application/json"], ["X-Secret-Key", "••••••"]],
                    request_body='{"text": "Hello"}',
                    response_status_code=(200 if status == "success" else 500) if final else None,
                    response_headers=[["Content-Type", "application/json"]] if final else [],
                    response_body='{"ok": true, "padding": "' + "x" * 400 + '"}' if final else "",
                    duration_ms=randomness.randrange(20, 900) if final else None,
                    attempt_count=1 if final else 0,
                    max_attempts=3,
                    next_attempt_at=created_at + dt.timedelta(minutes=5) if status == "pending" else None,
                    created_at=created_at,
                    completed_at=created_at + dt.timedelta(seconds=1) if final else None,
                )
            )
        Delivery.objects.bulk_create(batch)


def _median_ms(client: object, url: str) -> float:
    timings = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        response = client.get(url)  # type: ignore[attr-defined]
        timings.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"GET {url} answered {response.status_code}")
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("rows", nargs="?", type=int, default=100_000, help="deliveries to insert (default 100000)")
    parser.add_argument("--keep", action="store_true", help="keep the database file to look into it afterwards")
    arguments = parser.parse_args()

    directory = Path(tempfile.mkdtemp(prefix="history-bench-", dir="/tmp"))
    database_path = directory / "bench.sqlite3"
    _configure(database_path)
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    webhook_id, user_id, detail_id = _seed(arguments.rows)
    print(f"{arguments.rows} deliveries inserted in {time.perf_counter() - started:.1f} s into {database_path}")

    client = Client()
    client.force_login(get_user_model().objects.get(username="bench"))
    pages = {
        "list, all": "/admin/history/delivery/",
        "list, Success tab": "/admin/history/delivery/?status__exact=success",
        "list, Failure tab": "/admin/history/delivery/?status__exact=failure",
        "list, one webhook": f"/admin/history/delivery/?webhook__id__exact={webhook_id}",
        "list, one user (filter)": f"/admin/history/delivery/?user_id={user_id}",
        "list, user search": f"/admin/history/delivery/?q={user_id}",
        "detail": f"/admin/history/delivery/{detail_id}/change/",
    }
    client.get(pages["list, all"])  # warm the template and URL caches, as a running server has them
    slowest_list = 0.0
    for name, url in pages.items():
        milliseconds = _median_ms(client, url)
        if name.startswith("list"):
            slowest_list = max(slowest_list, milliseconds)
        print(f"{name:<26} {milliseconds:8.1f} ms   GET {url}")
    connection.close()
    verdict = "within" if slowest_list < TARGET_MS else "OVER"
    print(f"slowest list page {slowest_list:.1f} ms: {verdict} the {TARGET_MS:.0f} ms target (median of {REPEATS})")
    if arguments.keep:
        print(f"kept {database_path}")
        return
    for leftover in directory.iterdir():
        leftover.unlink()
    directory.rmdir()


if __name__ == "__main__":
    main()
