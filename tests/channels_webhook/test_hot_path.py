"""The send path's cost in queries: a group of deliveries is claimed, sent and recorded
together, so the count per delivery stays far under the three the scale target allows."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pytest_httpserver import HTTPServer

from channels_webhook import sending
from flarelane.audience.services import end_user_put
from history.models import Delivery, DeliveryAttempt, DeliveryHourlyCount
from tests.query_plans import query_plan, uses_primary_key

pytestmark = pytest.mark.django_db

USERS = 64


def test_sending_a_chunk_costs_about_one_statement_per_delivery(httpserver: HTTPServer, make_webhook, project, settings):
    settings.WEBHOOK_SEND_CONCURRENCY = 50  # the default: groups of 100, so all 64 in one
    httpserver.expect_request("/sms").respond_with_json({"ok": True})
    webhook = make_webhook(httpserver.url_for("/sms"))
    user_ids = [f"u{n}" for n in range(USERS)]
    for user_id in user_ids:
        end_user_put(project=project, user_id=user_id, attributes={}, tags={"phone_number": "010"})
    ids = sending.send_to_users(webhook=webhook, user_ids=user_ids, data={"text": "Hi"}, source="api").delivery_ids

    with CaptureQueriesContext(connection) as queries:
        handled = sending.deliver_many(delivery_ids=ids)

    assert handled == USERS
    assert Delivery.objects.filter(status="success").count() == USERS
    assert DeliveryAttempt.objects.count() == USERS
    assert len(httpserver.log) == USERS
    # The test runs inside a transaction, so recording shows as a savepoint; a worker runs
    # in autocommit, where it is a transaction of its own. Neither is a query of a table.
    table_queries = [q["sql"] for q in queries.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
    statements = [" ".join(sql.split()[:3]) if " times: " in sql else sql.split()[0] for sql in table_queries]
    # Per group: claim them (one UPDATE), load them (one SELECT) and their webhook (one SELECT),
    # record each (one UPDATE statement per delivery, sent as one executemany), insert the
    # attempts (one INSERT), and add the finished ones to the chart's hourly counts (one
    # INSERT ... ON CONFLICT DO UPDATE per webhook and hour: here one), so the chart never
    # counts the deliveries.
    assert statements == ["UPDATE", "SELECT", "SELECT", "64 times: UPDATE", "INSERT", "INSERT"]
    assert "ON CONFLICT" in table_queries[-1]
    executed = sum(int(sql.split()[0]) if " times: " in sql else 1 for sql in table_queries)
    assert executed == 5 + 64  # 69 statements for 64 deliveries: about 1.08 each
    assert list(DeliveryHourlyCount.objects.values_list("success", "failure")) == [(USERS, 0)]


def test_the_claim_finds_its_rows_by_id_while_a_large_send_waits(make_webhook, project):
    from history import services as history

    webhook = make_webhook("https://example.com/sms")
    waiting = history.delivery_create_many(
        project=project,
        webhook=webhook,
        recipients=[history.Recipient(user_id=f"u{n}", end_user_id=None) for n in range(2000)],
        data={},
        source="api",
        max_attempts=1,
    )

    with CaptureQueriesContext(connection) as queries:
        claimed = history.deliveries_claim(delivery_ids=waiting[:100], now=timezone.now(), lease_seconds=60)

    assert len(claimed) == 100
    claim = queries.captured_queries[0]["sql"]
    assert claim.startswith('UPDATE "history_delivery"')
    # By the primary key: the status index would read all 2,000 waiting deliveries per group.
    plan = query_plan(claim)
    assert uses_primary_key(plan, "history_delivery"), plan
