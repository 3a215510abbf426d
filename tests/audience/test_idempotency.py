"""Idempotency-Key on POST /webhooks/{id}/send and POST /events: a retry replays, never reruns."""

import datetime as dt
import threading

import pytest
from django.db import connection
from django.utils import timezone
from django_q.models import Schedule
from pytest_httpserver import HTTPServer
from rest_framework.test import APIClient

from flarelane.audience.models import Event, IdempotencyRecord
from flarelane.audience.services import api_key_issue, end_user_put, idempotency_records_prune
from flarelane.audience.tasks import prune_idempotency_records
from history.models import Delivery, SendBatch

SEND_BODY = {"user_ids": ["u-1001", "u-1002"], "data": {"text": "Hello"}}
EVENTS = [{"user_id": "u-7", "type": "signup", "data": {"plan": "pro"}}, {"user_id": "u-8", "type": "signup"}]


@pytest.fixture
def webhook(make_webhook, end_user, project, httpserver: HTTPServer):
    end_user_put(project=project, user_id="u-1002", attributes={}, tags={"phone_number": "01099998888"})
    return make_webhook(httpserver.url_for("/sms"))


def test_a_retried_send_gets_the_first_answer_and_queues_nothing_more(api, webhook, httpserver: HTTPServer):
    first = api.post(f"/api/v1/webhooks/{webhook.pk}/send", SEND_BODY, format="json", HTTP_IDEMPOTENCY_KEY="send-1")
    retry = api.post(f"/api/v1/webhooks/{webhook.pk}/send", SEND_BODY, format="json", HTTP_IDEMPOTENCY_KEY="send-1")

    assert first.status_code == 202
    assert retry.status_code == 202
    assert retry.json() == first.json()
    assert sorted(first.json()["delivery_ids"]) == sorted(str(pk) for pk in Delivery.objects.values_list("pk", flat=True))
    assert "Idempotent-Replayed" not in first
    assert retry["Idempotent-Replayed"] == "true"
    assert Delivery.objects.count() == 2
    assert SendBatch.objects.count() == 1
    assert httpserver.log == []


def test_the_same_send_without_a_key_or_with_a_new_key_runs_again(api, webhook):
    api.post(f"/api/v1/webhooks/{webhook.pk}/send", SEND_BODY, format="json", HTTP_IDEMPOTENCY_KEY="send-1")
    api.post(f"/api/v1/webhooks/{webhook.pk}/send", SEND_BODY, format="json", HTTP_IDEMPOTENCY_KEY="send-2")
    api.post(f"/api/v1/webhooks/{webhook.pk}/send", SEND_BODY, format="json")

    assert SendBatch.objects.count() == 3
    assert Delivery.objects.count() == 6


def test_a_retried_event_batch_is_recorded_once(api, project):
    first = api.post("/api/v1/events", EVENTS, format="json", HTTP_IDEMPOTENCY_KEY="ev-1")
    retry = api.post("/api/v1/events", EVENTS, format="json", HTTP_IDEMPOTENCY_KEY="ev-1")

    assert first.status_code == retry.status_code == 200
    assert retry.content == first.content
    assert retry["Idempotent-Replayed"] == "true"
    # These events carry no event_id, so without the key the retry would record them again.
    assert sorted(Event.objects.values_list("end_user__user_id", "type")) == [("u-7", "signup"), ("u-8", "signup")]


def test_the_same_key_with_a_different_body_is_422_and_runs_nothing(api, webhook):
    api.post("/api/v1/events", EVENTS, format="json", HTTP_IDEMPOTENCY_KEY="k")

    response = api.post("/api/v1/events", [{"user_id": "u-9", "type": "signup"}], format="json", HTTP_IDEMPOTENCY_KEY="k")
    on_another_endpoint = api.post(f"/api/v1/webhooks/{webhook.pk}/send", SEND_BODY, format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert response.status_code == 422
    assert response.json() == {
        "detail": "This Idempotency-Key was already used with a different request in the last 24 hours; "
        "send a new key for a new request."
    }
    assert on_another_endpoint.status_code == 422
    assert Event.objects.count() == 2
    assert Delivery.objects.count() == 0


def test_a_body_equal_as_json_is_the_same_request(api, project):
    api.post("/api/v1/events", '{"user_id": "u-7", "type": "signup"}', content_type="application/json", HTTP_IDEMPOTENCY_KEY="k")
    retry = api.post(
        "/api/v1/events", '{"type":"signup",  "user_id":"u-7"}', content_type="application/json", HTTP_IDEMPOTENCY_KEY="k"
    )

    assert retry.status_code == 200
    assert retry["Idempotent-Replayed"] == "true"
    assert Event.objects.count() == 1


def test_keys_belong_to_a_project(api, other_project):
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_issue(project=other_project).plaintext}")

    api.post("/api/v1/events", EVENTS, format="json", HTTP_IDEMPOTENCY_KEY="shared")
    response = other.post("/api/v1/events", EVENTS, format="json", HTTP_IDEMPOTENCY_KEY="shared")

    assert response.status_code == 200
    assert "Idempotent-Replayed" not in response
    assert Event.objects.filter(project=other_project).count() == 2
    assert Event.objects.count() == 4


def test_a_failed_call_gives_its_key_back(api, webhook, project):
    body = {"user_ids": ["u-1001", "u-new"], "data": {"text": "Hello"}}
    failed = api.post(f"/api/v1/webhooks/{webhook.pk}/send", body, format="json", HTTP_IDEMPOTENCY_KEY="k")
    end_user_put(project=project, user_id="u-new", attributes={}, tags={"phone_number": "01000000000"})
    retried = api.post(f"/api/v1/webhooks/{webhook.pk}/send", body, format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert failed.status_code == 400
    assert retried.status_code == 202
    assert "Idempotent-Replayed" not in retried
    assert Delivery.objects.count() == 2
    assert IdempotencyRecord.objects.get().response_status == 202


def test_a_key_expires_after_24_hours(api, project):
    api.post("/api/v1/events", EVENTS, format="json", HTTP_IDEMPOTENCY_KEY="k")
    IdempotencyRecord.objects.update(created_at=timezone.now() - dt.timedelta(hours=24, seconds=1))

    again = api.post("/api/v1/events", [{"user_id": "u-9", "type": "other"}], format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert again.status_code == 200
    assert "Idempotent-Replayed" not in again
    assert Event.objects.count() == 3
    assert IdempotencyRecord.objects.count() == 1


def test_a_blank_or_overlong_key_is_400(api, project):
    for key in ("  ", "k" * 256):
        response = api.post("/api/v1/events", EVENTS, format="json", HTTP_IDEMPOTENCY_KEY=key)

        assert response.status_code == 400
        assert response.json() == {"Idempotency-Key": ["Send an Idempotency-Key of 1 to 255 characters, e.g. a UUID."]}
    assert Event.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_run_once_and_both_get_the_answer(project):
    plaintext = api_key_issue(project=project).plaintext
    start = threading.Barrier(2)
    responses: list = []

    def call() -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
        start.wait()
        try:
            responses.append(client.post("/api/v1/events", EVENTS, format="json", HTTP_IDEMPOTENCY_KEY="race"))
        finally:
            connection.close()

    threads = [threading.Thread(target=call) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert [r.status_code for r in responses] == [200, 200]
    assert responses[0].content == responses[1].content
    assert sorted(r.get("Idempotent-Replayed", "") for r in responses) == ["", "true"]
    assert Event.objects.count() == 2


def test_expired_records_are_pruned_on_a_schedule(project):
    now = timezone.now()
    for key, age in (("old", dt.timedelta(hours=25)), ("fresh", dt.timedelta(hours=23))):
        IdempotencyRecord.objects.create(project=project, key=key, request_fingerprint="f", created_at=now - age)

    assert idempotency_records_prune(now=now) == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["fresh"]
    assert prune_idempotency_records() == 0
    schedule = Schedule.objects.get(func="flarelane.audience.tasks.prune_idempotency_records")
    assert (schedule.schedule_type, schedule.repeats) == (Schedule.HOURLY, -1)
