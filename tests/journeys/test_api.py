"""The journeys API: the graph in DESIGN.md's shape, saved back unchanged; activate, pause,
duplicate, stats; events in batches; and isolation between projects."""

import pytest
from pytest_httpserver import HTTPServer

from journeys.models import JourneyRun

pytestmark = pytest.mark.django_db


def design_graph(webhook_id: int) -> dict:
    return {
        "name": "Welcome",
        "entry": {"event": "signup", "filter": {"field": "entry_event.data.plan", "op": "equals", "value": "pro"}},
        "reentry": {"policy": "once", "hours": None},
        "exit_events": ["unsubscribe"],
        "nodes": [
            {"key": "start", "type": "entry", "config": {}, "position": {"x": 40, "y": 40}},
            {"key": "wait", "type": "delay", "config": {"minutes": 30}, "position": {}},
            {
                "key": "sms",
                "type": "webhook",
                "config": {
                    "webhook": webhook_id,
                    "data": {"text": "Welcome {{ name }}"},
                    "response_to_tags": {"coupon.code": "coupon_code"},
                },
                "position": {},
            },
            {"key": "done", "type": "exit", "config": {}, "position": {}},
        ],
        "edges": [
            {"from": "start", "to": "wait"},
            {"from": "wait", "to": "sms"},
            {"from": "sms", "to": "done", "branch": "success"},
            {"from": "sms", "to": "done", "branch": "failure"},
        ],
    }


@pytest.fixture
def webhook(make_webhook, httpserver: HTTPServer):
    return make_webhook(httpserver.url_for("/sms"))


def test_a_graph_saves_and_reads_back_unchanged(api, webhook):
    sent = design_graph(webhook.pk)

    created = api.post("/api/v1/journeys", sent, format="json")

    assert created.status_code == 201
    body = created.json()
    assert body["status"] == "draft"
    for field in ("name", "entry", "reentry", "exit_events", "nodes", "edges"):
        assert body[field] == sent[field]
    assert api.get(f"/api/v1/journeys/{body['id']}").json()["nodes"] == sent["nodes"]


def test_activate_pause_duplicate_and_active_journeys_are_not_editable(api, webhook):
    journey_id = api.post("/api/v1/journeys", design_graph(webhook.pk), format="json").json()["id"]

    activated = api.post(f"/api/v1/journeys/{journey_id}/activate")
    edit = api.patch(f"/api/v1/journeys/{journey_id}", {"name": "Renamed"}, format="json")
    copy = api.post(f"/api/v1/journeys/{journey_id}/duplicate")
    paused = api.post(f"/api/v1/journeys/{journey_id}/pause")

    assert activated.json()["status"] == "active"
    assert edit.status_code == 400
    assert edit.json() == {
        "journey": ["An active journey cannot be edited: pause it, or duplicate it to make an editable draft."]
    }
    assert copy.status_code == 201
    assert (copy.json()["name"], copy.json()["status"]) == ("Welcome (copy)", "draft")
    assert copy.json()["nodes"] == design_graph(webhook.pk)["nodes"]
    assert paused.json()["status"] == "paused"
    assert api.patch(f"/api/v1/journeys/{journey_id}", {"name": "Renamed"}, format="json").json()["name"] == "Renamed"


def test_activation_problems_come_back_as_a_list(api, webhook):
    graph = design_graph(webhook.pk)
    graph["nodes"][2]["config"]["data"] = {}
    journey_id = api.post("/api/v1/journeys", graph, format="json").json()["id"]

    response = api.post(f"/api/v1/journeys/{journey_id}/activate")

    assert response.status_code == 400
    assert response.json() == {"journey": ["Node 'sms': fill the webhook's data variables: text."]}


def test_a_delay_of_a_billion_days_is_refused_at_activation_and_nobody_enrols(api, webhook, end_user):
    graph = design_graph(webhook.pk)
    graph["nodes"][1]["config"] = {"days": 1_000_000_000}
    journey_id = api.post("/api/v1/journeys", graph, format="json").json()["id"]

    response = api.post(f"/api/v1/journeys/{journey_id}/activate")

    assert response.status_code == 400
    assert response.json() == {
        "journey": [
            "Node 'wait': a delay is at most 365 days (8760 hours, 525600 minutes); a longer one is most likely a unit typed wrong."
        ]
    }
    assert api.get(f"/api/v1/journeys/{journey_id}").json()["status"] == "draft"
    enrol = api.post(f"/api/v1/journeys/{journey_id}/enrol", {"user_id": end_user.user_id}, format="json")
    assert enrol.json() == {"journey": ["Only an active journey enrols users."]}
    assert JourneyRun.objects.count() == 0


def test_enrol_says_why_a_user_was_not_let_in(api, webhook, end_user):
    open_graph = {**design_graph(webhook.pk), "name": "Open", "entry": {"event": "signup", "filter": None}}
    open_id = api.post("/api/v1/journeys", open_graph, format="json").json()["id"]
    filtered_id = api.post("/api/v1/journeys", design_graph(webhook.pk), format="json").json()["id"]
    for journey_id in (open_id, filtered_id):
        assert api.post(f"/api/v1/journeys/{journey_id}/activate").status_code == 200

    first = api.post(f"/api/v1/journeys/{open_id}/enrol", {"user_id": end_user.user_id}, format="json")
    again = api.post(f"/api/v1/journeys/{open_id}/enrol", {"user_id": end_user.user_id}, format="json")
    filtered = api.post(f"/api/v1/journeys/{filtered_id}/enrol", {"user_id": end_user.user_id}, format="json")

    run = JourneyRun.objects.get()
    assert (first.status_code, first.json()) == (201, {"run_id": str(run.pk), "enrolled": True, "reason": ""})
    assert (again.status_code, again.json()) == (
        200,
        {"run_id": None, "enrolled": False, "reason": "The user is in this journey now; a user has one run at a time."},
    )
    assert (filtered.status_code, filtered.json()) == (
        200,
        {"run_id": None, "enrolled": False, "reason": "The user does not match the journey's entry filter."},
    )


def test_a_graph_that_cannot_be_drawn_is_refused(api, webhook):
    graph = design_graph(webhook.pk)
    graph["nodes"].append({"key": "x", "type": "teleport"})
    graph["edges"].append({"from": "done", "to": "nowhere"})

    response = api.post("/api/v1/journeys", graph, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "graph": [
            "Node 'x' has an unknown type 'teleport' (one of entry, delay, condition, split, webhook, exit).",
            "Edge done → nowhere joins a node that does not exist.",
        ]
    }


def test_events_in_a_batch_create_unknown_users_and_report_each(api, webhook):
    response = api.post(
        "/api/v1/events",
        [{"user_id": "new-1", "type": "signup", "event_id": "a"}, {"user_id": "new-1", "type": "signup", "event_id": "a"}],
        format="json",
    )

    assert response.status_code == 200
    assert [(e["event_id"], e["recorded"]) for e in response.json()["events"]] == [("a", True), ("a", False)]
    assert api.get("/api/v1/users/new-1").status_code == 200


def test_another_projects_journey_is_404(api, other_project, make_webhook, httpserver: HTTPServer):
    from journeys.graph import parse_graph
    from journeys.services import journey_create

    foreign = journey_create(project=other_project, values={"name": "Theirs"}, graph=parse_graph([], []))

    for call in (api.get, api.patch, api.delete):
        assert call(f"/api/v1/journeys/{foreign.pk}").status_code == 404
    for verb in ("activate", "pause", "duplicate", "enrol"):
        assert api.post(f"/api/v1/journeys/{foreign.pk}/{verb}").status_code == 404
    assert api.get(f"/api/v1/journeys/{foreign.pk}/stats").status_code == 404


def test_a_webhook_used_by_a_journey_cannot_be_deleted(api, webhook):
    api.post("/api/v1/journeys", design_graph(webhook.pk), format="json")

    response = api.delete(f"/api/v1/webhooks/{webhook.pk}")

    assert response.status_code == 400
    assert response.json() == {"webhook": ["Journeys use this webhook: Welcome. Remove it from them first."]}


def test_only_active_journeys_pause_and_archived_ones_are_not_editable(api, webhook):
    journey_id = api.post("/api/v1/journeys", design_graph(webhook.pk), format="json").json()["id"]

    pause_draft = api.post(f"/api/v1/journeys/{journey_id}/pause")
    api.post(f"/api/v1/journeys/{journey_id}/archive")
    edit_archived = api.patch(f"/api/v1/journeys/{journey_id}", {"name": "x"}, format="json")
    no_field = api.post(
        "/api/v1/journeys",
        {**design_graph(webhook.pk), "entry": {"event": "signup", "filter": {"field": "", "op": "equals"}}},
        format="json",
    )

    assert pause_draft.json() == {"journey": ["Only an active journey can be paused (this one is draft)."]}
    assert edit_archived.json() == {"journey": ["An archived journey cannot be edited: duplicate it to make an editable draft."]}
    assert no_field.status_code == 400
    assert no_field.json() == {
        "journey": ["The entry filter needs field, op (equals, not_equals, contains, exists, greater, less) and value."]
    }


def test_duplicating_a_journey_with_a_name_at_the_limit_keeps_the_copy_within_it(api):
    # Found by schemathesis (make api-fuzz): "<200 chars> (copy)" broke the name's 200-character limit.
    journey_id = api.post("/api/v1/journeys", {"name": "n" * 200}, format="json").json()["id"]

    copy = api.post(f"/api/v1/journeys/{journey_id}/duplicate")

    assert copy.status_code == 201
    assert copy.json()["name"] == "n" * 193 + " (copy)"
