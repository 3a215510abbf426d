"""The delivery engine: retries through the sweeper, no lost and no double sends, signing,
the shared rate limit and the queue configuration. Real receivers on loopback throughout."""

import datetime as dt
import html
import json
import re
import threading
import time

import pytest
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_q.brokers import get_broker
from pytest_httpserver import HTTPServer
from standardwebhooks import Webhook as StandardWebhook
from werkzeug import Request, Response

from channels_webhook import sending
from channels_webhook.models import Webhook
from channels_webhook.services import webhook_rotate_signing_secret, webhook_update
from flarelane.audience.services import end_user_put
from history import services as history_services
from history.models import Delivery, DeliveryAttempt, SendBatch
from tests.qcluster import kill_cluster_hard, running_qcluster
from tests.receivers import CountingReceiver

PATH = "/sms"


def _make_due(delivery_id: str) -> None:
    Delivery.objects.filter(pk=delivery_id).update(next_attempt_at=timezone.now() - dt.timedelta(seconds=1))


@pytest.mark.django_db
def test_retryable_failure_waits_then_the_sweeper_retries_with_the_same_bytes_and_id(
    httpserver: HTTPServer, make_webhook, end_user, run_tasks_inline
):
    webhook = make_webhook(
        httpserver.url_for(PATH),
        body='{"id": "{{ delivery.id }}", "text": "{{ text }}"}',
        max_attempts=3,
        send_idempotency_key=True,
    )
    httpserver.expect_ordered_request(PATH).respond_with_data("busy", status=503)
    httpserver.expect_ordered_request(PATH).respond_with_json({"ok": True})

    (delivery_id,) = sending.send_to_users(webhook=webhook, user_ids=["u-1001"], data={"text": "Hi"}, source="api").delivery_ids
    waiting = Delivery.objects.get(pk=delivery_id)
    assert waiting.status == Delivery.Status.PENDING
    assert waiting.failure_reason == "http_error"
    assert waiting.attempt_count == 1
    assert waiting.next_attempt_at is not None
    assert 5 <= (waiting.next_attempt_at - timezone.now()).total_seconds() <= 10  # first backoff: 10 s with jitter

    assert sending.sweep() == 0  # not due yet: nothing is sent early
    assert len(httpserver.log) == 1
    _make_due(delivery_id)
    assert sending.sweep() == 1

    done = Delivery.objects.get(pk=delivery_id)
    assert done.status == Delivery.Status.SUCCESS
    assert done.attempt_count == 2
    assert done.failure_reason == ""
    first, second = (request for request, _ in httpserver.log)
    assert first.get_data() == second.get_data()
    assert json.loads(second.get_data()) == {"id": delivery_id, "text": "Hi"}
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"] == delivery_id
    assert first.method == second.method == "POST"
    attempts = list(
        DeliveryAttempt.objects.filter(delivery_id=delivery_id).values_list("number", "status_code", "failure_reason")
    )
    assert attempts == [(1, 503, "http_error"), (2, 200, "")]


@pytest.mark.django_db
def test_retries_stop_at_max_attempts(httpserver: HTTPServer, make_webhook, end_user, run_tasks_inline):
    webhook = make_webhook(httpserver.url_for(PATH), max_attempts=2)
    httpserver.expect_request(PATH).respond_with_data("down", status=500)

    (delivery_id,) = sending.send_to_users(webhook=webhook, user_ids=["u-1001"], data={"text": "Hi"}, source="api").delivery_ids
    _make_due(delivery_id)
    sending.sweep()

    delivery = Delivery.objects.get(pk=delivery_id)
    assert delivery.status == Delivery.Status.FAILURE
    assert delivery.attempt_count == 2
    assert delivery.error_message == "The receiver answered 500 Internal Server Error. Gave up after 2 attempts."
    assert delivery.next_attempt_at is None
    _make_due(delivery_id)  # even if it looked due again, a final delivery is not sent a third time
    sending.sweep()
    sending.deliver(delivery_id=delivery_id)
    assert Delivery.objects.get(pk=delivery_id).attempt_count == 2
    assert len(httpserver.log) == 2


@pytest.mark.django_db
def test_retry_after_in_seconds_sets_the_next_attempt(httpserver: HTTPServer, make_webhook, end_user, run_tasks_inline):
    webhook = make_webhook(httpserver.url_for(PATH), max_attempts=3)
    httpserver.expect_request(PATH).respond_with_data("slow down", status=429, headers={"Retry-After": "120"})

    (delivery_id,) = sending.send_to_users(webhook=webhook, user_ids=["u-1001"], data={"text": "Hi"}, source="api").delivery_ids

    delivery = Delivery.objects.get(pk=delivery_id)
    assert delivery.status == Delivery.Status.PENDING
    assert 118 <= (delivery.next_attempt_at - timezone.now()).total_seconds() <= 120


@pytest.mark.django_db
@pytest.mark.parametrize("status", [302, 307])
def test_redirect_is_a_failure_and_its_target_gets_nothing(httpserver: HTTPServer, make_webhook, end_user, status):
    target = httpserver.url_for("/elsewhere")
    httpserver.expect_request(PATH).respond_with_data("", status=status, headers={"Location": target})

    delivery = sending.send_test(webhook=make_webhook(httpserver.url_for(PATH)), end_user=end_user, data={"text": "Hi"})

    assert [request.path for request, _ in httpserver.log] == [PATH]
    assert delivery.status == Delivery.Status.FAILURE
    assert delivery.failure_reason == "http_error"
    assert target in delivery.error_message
    assert delivery.response_status_code == status


@pytest.mark.django_db
def test_a_delivery_created_in_a_rolled_back_transaction_enqueues_nothing(make_webhook, end_user, httpserver: HTTPServer):
    webhook = make_webhook(httpserver.url_for(PATH))
    broker = get_broker()
    broker.purge_queue()

    with pytest.raises(RuntimeError), transaction.atomic():
        sending.send_to_users(webhook=webhook, user_ids=["u-1001"], data={"text": "Hi"}, source="api")
        raise RuntimeError("the caller's transaction fails")

    assert broker.queue_size() == 0
    assert Delivery.objects.count() == 0
    assert httpserver.log == []


@pytest.mark.django_db
def test_deliver_twice_sends_once(httpserver: HTTPServer, make_webhook, end_user):
    httpserver.expect_request(PATH).respond_with_json({"ok": True})
    webhook = make_webhook(httpserver.url_for(PATH))
    (delivery_id,) = sending.send_to_users(webhook=webhook, user_ids=["u-1001"], data={"text": "Hi"}, source="api").delivery_ids

    sending.deliver(delivery_id=delivery_id)
    sending.deliver(delivery_id=delivery_id)  # the queue handed the task out again

    assert len(httpserver.log) == 1
    assert Delivery.objects.get(pk=delivery_id).attempt_count == 1


def test_queue_configuration_cannot_run_a_task_twice_or_forever():
    conf = settings.Q_CLUSTER
    assert conf["retry"] > conf["timeout"] + 30
    assert conf["ack_failures"] is True
    assert 1 <= conf["max_attempts"] <= 3
    # Every send finishes within the task timeout, whatever the webhook allows.
    assert settings.Q_TASK_TIMEOUT_SECONDS > 30 + 10
    assert settings.DELIVERY_LEASE_SECONDS > conf["timeout"]


@pytest.mark.django_db
def test_signature_verifies_with_standard_webhooks_and_survives_rotation(httpserver: HTTPServer, make_webhook, end_user):
    httpserver.expect_request(PATH).respond_with_json({"ok": True})
    webhook = make_webhook(httpserver.url_for(PATH))
    first_secret = webhook_rotate_signing_secret(webhook=webhook).secret

    delivery = sending.send_test(webhook=webhook, end_user=end_user, data={"text": "Hi"})
    received = httpserver.log[-1][0]
    headers = {name: received.headers[name] for name in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    assert headers["webhook-id"] == str(delivery.pk)
    assert StandardWebhook(first_secret).verify(received.get_data(), headers) == json.loads(received.get_data())

    rotated = webhook_rotate_signing_secret(webhook=webhook)
    assert rotated.previous_valid_until is not None
    sending.send_test(webhook=webhook, end_user=end_user, data={"text": "Hi"})
    received = httpserver.log[-1][0]
    headers = {name: received.headers[name] for name in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (rotated.secret, first_secret):  # receivers on either key accept it
        assert StandardWebhook(secret).verify(received.get_data(), headers) == json.loads(received.get_data())


@pytest.mark.django_db
def test_blocked_destination_is_refused_on_every_path(make_webhook, end_user, settings, run_tasks_inline):
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    webhook = make_webhook("http://169.254.169.254/latest/meta-data/", max_attempts=3)

    test = sending.send_test(webhook=webhook, end_user=end_user, data={"text": "Hi"})
    (api_id,) = sending.send_to_users(webhook=webhook, user_ids=["u-1001"], data={"text": "Hi"}, source="api").delivery_ids
    resent = sending.resend(original=test, created_by_id=None)

    for delivery in (test, Delivery.objects.get(pk=api_id), Delivery.objects.get(pk=resent.pk)):
        assert delivery.status == Delivery.Status.FAILURE
        assert delivery.failure_reason == "blocked_destination"
        assert delivery.attempt_count == 1  # final at once: retrying cannot help
        assert delivery.error_message == (
            "The destination 169.254.169.254 is a private, loopback, link-local or otherwise reserved address; "
            "webhooks may only reach public addresses. Nothing was sent."
        )


@pytest.mark.django_db(transaction=True)
def test_rate_limit_holds_across_two_workers_and_nobody_fails(httpserver: HTTPServer, make_webhook, project, tmp_path):
    arrivals: list[float] = []
    lock = threading.Lock()

    def record(request: Request) -> Response:
        with lock:
            arrivals.append(time.monotonic())
        return Response('{"ok": true}', status=200, content_type="application/json")

    httpserver.expect_request(PATH).respond_with_handler(record)
    webhook = make_webhook(httpserver.url_for(PATH), rate_limit_per_second=5)
    user_ids = [f"u-{n}" for n in range(50)]
    for user_id in user_ids:
        end_user_put(project=project, user_id=user_id, attributes={}, tags={"phone_number": "010"})

    with running_qcluster(tmp_path / "qcluster.log", workers=2) as cluster:
        ids = sending.send_to_users(webhook=webhook, user_ids=user_ids, data={"text": "Hi"}, source="api").delivery_ids
        deadline = time.monotonic() + 60
        while Delivery.objects.filter(pk__in=ids, status=Delivery.Status.SUCCESS).count() < 50 and time.monotonic() < deadline:
            assert cluster.poll() is None
            time.sleep(0.25)

    assert Delivery.objects.filter(pk__in=ids, status=Delivery.Status.SUCCESS).count() == 50, (
        tmp_path / "qcluster.log"
    ).read_text()[-2000:]
    assert len(arrivals) == 50
    arrivals.sort()
    busiest = max(sum(1 for later in arrivals[i:] if later - start < 1.0) for i, start in enumerate(arrivals))
    assert busiest == 5
    assert arrivals[-1] - arrivals[0] >= 9.0  # 50 sends at 5 per second take at least nine seconds


@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_send_is_taken_back_by_the_sweeper_and_finishes_once(
    httpserver: HTTPServer, make_webhook, end_user, tmp_path, monkeypatch
):
    in_flight = threading.Event()
    calls: list[int] = []

    def first_hangs(request: Request) -> Response:
        calls.append(1)
        if len(calls) == 1:
            in_flight.set()
            time.sleep(5)  # the worker is killed while waiting for this answer
        return Response('{"ok": true}', status=200, content_type="application/json")

    httpserver.expect_request(PATH).respond_with_handler(first_hangs)
    webhook = make_webhook(httpserver.url_for(PATH), timeout_seconds=30)

    with running_qcluster(tmp_path / "qcluster.log", extra_env={"DELIVERY_LEASE_SECONDS": "2"}) as cluster:
        (delivery_id,) = sending.send_to_users(
            webhook=webhook, user_ids=["u-1001"], data={"text": "Hi"}, source="api"
        ).delivery_ids
        assert in_flight.wait(timeout=30), (tmp_path / "qcluster.log").read_text()[-2000:]
        kill_cluster_hard(cluster)

    stuck = Delivery.objects.get(pk=delivery_id)
    assert stuck.status == Delivery.Status.SENDING
    assert stuck.attempt_count == 0
    time.sleep(max(0.0, (stuck.lease_expires_at - timezone.now()).total_seconds()) + 0.1)

    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)
    assert sending.sweep() == 1
    assert sending.sweep() == 0  # final now: a second sweep finds nothing

    delivery = Delivery.objects.get(pk=delivery_id)
    assert delivery.status == Delivery.Status.SUCCESS
    assert delivery.attempt_count == 1
    assert DeliveryAttempt.objects.filter(delivery_id=delivery_id).count() == 1
    assert len(calls) == 2  # the cut request, then the one that finished


def _users(project, count: int) -> list[str]:
    user_ids = [f"u-{n}" for n in range(count)]
    for user_id in user_ids:
        end_user_put(project=project, user_id=user_id, attributes={}, tags={"phone_number": "010"})
    return user_ids


@pytest.mark.django_db(transaction=True)
def test_cancelling_stops_a_rate_limited_group_a_worker_already_holds(httpserver: HTTPServer, make_webhook, project):
    webhook = make_webhook(httpserver.url_for(PATH), rate_limit_per_second=2)
    queued = sending.send_to_users(webhook=webhook, user_ids=_users(project, 10), data={"text": "Hi"}, source="api")
    received: list[int] = []

    def cancel_on_the_third(request: Request) -> Response:
        received.append(1)
        if len(received) == 3:  # the worker holds all ten now: none is pending any more
            history_services.send_batch_cancel(batch=SendBatch.objects.get(pk=queued.send_id), now=timezone.now())
        return Response('{"ok": true}', status=200, content_type="application/json")

    httpserver.expect_request(PATH).respond_with_handler(cancel_on_the_third)

    sending.deliver_many(delivery_ids=queued.delivery_ids)

    assert len(received) == 3
    outcomes = sorted(Delivery.objects.filter(batch_id=queued.send_id).values_list("status", "failure_reason", "error_message"))
    assert (
        outcomes
        == [("failure", "cancelled", "Cancelled: the send was cancelled before this was sent.")] * 7 + [("success", "", "")] * 3
    )


@pytest.mark.django_db(transaction=True)
def test_a_rate_limited_group_gives_back_what_it_cannot_start_before_the_task_timeout(
    httpserver: HTTPServer, make_webhook, project, settings, monkeypatch
):
    # A 12.5 s task timeout less its 10 s margin and one 1 s request timeout: requests may
    # start during the first 1.5 s, so at one per second two go out and three wait.
    monkeypatch.setattr(sending, "MAX_TIMEOUT_SECONDS", 1)
    settings.Q_TASK_TIMEOUT_SECONDS = 12.5
    httpserver.expect_request(PATH).respond_with_json({"ok": True})
    webhook = make_webhook(httpserver.url_for(PATH), rate_limit_per_second=1, timeout_seconds=1)
    queued = sending.send_to_users(webhook=webhook, user_ids=_users(project, 5), data={"text": "Hi"}, source="api")
    queue = get_broker()
    queue.purge_queue()

    assert sending.deliver_many(delivery_ids=queued.delivery_ids) == 5

    assert len(httpserver.log) == 2
    deliveries = Delivery.objects.filter(batch_id=queued.send_id)
    assert sorted(deliveries.values_list("status", "attempt_count", "lease_expires_at")) == [
        ("pending", 0, None),
        ("pending", 0, None),
        ("pending", 0, None),
        ("success", 1, None),
        ("success", 1, None),
    ]
    assert queue.queue_size() == 1  # the three given back are queued again, as one task


@pytest.mark.django_db
def test_over_limit_sends_wait_for_the_next_second(httpserver: HTTPServer, make_webhook, end_user):
    httpserver.expect_request(PATH).respond_with_json({"ok": True})
    webhook = make_webhook(httpserver.url_for(PATH))
    webhook = webhook_update(webhook=webhook, values={"rate_limit_per_second": 2})

    started = time.monotonic()
    results = [sending.send_test(webhook=webhook, end_user=end_user, data={"text": "Hi"}).status for _ in range(3)]

    assert results == ["success", "success", "success"]
    assert time.monotonic() - started >= 1.0


@pytest.mark.django_db
def test_resend_sends_the_same_bytes_under_its_own_idempotency_key(
    httpserver: HTTPServer, make_webhook, end_user, run_tasks_inline
):
    httpserver.expect_request(PATH).respond_with_json({"ok": True})
    webhook = make_webhook(httpserver.url_for(PATH), body='{"id": "{{ delivery.id }}"}', send_idempotency_key=True)
    original = sending.send_test(webhook=webhook, end_user=end_user, data={})

    resent = sending.resend(original=original, created_by_id=None)

    first, second = (request for request, _ in httpserver.log)
    assert second.get_data() == first.get_data() == json.dumps({"id": str(original.pk)}).encode()
    assert first.headers["Idempotency-Key"] == str(original.pk)
    assert second.headers["Idempotency-Key"] == str(resent.pk)
    assert second.headers["X-Secret-Key"] == first.headers["X-Secret-Key"]
    resent.refresh_from_db()
    assert (resent.status, resent.source, resent.resent_from_id) == ("success", "resend", original.pk)


@pytest.mark.django_db
@pytest.mark.parametrize("stop", ["deactivate", "delete"])
def test_stopping_a_webhook_cancels_its_waiting_retries(httpserver: HTTPServer, make_webhook, end_user, run_tasks_inline, stop):
    from channels_webhook.services import webhook_delete

    httpserver.expect_request(PATH).respond_with_data("down", status=500)
    webhook = make_webhook(httpserver.url_for(PATH), max_attempts=3)
    (delivery_id,) = sending.send_to_users(webhook=webhook, user_ids=["u-1001"], data={"text": "Hi"}, source="api").delivery_ids
    assert Delivery.objects.get(pk=delivery_id).status == "pending"

    if stop == "deactivate":
        webhook_update(webhook=webhook, values={"is_active": False})
    else:
        webhook_delete(webhook=webhook)
    _make_due(delivery_id)
    sending.sweep()
    sending.deliver(delivery_id=delivery_id)

    delivery = Delivery.objects.get(pk=delivery_id)
    assert (delivery.status, delivery.failure_reason) == ("failure", "cancelled")
    verb = "deactivated" if stop == "deactivate" else "deleted"
    assert delivery.error_message == f"Cancelled: the webhook was {verb} before this was sent."
    assert len(httpserver.log) == 1  # the first attempt only


@pytest.mark.django_db
def test_a_retry_already_claimed_when_the_webhook_is_deactivated_is_not_sent(httpserver: HTTPServer, make_webhook, end_user):
    webhook = make_webhook(httpserver.url_for(PATH), max_attempts=3)
    (delivery_id,) = sending.send_to_users(webhook=webhook, user_ids=["u-1001"], data={"text": "Hi"}, source="api").delivery_ids
    Webhook.objects.filter(pk=webhook.pk).update(is_active=False)  # as if deactivated by another process mid-sweep

    sending.deliver(delivery_id=delivery_id)

    assert Delivery.objects.get(pk=delivery_id).failure_reason == "cancelled"
    assert httpserver.log == []


@pytest.mark.django_db
def test_history_shows_each_attempts_signature_as_the_receiver_got_it(
    httpserver: HTTPServer, make_webhook, end_user, run_tasks_inline, api, admin_client
):
    webhook = make_webhook(httpserver.url_for(PATH), max_attempts=2)
    secret = webhook_rotate_signing_secret(webhook=webhook).secret
    httpserver.expect_ordered_request(PATH).respond_with_data("busy", status=503)
    httpserver.expect_ordered_request(PATH).respond_with_json({"ok": True})
    signature_names = ("webhook-id", "webhook-timestamp", "webhook-signature")

    (delivery_id,) = sending.send_to_users(webhook=webhook, user_ids=["u-1001"], data={"text": "Hi"}, source="api").delivery_ids
    _make_due(delivery_id)
    assert sending.sweep() == 1

    received = [[[name, request.headers[name]] for name in signature_names] for request, _response in httpserver.log]
    assert len(received) == 2
    for request, _response in httpserver.log:  # each attempt is signed on its own and verifies
        headers = {name: request.headers[name] for name in signature_names}
        assert StandardWebhook(secret).verify(request.get_data(), headers) == json.loads(request.get_data())
    detail = api.get(f"/api/v1/deliveries/{delivery_id}").json()
    assert [attempt["request_headers"] for attempt in detail["attempts"]] == received
    # The stored request holds what every attempt shares; the signature is never in it.
    assert not any(name in signature_names for name, _value in detail["request"]["headers"])

    page = admin_client.get(f"/admin/history/delivery/{delivery_id}/change/").content.decode()
    curl = html.unescape(re.search(r'<pre class="curl-command" id="curl-command">(.*?)</pre>', page, re.DOTALL)[1])
    last_signature = "".join(f"  -H '{name}: {value}' \\\n" for name, value in received[1])
    assert last_signature in curl  # Copy as cURL repeats the latest attempt, signature included
    assert "Made for attempt 2 alone (a signature carries its time)." in page


NUL_ANSWER = b"HTTP/1.1 302 Found\r\nLocation: /next\x00x\r\nX-Odd: a\x00b\r\nContent-Length: 2\r\n\r\nno"


@pytest.mark.django_db(transaction=True)
def test_a_receiver_answering_nul_characters_is_recorded_and_its_group_is_not_sent_again(make_webhook, project):
    # PostgreSQL refuses NUL in text and JSON: one such answer used to fail the whole group's
    # record, leaving every delivery in it claimed, to be taken back and sent again.
    with CountingReceiver(response=NUL_ANSWER) as receiver:
        webhook = make_webhook(receiver.url("/hook"), body='{"delivery": "{{ delivery.id }}"}')
        ids = sending.send_to_users(webhook=webhook, user_ids=_users(project, 3), data={}, source="api").delivery_ids
        sending.deliver_many(delivery_ids=ids)

    assert receiver.total == 3 and set(receiver.received.values()) == {1}
    for delivery in Delivery.objects.filter(pk__in=ids):
        assert (delivery.status, delivery.failure_reason, delivery.response_status_code) == ("failure", "http_error", 302)
        assert ["X-Odd", "a\N{REPLACEMENT CHARACTER}b"] in delivery.response_headers
        assert delivery.error_message == (
            "The receiver answered 302 Found to /next\N{REPLACEMENT CHARACTER}x; redirects are not followed. "
            "Point the webhook at the final URL."
        )


def _answer_with_headers(count: int, value_length: int) -> bytes:
    headers = b"".join(b"X-Big-%d: %s\r\n" % (n, b"v" * value_length) for n in range(count))
    return b"HTTP/1.1 200 OK\r\n" + headers + b"Content-Length: 2\r\n\r\nok"


@pytest.mark.django_db
def test_the_history_keeps_32_kib_of_response_headers(make_webhook, project):
    with CountingReceiver(response=_answer_with_headers(count=20, value_length=2000)) as receiver:
        webhook = make_webhook(receiver.url("/hook"), body='{"delivery": "{{ delivery.id }}"}')
        ids = sending.send_to_users(webhook=webhook, user_ids=_users(project, 1), data={}, source="api").delivery_ids
        sending.deliver_many(delivery_ids=ids)

    headers = Delivery.objects.get().response_headers
    assert Delivery.objects.get().status == "success"
    assert [name for name, _ in headers] == [f"X-Big-{n}" for n in range(17)]  # 16 whole, then the 17th cut
    assert headers[15] == ["X-Big-15", "v" * 2000]
    # 32,768 less ten 7-letter and six 8-letter names with their 2,000-letter values, less "X-Big-16": 642 left.
    assert headers[16] == ["X-Big-16", "v" * 642 + "… (cut: the history keeps 32 KiB of response headers)"]


@pytest.mark.django_db(transaction=True)
def test_a_text_body_that_renders_a_nul_is_refused_and_the_rest_of_its_group_is_sent(make_webhook, project):
    with CountingReceiver() as receiver:
        webhook = make_webhook(
            receiver.url("/hook"), body='{"delivery": "{{ delivery.id }}", "v": "{{ tags.v | url_decode }}"}', body_type="text"
        )
        for user_id, v in (("a", "fine"), ("b", "%00"), ("c", "also-fine")):
            end_user_put(project=project, user_id=user_id, attributes={}, tags={"v": v})
        ids = sending.send_to_users(webhook=webhook, user_ids=["a", "b", "c"], data={}, source="api").delivery_ids
        sending.deliver_many(delivery_ids=ids)

    assert receiver.total == 2
    outcomes = dict(Delivery.objects.values_list("user_id", "status"))
    assert outcomes == {"a": "success", "b": "failure", "c": "success"}
    refused = Delivery.objects.get(user_id="b")
    assert (refused.failure_reason, refused.attempt_count) == ("invalid_request", 0)
    assert refused.error_message == (
        "The body contains a NUL character (\\x00) after rendering; remove it from the data, "
        "or use '| url_encode' or '| base64_encode' on the value."
    )
