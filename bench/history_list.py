"""How fast the send history opens with many deliveries, on the embedded SQLite or on PostgreSQL.

    .venv/bin/python bench/history_list.py [ROWS]                       (default 100000)
    .venv/bin/python bench/history_list.py [ROWS] --database-url postgres://postgres@127.0.0.1:5432/flarelane

Builds a throw-away database (a SQLite file under /tmp, or with --database-url a database
named after the one given plus _history_bench, e.g. flarelane_history_bench: never the one
given, nor the test suite's test_flarelane), migrates it, inserts ROWS deliveries (mixed
statuses, sources, webhooks and users, spread over the last 7 days) and their hourly counts,
then times GET of the history list (all, the status tabs, a webhook filter, a user filter
and search, a failure reason) and one detail page with Django's test client as a
superuser, printing the median of 5 runs of each in milliseconds. The target for the list
and the detail is under 200 ms (issue 7).
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
TARGET_MS = 200.0
BATCH_SIZE = 5000


def _configure(database_url: str) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flarelane.settings")
    os.environ["DEBUG"] = "false"
    import django

    django.setup()
    from django.test.utils import setup_test_environment

    setup_test_environment()  # lets the test client use "testserver" as its host


def _seed(rows: int) -> tuple[int, str, str]:
    """Webhooks through the services; deliveries in bulk, since the services would send for real,
    then their hourly counts recounted as the services would have kept them."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from channels_webhook.services import HeaderInput, webhook_create
    from flarelane.audience.services import project_get_or_create
    from history.models import Delivery, DeliveryAttempt
    from history.services import delivery_hourly_counts_rebuild

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
    with transaction.atomic():
        _insert_deliveries(rows, webhooks)
    # The insert went around the services, so the chart's hourly counts are made from the rows.
    started = time.perf_counter()
    hours = delivery_hourly_counts_rebuild()
    print(f"hourly counts rebuilt from the deliveries in {time.perf_counter() - started:.1f} s ({hours} rows)")
    if connection.vendor == "postgresql":
        # Statistics and the visibility map, as autovacuum keeps them on a running system.
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM ANALYZE {Delivery._meta.db_table}")
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
    """Rows go in as one INSERT run per row (executemany) with values prepared once where they
    repeat: building a model instance per row made seeding a million take nine minutes."""
    from django.db import connection
    from django.utils import timezone

    from history.models import Delivery

    randomness = random.Random(42)
    statuses = ["success"] * 80 + ["failure"] * 15 + ["pending"] * 4 + ["sending"]
    reasons = ["http_error", "timeout", "connection_error", "render_error"]
    sources = ["journey", "api", "test", "resend"]
    now = timezone.now()
    week_seconds = 7 * 24 * 3600
    fields = list(Delivery._meta.concrete_fields)
    by_name = {field.attname: field for field in fields}

    def prepared(name: str, value: object) -> object:
        return by_name[name].get_db_prep_save(value, connection)

    # Each row is its varying values followed by one tuple of values prepared once. Most of a
    # row's cost was its datetimes through the field layers; Django's adapter alone is the same.
    moment = connection.ops.adapt_datetimefield_value
    varying = (
        *("id", "project_id", "webhook_id", "webhook_name", "user_id", "source", "status", "failure_reason", "request_url"),
        *("journey_id", "journey_name", "journey_node_key"),
        *("response_status_code", "response_headers", "response_body", "duration_ms", "attempt_count"),
        *("next_attempt_at", "created_at", "updated_at", "completed_at"),
    )
    fixed = {
        "data": {"text": "Hello"},
        "request_method": "POST",
        "request_headers": [["Content-Type", "application/json"], ["X-Secret-Key", "••••••"]],
        "request_body": '{"text": "Hello"}',
        "max_attempts": 3,
    }
    constant = [field for field in fields if field.attname not in varying]
    constants = tuple(prepared(field.attname, fixed.get(field.attname, field.get_default())) for field in constant)
    journey, no_journey = (7, "Welcome", "sms"), (None, "", "")
    answered_headers = prepared("response_headers", [["Content-Type", "application/json"]])
    answered_body = '{"ok": true, "padding": "' + "x" * 400 + '"}'
    unanswered: tuple[Any, ...] = (None, prepared("response_headers", []), "", None, 0)

    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column or field.name) for field in [*(by_name[name] for name in varying), *constant])
    placeholders = ", ".join(["%s"] * len(fields))
    table = quote(Delivery._meta.db_table)
    sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"  # noqa: S608 (model names only)
    # Oldest first, as a running system writes them: rows sit in the table in time order.
    moments = sorted(now - dt.timedelta(seconds=randomness.randrange(week_seconds)) for _ in range(rows))
    with connection.cursor() as cursor:
        for start in range(0, rows, BATCH_SIZE):
            batch: list[tuple[Any, ...]] = []
            for created_at in moments[start : start + BATCH_SIZE]:
                webhook = randomness.choice(webhooks)
                status = randomness.choice(statuses)
                source = randomness.choice(sources)
                delivery_id = prepared("id", uuid.UUID(int=randomness.getrandbits(128), version=4))
                user_id = f"u-{randomness.randrange(20000):05d}"
                reason = randomness.choice(reasons) if status == "failure" else ""
                at = moment(created_at)
                response, next_attempt_at, completed_at = unanswered, None, None
                if status in ("success", "failure"):
                    code = 200 if status == "success" else 500
                    response = (code, answered_headers, answered_body, randomness.randrange(20, 900), 1)
                    completed_at = moment(created_at + dt.timedelta(seconds=1))
                elif status == "pending":
                    next_attempt_at = moment(created_at + dt.timedelta(minutes=5))
                batch.append(
                    (
                        *(
                            delivery_id,
                            webhook.project_id,
                            webhook.pk,
                            webhook.name,
                            user_id,
                            source,
                            status,
                            reason,
                            webhook.url,
                        ),
                        *(journey if source == "journey" else no_journey),
                        *response,
                        *(next_attempt_at, at, at, completed_at),
                        *constants,
                    )
                )
            if connection.vendor == "postgresql":
                # COPY: several times faster than executemany on PostgreSQL.
                with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in batch:
                        copy.write_row(row)
            else:
                cursor.executemany(sql, batch)


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
    parser.add_argument("--keep", action="store_true", help="keep the database to look into it afterwards")
    parser.add_argument(
        "--database-url", help="a PostgreSQL URL; the bench creates and drops a database beside it (NAME_history_bench)"
    )
    arguments = parser.parse_args()

    directory = None
    if arguments.database_url:
        _configure(arguments.database_url)
    else:
        directory = Path(tempfile.mkdtemp(prefix="history-bench-", dir="/tmp"))
        _configure(f"sqlite:///{directory / 'bench.sqlite3'}")
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    named_database = connection.settings_dict["NAME"]
    if directory is None:
        if connection.vendor != "postgresql":
            raise SystemExit("--database-url takes a PostgreSQL URL; without it the bench uses a SQLite file of its own.")
        connection.settings_dict["TEST"]["NAME"] = f"{named_database}_history_bench"
        database = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    else:
        call_command("migrate", verbosity=0)
        database = named_database
    started = time.perf_counter()
    webhook_id, user_id, detail_id = _seed(arguments.rows)
    print(f"{arguments.rows} deliveries inserted in {time.perf_counter() - started:.1f} s into {connection.vendor} {database}")

    client = Client()
    client.force_login(get_user_model().objects.get(username="bench"))
    pages = {
        "list, all": "/admin/history/delivery/",
        "list, Success tab": "/admin/history/delivery/?status__exact=success",
        "list, Failure tab": "/admin/history/delivery/?status__exact=failure",
        "list, one webhook": f"/admin/history/delivery/?webhook__id__exact={webhook_id}",
        "list, one user (filter)": f"/admin/history/delivery/?user_id={user_id}",
        "list, user search": f"/admin/history/delivery/?q={user_id}",
        "list, Failure tab, reason": "/admin/history/delivery/?status__exact=failure&failure_reason__exact=timeout",
        # A value no delivery has: found empty through an index, not by reading every row.
        "list, reason with no rows": "/admin/history/delivery/?failure_reason__exact=blocked_destination",
        "detail": f"/admin/history/delivery/{detail_id}/change/",
    }
    client.get(pages["list, all"])  # warm the template and URL caches, as a running server has them
    slowest = 0.0
    for name, url in pages.items():
        milliseconds = _median_ms(client, url)
        slowest = max(slowest, milliseconds)
        print(f"{name:<26} {milliseconds:8.1f} ms   GET {url}")
    verdict = "within" if slowest < TARGET_MS else "OVER"
    print(f"slowest page {slowest:.1f} ms: {verdict} the {TARGET_MS:.0f} ms target (median of {REPEATS})")
    if arguments.keep:
        print(f"kept {database}")
    elif directory is None:
        connection.creation.destroy_test_db(named_database, verbosity=0)
    else:
        connection.close()
        for leftover in directory.iterdir():
            leftover.unlink()
        directory.rmdir()


if __name__ == "__main__":
    main()
