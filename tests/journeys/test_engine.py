"""The journey engine end to end: events enrol users, runs move through delays, conditions and
webhook nodes, deliveries land in history, and nothing runs twice."""

import datetime as dt
import json

import pytest
from django.db import connection
from django.utils import timezone
from pytest_httpserver import HTTPServer
from werkzeug import Response

from channels_webhook import sending
from flarelane.audience.models import EndUser
from flarelane.audience.services import end_user_patch, end_user_put
from history.models import Delivery
from journeys import engine
from journeys.graph import parse_graph
from journeys.models import JourneyRun
from journeys.services import JourneyInvalid, journey_activate, journey_create
from journeys.tasks import advance_due_runs

pytestmark = pytest.mark.django_db

SMS_PATH = "/sms"


def welcome_graph(webhook_id: int, *, delay: dict | None = None, failure_to: str = "done") -> dict:
    return {
        "nodes": [
            {"key": "start", "type": "entry"},
            {"key": "wait", "type": "delay", "config": delay or {"minutes": 0}},
            {"key": "sms", "type": "webhook", "config": {"webhook": webhook_id, "data": {"text": "Welcome {{ name }}"}}},
            {"key": "done", "type": "exit"},
            *([{"key": "failed", "type": "exit"}] if failure_to == "failed" else []),
        ],
        "edges": [
            {"from": "start", "to": "wait"},
            {"from": "wait", "to": "sms"},
            {"from": "sms", "to": "done", "branch": "success"},
            {"from": "sms", "to": failure_to, "branch": "failure"},
        ],
    }


def make_journey(project, graph: dict, **values):
    journey = journey_create(
        project=project,
        values={"name": "Welcome", "entry_event": "signup", **values},
        graph=parse_graph(graph["nodes"], graph["edges"]),
    )
    return journey_activate(journey=journey)


@pytest.fixture
def users(project):
    return [
        end_user_put(project=project, user_id=user_id, attributes={"name": name}, tags={"phone_number": phone})[0]
        for user_id, name, phone in [("u-1", "Minji", "0101"), ("u-2", "Jisoo", "0102"), ("u-3", "Alex", "0103")]
    ]


def test_signup_events_send_the_welcome_sms_to_each_user(
    api, httpserver: HTTPServer, make_webhook, project, users, run_tasks_inline
):
    httpserver.expect_request(SMS_PATH).respond_with_json({"ok": True})
    webhook = make_webhook(httpserver.url_for(SMS_PATH))
    journey = make_journey(project, welcome_graph(webhook.pk, failure_to="failed"))

    for user in users:
        response = api.post(
            "/api/v1/events", {"user_id": user.user_id, "type": "signup", "event_id": f"e-{user.user_id}"}, format="json"
        )
        assert response.status_code == 200
        assert response.json()["recorded"] is True

    texts = sorted(json.loads(request.get_data())["body"] for request, _ in httpserver.log)
    assert texts == ["Welcome Alex", "Welcome Jisoo", "Welcome Minji"]
    stats = api.get(f"/api/v1/journeys/{journey.pk}/stats").json()
    assert stats["nodes"]["sms"] == {"entered": 3, "waiting": 0, "success": 3, "failure": 0}
    assert stats["nodes"]["done"]["entered"] == 3
    assert stats["runs"]["completed"] == 3
    history = api.get("/api/v1/deliveries", {"journey": journey.pk, "status": "success"}).json()["results"]
    assert sorted(d["user_id"] for d in history) == ["u-1", "u-2", "u-3"]
    assert {(d["source"], d["journey_name"], d["journey_node_key"]) for d in history} == {("journey", "Welcome", "sms")}


def test_the_same_event_id_twice_enrols_once(api, httpserver: HTTPServer, make_webhook, project, users, run_tasks_inline):
    httpserver.expect_request(SMS_PATH).respond_with_json({"ok": True})
    make_journey(project, welcome_graph(make_webhook(httpserver.url_for(SMS_PATH)).pk), reentry_policy="always")
    event = {"user_id": "u-1", "type": "signup", "event_id": "same"}

    first = api.post("/api/v1/events", event, format="json").json()
    second = api.post("/api/v1/events", event, format="json").json()

    assert (first["recorded"], len(first["enrolled_runs"])) == (True, 1)
    assert (second["recorded"], second["enrolled_runs"]) == (False, [])
    assert JourneyRun.objects.count() == 1
    assert len(httpserver.log) == 1


def test_a_receiver_failing_after_retries_sends_the_run_down_the_failure_edge(
    httpserver: HTTPServer, make_webhook, project, users, run_tasks_inline
):
    httpserver.expect_request(SMS_PATH).respond_with_data("down", status=500)
    webhook = make_webhook(httpserver.url_for(SMS_PATH), max_attempts=2)
    journey = make_journey(project, welcome_graph(webhook.pk, failure_to="failed"))
    from journeys.services import event_ingest

    event_ingest(project=project, end_user=users[0], type="signup", data={}, event_id=None)
    run = JourneyRun.objects.get()
    assert (run.status, run.node_key) == ("waiting", "sms")  # first attempt failed, a retry is due later

    Delivery.objects.filter(pk=run.delivery_id).update(next_attempt_at=timezone.now() - dt.timedelta(seconds=1))
    sending.sweep()  # the retry fails too: the delivery is final
    assert Delivery.objects.get(pk=run.delivery_id).status == "failure"
    assert advance_due_runs() == 1

    run.refresh_from_db()
    assert (run.status, run.node_key) == ("completed", "failed")
    assert len(httpserver.log) == 2
    from journeys.selectors import journey_stats

    assert journey_stats(journey=journey)["nodes"]["sms"] == {"entered": 1, "waiting": 0, "success": 0, "failure": 1}


def test_a_two_minute_delay_waits_until_the_clock_passes_it(
    httpserver: HTTPServer, make_webhook, project, users, run_tasks_inline, monkeypatch
):
    httpserver.expect_request(SMS_PATH).respond_with_json({"ok": True})
    make_journey(project, welcome_graph(make_webhook(httpserver.url_for(SMS_PATH)).pk, delay={"minutes": 2}))
    from journeys.services import event_ingest

    start = timezone.now()
    event_ingest(project=project, end_user=users[0], type="signup", data={}, event_id=None)
    run = JourneyRun.objects.get()
    assert (run.status, run.node_key) == ("active", "wait")
    assert dt.timedelta(minutes=2) <= run.due_at - start < dt.timedelta(minutes=2, seconds=5)

    monkeypatch.setattr(timezone, "now", lambda: start + dt.timedelta(minutes=1, seconds=50))
    assert advance_due_runs() == 0
    assert httpserver.log == []

    monkeypatch.setattr(timezone, "now", lambda: start + dt.timedelta(minutes=2, seconds=5))
    assert advance_due_runs() == 1
    run.refresh_from_db()
    assert (run.status, run.node_key) == ("completed", "done")
    assert len(httpserver.log) == 1


def test_a_coupon_from_the_response_is_saved_as_a_tag_and_sent_by_the_next_node(
    httpserver: HTTPServer, make_webhook, project, users, run_tasks_inline
):
    httpserver.expect_request("/coupons").respond_with_json({"coupon": {"code": "C-42"}})
    httpserver.expect_request(SMS_PATH).respond_with_json({"ok": True})
    coupons = make_webhook(httpserver.url_for("/coupons"), name="Coupons", body='{"userId": "{{ userId }}"}', headers=[])
    sms = make_webhook(httpserver.url_for(SMS_PATH), body='{"text": "{{ text }}", "to": "{{ tags.phone_number }}"}', headers=[])
    graph = {
        "nodes": [
            {"key": "start", "type": "entry"},
            {
                "key": "coupon",
                "type": "webhook",
                "config": {"webhook": coupons.pk, "data": {}, "response_to_tags": {"coupon.code": "coupon_code"}},
            },
            {
                "key": "sms",
                "type": "webhook",
                "config": {"webhook": sms.pk, "data": {"text": "Your code: {{ tags.coupon_code }}"}},
            },
            {"key": "done", "type": "exit"},
        ],
        "edges": [
            {"from": "start", "to": "coupon"},
            {"from": "coupon", "to": "sms", "branch": "success"},
            {"from": "coupon", "to": "done", "branch": "failure"},
            {"from": "sms", "to": "done", "branch": "success"},
            {"from": "sms", "to": "done", "branch": "failure"},
        ],
    }
    make_journey(project, graph)
    from journeys.services import event_ingest

    event_ingest(project=project, end_user=users[0], type="signup", data={}, event_id=None)

    assert EndUser.objects.get(pk=users[0].pk).tags["coupon_code"] == "C-42"
    (_, _), (sms_request, _) = httpserver.log
    assert json.loads(sms_request.get_data()) == {"text": "Your code: C-42", "to": "0101"}


def coupon_graph(webhook_id: int, mapping: dict[str, str]) -> dict:
    """Entry → a coupon webhook whose answer is mapped into tags → exit."""
    return {
        "nodes": [
            {"key": "start", "type": "entry"},
            {"key": "coupon", "type": "webhook", "config": {"webhook": webhook_id, "data": {}, "response_to_tags": mapping}},
            {"key": "done", "type": "exit"},
        ],
        "edges": [
            {"from": "start", "to": "coupon"},
            {"from": "coupon", "to": "done", "branch": "success"},
            {"from": "coupon", "to": "done", "branch": "failure"},
        ],
    }


@pytest.mark.django_db(transaction=True)
def test_the_response_mapping_keeps_tags_changed_while_the_webhook_was_in_flight(httpserver: HTTPServer, make_webhook, project):
    user, _ = end_user_put(project=project, user_id="u-1", attributes={}, tags={"phone_number": "0101"})

    def answer_after_a_patch(request):
        # Another client sets a tag while the receiver is working on the coupon; this thread
        # has its own database connection, as that client would.
        try:
            end_user_patch(end_user=EndUser.objects.get(pk=user.pk), attributes={}, tags={"plan": "pro"})
        finally:
            connection.close()
        return Response(json.dumps({"coupon": {"code": "C-42"}}), content_type="application/json")

    httpserver.expect_request("/coupons").respond_with_handler(answer_after_a_patch)
    coupons = make_webhook(httpserver.url_for("/coupons"), name="Coupons", body='{"userId": "{{ userId }}"}', headers=[])
    make_journey(project, coupon_graph(coupons.pk, {"coupon.code": "coupon_code"}))
    from journeys.services import event_ingest

    event_ingest(project=project, end_user=user, type="signup", data={}, event_id=None)  # enqueued, not run
    engine.run_advance(run_id=JourneyRun.objects.get().pk)

    assert len(httpserver.log) == 1
    assert JourneyRun.objects.get().status == "completed"
    assert EndUser.objects.get(pk=user.pk).tags == {"phone_number": "0101", "plan": "pro", "coupon_code": "C-42"}


@pytest.mark.parametrize(
    "answer",
    [
        '{"coupon": {"code": "\\ud800", "note": "ok"}}',  # a lone surrogate: PostgreSQL cannot store it
        '{"coupon": {"code": "a\\u0000b", "note": "ok"}}',  # NUL, the same
        '{"coupon": {"code": ' + "[" * 40 + "]" * 40 + ', "note": "ok"}}',  # deeper than 32 levels
    ],
)
def test_a_response_value_the_database_cannot_keep_is_left_out_and_the_run_goes_on(
    answer, httpserver: HTTPServer, make_webhook, project, users, run_tasks_inline
):
    httpserver.expect_request("/coupons").respond_with_data(answer, content_type="application/json")
    coupons = make_webhook(httpserver.url_for("/coupons"), name="Coupons", body='{"userId": "{{ userId }}"}', headers=[])
    make_journey(project, coupon_graph(coupons.pk, {"coupon.code": "coupon_code", "coupon.note": "note"}))
    from journeys.services import event_ingest

    event_ingest(project=project, end_user=users[0], type="signup", data={}, event_id=None)

    assert JourneyRun.objects.get().status == "completed"
    tags = EndUser.objects.get(pk=users[0].pk).tags
    assert (tags.get("coupon_code"), tags["note"]) == (None, "ok")


def test_advancing_the_same_run_twice_makes_one_delivery(httpserver: HTTPServer, make_webhook, project, users):
    httpserver.expect_request(SMS_PATH).respond_with_json({"ok": True})
    make_journey(project, welcome_graph(make_webhook(httpserver.url_for(SMS_PATH)).pk))
    from journeys.services import event_ingest

    event_ingest(project=project, end_user=users[0], type="signup", data={}, event_id=None)  # enqueued, not run
    run = JourneyRun.objects.get()
    engine.run_advance(run_id=run.pk)
    engine.run_advance(run_id=run.pk)

    assert Delivery.objects.filter(journey_node_key="sms").count() == 1
    assert len(httpserver.log) == 1


def test_a_run_leased_by_another_worker_is_left_alone(httpserver: HTTPServer, make_webhook, project, users):
    make_journey(project, welcome_graph(make_webhook(httpserver.url_for(SMS_PATH)).pk))
    from journeys.services import event_ingest

    event_ingest(project=project, end_user=users[0], type="signup", data={}, event_id=None)
    run = JourneyRun.objects.get()
    JourneyRun.objects.filter(pk=run.pk).update(lease_expires_at=timezone.now() + dt.timedelta(minutes=1))

    engine.run_advance(run_id=run.pk)

    assert JourneyRun.objects.get(pk=run.pk).node_key == "start"
    assert httpserver.log == []


def test_activation_refuses_an_incomplete_graph_with_every_reason(project, make_webhook, httpserver: HTTPServer):
    webhook = make_webhook(httpserver.url_for(SMS_PATH))
    graph = parse_graph(
        [
            {"key": "start", "type": "entry"},
            {"key": "sms", "type": "webhook", "config": {"webhook": webhook.pk, "data": {}}},
            {"key": "lost", "type": "exit"},
        ],
        [{"from": "start", "to": "sms"}, {"from": "sms", "to": "start", "branch": "success"}],
    )
    journey = journey_create(project=project, values={"name": "Broken", "entry_event": "signup"}, graph=graph)

    with pytest.raises(JourneyInvalid) as refused:
        journey_activate(journey=journey)

    assert refused.value.problems == [
        "Node 'sms': fill the webhook's data variables: text.",
        "Node 'sms' (failure) leads nowhere: connect it (end paths with an exit node).",
        "The graph has a loop; journeys move forward only.",
        "Node 'lost' cannot be reached from the entry.",
    ]
    journey.refresh_from_db()
    assert journey.status == "draft"
