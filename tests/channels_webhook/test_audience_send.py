"""Sending to an audience: fan-out in chunks, exactly one delivery per user, and cancelling."""

import pytest
from pytest_httpserver import HTTPServer

from channels_webhook import sending
from flarelane.audience.services import end_user_put
from history.models import Delivery, SendBatch

pytestmark = pytest.mark.django_db


@pytest.fixture
def audience(project):
    for n in range(7):
        end_user_put(
            project=project, user_id=f"u{n}", attributes={}, tags={"phone_number": "010", "plan": "pro" if n % 2 else "free"}
        )


def test_send_to_a_tag_audience_reaches_exactly_its_users(
    api, httpserver: HTTPServer, make_webhook, audience, run_tasks_inline, monkeypatch
):
    monkeypatch.setattr(sending, "FAN_OUT_CHUNK_SIZE", 2)  # several chunks for a small audience
    httpserver.expect_request("/sms").respond_with_json({"ok": True})
    webhook = make_webhook(httpserver.url_for("/sms"))

    response = api.post(
        f"/api/v1/webhooks/{webhook.pk}/send",
        {"audience": {"tag": "plan", "equals": "pro"}, "data": {"text": "Hi"}},
        format="json",
    )

    assert response.status_code == 202
    assert response.json()["total"] == 3
    progress = api.get(f"/api/v1/sends/{response.json()['send_id']}").json()
    assert {k: progress[k] for k in ("total", "done", "success", "failure", "pending")} == {
        "total": 3,
        "done": 3,
        "success": 3,
        "failure": 0,
        "pending": 0,
    }
    assert sorted(Delivery.objects.values_list("user_id", flat=True)) == ["u1", "u3", "u5"]
    assert len(httpserver.log) == 3


def test_send_to_all_runs_the_fan_out_once_even_if_the_task_runs_twice(httpserver: HTTPServer, make_webhook, audience):
    webhook = make_webhook(httpserver.url_for("/sms"))
    batch = sending.send_to_audience(webhook=webhook, audience={"all": True}, data={"text": "Hi"}, source="api")

    first = sending.fan_out(batch_id=batch.pk)
    second = sending.fan_out(batch_id=batch.pk)  # the queue handed the task out again

    assert (first, second) == (7, 0)
    assert Delivery.objects.filter(batch=batch).count() == 7
    assert SendBatch.objects.get(pk=batch.pk).fan_out_done is True


def test_cancel_midway_stops_the_fan_out_and_cancels_what_waits(api, httpserver: HTTPServer, make_webhook, audience, monkeypatch):
    monkeypatch.setattr(sending, "FAN_OUT_CHUNK_SIZE", 3)
    webhook = make_webhook(httpserver.url_for("/sms"))
    batch = sending.send_to_audience(webhook=webhook, audience={"all": True}, data={"text": "Hi"}, source="api")
    from flarelane.audience.selectors import audience_page
    from history.services import Recipient, send_batch_fan_out_chunk

    users = audience_page(project=batch.project, audience={"all": True}, after_pk=0, limit=3)
    send_batch_fan_out_chunk(batch=batch, recipients=[(pk, Recipient(user_id, pk)) for pk, user_id in users], max_attempts=3)

    cancelled = api.post(f"/api/v1/sends/{batch.pk}/cancel").json()
    assert sending.fan_out(batch_id=batch.pk) == 0

    assert {k: cancelled[k] for k in ("total", "done", "success", "failure", "cancelled", "pending")} == {
        "total": 7,
        "done": 3,
        "success": 0,
        "failure": 3,
        "cancelled": 3,
        "pending": 0,
    }
    assert cancelled["cancelled_at"] is not None
    assert set(Delivery.objects.values_list("failure_reason", flat=True)) == {"cancelled"}
    assert Delivery.objects.count() == 3
    assert httpserver.log == []


def test_an_audience_needs_all_or_a_tag(api, make_webhook, httpserver: HTTPServer):
    webhook = make_webhook(httpserver.url_for("/sms"))

    both = api.post(
        f"/api/v1/webhooks/{webhook.pk}/send",
        {"user_ids": ["a"], "audience": {"all": True}, "data": {"text": "x"}},
        format="json",
    )
    vague = api.post(f"/api/v1/webhooks/{webhook.pk}/send", {"audience": {"tag": "plan"}, "data": {"text": "x"}}, format="json")

    assert both.json() == {"non_field_errors": ["Give either user_ids or audience."]}
    assert vague.json() == {"audience": {"non_field_errors": ['Give {"all": true} or {"tag": "plan", "equals": "pro"}.']}}
