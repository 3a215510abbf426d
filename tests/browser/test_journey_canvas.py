"""The journey canvas in the system Chromium: draw the welcome journey, activate it, let three
users sign up, and see the requests, the node counts and the history; active journeys are
read-only and Duplicate makes an editable draft."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect
from pytest_httpserver import HTTPServer
from rest_framework.test import APIClient

from flarelane.audience.services import api_key_issue, end_user_put
from history.models import Delivery
from journeys.graph import parse_graph
from journeys.models import Journey
from journeys.services import journey_activate, journey_create
from tests.browser.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-canvas-123456"
USERS = [("u-1", "Minji", "01011112222"), ("u-2", "Jisoo", "01033334444"), ("u-3", "Alex", "01055556666")]


@pytest.fixture
def admin_user(db):
    return User.objects.create_superuser("canvas-admin", "canvas@example.com", PASSWORD)


def node(page, key: str):
    return page.locator(f".journey-node[data-key='{key}']")


def port(page, key: str, branch: str):
    return page.locator(f".journey-node[data-key='{key}'] .port[data-branch='{branch}']")


def open_canvas(page, journey_id: int) -> None:
    page.goto(f"/admin/journeys/journey/{journey_id}/canvas/")
    page.wait_for_selector("#journey-app[data-loading='false']")


def counts(page, key: str) -> dict[str, str]:
    return {
        name: node(page, key).locator(f".count-value[data-count='{name}']").inner_text()
        for name in ("entered", "waiting", "success", "failure")
    }


def test_draw_activate_and_run_the_welcome_journey(
    page, screenshot, live_server, admin_user, project, make_webhook, httpserver: HTTPServer, run_tasks_inline
):
    httpserver.expect_request("/sms").respond_with_json({"ok": True}, status=200)
    webhook = make_webhook(httpserver.url_for("/sms"))
    for user_id, name, phone in USERS:
        end_user_put(project=project, user_id=user_id, attributes={"name": name}, tags={"phone_number": phone})
    login(page, "canvas-admin", PASSWORD)

    # New journey: the short form creates a draft and opens its canvas.
    page.goto("/admin/journeys/journey/")
    page.click("#new-journey")
    page.fill("#id_name", "Welcome SMS")
    page.fill("#id_entry_event", "signup")
    screenshot("journey-01-new")
    page.click("#create-journey")
    page.wait_for_url(re.compile(r"/admin/journeys/journey/\d+/canvas/$"))
    page.wait_for_selector("#journey-app[data-loading='false']")
    journey = Journey.objects.get(name="Welcome SMS")
    assert page.text_content("#journey-status") == "draft"
    assert page.is_visible("#journey-empty")
    screenshot("journey-02-empty-canvas")

    # Draw: entry, delay, webhook, exit from the palette; a node added while another is
    # selected follows it, and the webhook's two branches are dragged to the exit.
    page.click("#palette button[data-type='entry']")
    assert page.is_disabled("#palette button[data-type='entry']")  # one entry per journey
    page.click("#palette button[data-type='delay']")
    page.click("#palette button[data-type='webhook']")
    page.click("#journey-canvas", position={"x": 15, "y": 500})  # deselect: the exit stands alone
    page.click("#palette button[data-type='exit']")
    assert [node(page, k).get_attribute("data-type") for k in ("n1", "n2", "n3", "n4")] == ["entry", "delay", "webhook", "exit"]
    assert page.locator(".journey-edge").count() == 2

    port(page, "n3", "success").drag_to(node(page, "n4"))
    port(page, "n3", "failure").click()  # click a port, then the node to connect to
    node(page, "n4").click()
    assert page.locator(".journey-edge").count() == 4
    assert page.locator(".journey-edge[data-from='n3'][data-branch='failure'][data-to='n4']").count() == 1

    # Drag the exit under the webhook node; its position is saved with the graph.
    box = node(page, "n4").bounding_box()
    target = node(page, "n3").bounding_box()
    page.mouse.move(box["x"] + 60, box["y"] + 12)
    page.mouse.down()
    page.mouse.move(target["x"] + 60, target["y"] + target["height"] + 60 + 12, steps=8)
    page.mouse.up()
    moved = node(page, "n4").bounding_box()
    assert moved["x"] == target["x"]
    assert abs(moved["y"] - (target["y"] + target["height"] + 60)) <= 5  # snapped to the 10 px grid
    dragged_to = node(page, "n4").evaluate("box => [parseInt(box.style.left), parseInt(box.style.top)]")

    # Configure: delay 0 minutes, the SMS webhook with its one data variable.
    node(page, "n2").click()
    page.fill("#delay-amount", "0")
    assert page.input_value("#delay-unit") == "minutes"
    node(page, "n3").click()
    page.select_option("#webhook-select", label="Third-party SMS")
    assert page.locator("#node-panel textarea.data-var").count() == 1
    page.fill("#node-panel textarea.data-var[data-name='text']", "Welcome {{ name }}")
    assert node(page, "n3").locator(".node-summary").inner_text() == "Third-party SMS"
    screenshot("journey-03-drawn")

    page.click("#save-journey")
    page.wait_for_selector("#journey-message:has-text('Saved')")
    saved = APIClient()
    saved.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_issue(project=project).plaintext}")
    graph = saved.get(f"/api/v1/journeys/{journey.pk}").json()
    assert graph["entry"] == {"event": "signup", "filter": None}
    assert [(n["key"], n["type"], n["config"]) for n in graph["nodes"]] == [
        ("n1", "entry", {}),
        ("n2", "delay", {"minutes": 0}),
        ("n3", "webhook", {"webhook": webhook.pk, "data": {"text": "Welcome {{ name }}"}, "response_to_tags": {}}),
        ("n4", "exit", {}),
    ]
    assert sorted((e["from"], e["to"], e.get("branch", "")) for e in graph["edges"]) == [
        ("n1", "n2", ""),
        ("n2", "n3", ""),
        ("n3", "n4", "failure"),
        ("n3", "n4", "success"),
    ]
    positions = {n["key"]: n["position"] for n in graph["nodes"]}
    assert [positions["n4"]["x"], positions["n4"]["y"]] == dragged_to

    page.click("#activate-journey")
    page.wait_for_selector("#journey-status[data-status='active']")
    assert page.inner_text("#journey-readonly") == "Active journeys cannot be edited: pause it or duplicate it."
    assert not page.is_visible("#palette")
    assert not page.is_visible("#save-journey")
    screenshot("journey-04-active")

    # Three users sign up through the API; queued tasks run in this process.
    for user_id, _, _ in USERS:
        response = saved.post(
            "/api/v1/events", {"user_id": user_id, "type": "signup", "event_id": f"signup-{user_id}"}, format="json"
        )
        assert response.status_code == 200
        assert len(response.json()["enrolled_runs"]) == 1

    bodies = [json.loads(request.get_data()) for request, _ in httpserver.log]
    assert sorted((b["body"], b["recipientList"][0]["recipientNo"]) for b in bodies) == [
        ("Welcome Alex", "01055556666"),
        ("Welcome Jisoo", "01033334444"),
        ("Welcome Minji", "01011112222"),
    ]

    open_canvas(page, journey.pk)
    page.wait_for_selector(".journey-node[data-key='n3'] .count-value[data-count='success']:has-text('3')")
    assert counts(page, "n3") == {"entered": "3", "waiting": "0", "success": "3", "failure": "0"}
    assert counts(page, "n1")["entered"] == "3"
    assert counts(page, "n4")["entered"] == "3"
    screenshot("journey-05-counts")

    page.click("#journey-history")
    page.wait_for_url(re.compile(rf"/admin/history/delivery/\?journey_id={journey.pk}$"))
    rows = page.locator("#result_list tbody tr")
    screenshot("journey-06-history")
    expect(rows).to_have_count(3)
    assert all("success" in rows.nth(i).inner_text().lower() for i in range(3))
    assert sorted(Delivery.objects.filter(journey_id=journey.pk).values_list("status", flat=True)) == ["success"] * 3
    screenshot("journey-06-history")


def test_activation_problems_are_listed(page, screenshot, live_server, admin_user, project):
    journey = journey_create(
        project=project,
        values={"name": "Half drawn", "entry_event": "signup"},
        graph=parse_graph([{"key": "n1", "type": "entry", "position": {"x": 40, "y": 40}}, {"key": "n2", "type": "webhook"}], []),
    )
    login(page, "canvas-admin", PASSWORD)
    open_canvas(page, journey.pk)

    page.click("#activate-journey")
    page.wait_for_selector("#journey-problems li.problem")

    problems = page.locator("#journey-problems li.problem").all_inner_texts()
    assert "Node 'n1' leads nowhere: connect it (end paths with an exit node)." in problems
    assert "Node 'n2': pick a webhook of this project." in problems
    assert "Node 'n2' cannot be reached from the entry." in problems
    assert page.text_content("#journey-status") == "draft"
    screenshot("journey-07-problems")


def test_active_journey_is_read_only_and_duplicate_gives_an_editable_draft(page, screenshot, live_server, admin_user, project):
    graph = parse_graph(
        [
            {"key": "start", "type": "entry", "position": {"x": 40, "y": 60}},
            {"key": "check", "type": "condition", "config": {"field": "tags.plan", "op": "equals", "value": "pro"}},
            {"key": "ab", "type": "split", "config": {"branches": [{"key": "a", "percent": 30}, {"key": "b", "percent": 70}]}},
            {"key": "end", "type": "exit"},
        ],
        [
            {"from": "start", "to": "check"},
            {"from": "check", "to": "ab", "branch": "true"},
            {"from": "check", "to": "end", "branch": "false"},
            {"from": "ab", "to": "end", "branch": "a"},
            {"from": "ab", "to": "end", "branch": "b"},
        ],
    )
    journey = journey_activate(
        journey=journey_create(project=project, values={"name": "Upsell", "entry_event": "purchase"}, graph=graph)
    )
    login(page, "canvas-admin", PASSWORD)
    open_canvas(page, journey.pk)

    assert page.inner_text("#journey-readonly") == "Active journeys cannot be edited: pause it or duplicate it."
    assert not page.is_visible("#palette")
    assert not page.is_visible("#save-journey")
    assert not page.is_visible("#activate-journey")
    assert page.is_visible("#pause-journey")
    assert page.is_disabled(".journey-node[data-key='ab'] .port[data-branch='a']")
    assert page.locator(".journey-edge").count() == 5
    assert page.locator(".journey-edge[data-from='ab'][data-branch='b'] text").text_content() == "b"
    # Dragging does not move a node, and the panel shows the settings without letting them change.
    before = node(page, "start").bounding_box()
    page.mouse.move(before["x"] + 50, before["y"] + 12)
    page.mouse.down()
    page.mouse.move(before["x"] + 250, before["y"] + 212, steps=5)
    page.mouse.up()
    assert node(page, "start").bounding_box() == before
    node(page, "check").click()
    assert page.input_value("#condition-field") == "tags.plan"
    assert page.is_disabled("#condition-field")
    assert page.locator("#delete-node").count() == 0
    screenshot("journey-08-read-only")

    page.click("#duplicate-journey")
    page.wait_for_url(lambda url: f"/journey/{journey.pk}/" not in url)
    page.wait_for_selector("#journey-app[data-loading='false']")
    copy = Journey.objects.exclude(pk=journey.pk).get()
    assert page.url.endswith(f"/admin/journeys/journey/{copy.pk}/canvas/")
    assert (copy.name, copy.status, copy.duplicated_from_id) == ("Upsell (copy)", "draft", journey.pk)
    assert page.text_content("#journey-status") == "draft"
    assert page.is_visible("#palette")
    assert not page.is_visible("#journey-readonly")

    # The copy is editable: a new node gets the next free key and the graph saves.
    page.click("#journey-canvas", position={"x": 15, "y": 500})
    page.click("#palette button[data-type='delay']")
    assert node(page, "n1").get_attribute("data-type") == "delay"
    page.fill("#journey-name-input", "Upsell v2")
    page.click("#save-journey")
    page.wait_for_selector("#journey-message:has-text('Saved')")
    copy.refresh_from_db()
    assert copy.name == "Upsell v2"
    assert list(copy.nodes.values_list("key", flat=True)) == ["start", "check", "ab", "end", "n1"]
    assert Journey.objects.get(pk=journey.pk).status == "active"

    page.goto(f"/admin/journeys/journey/{journey.pk}/canvas/")
    page.wait_for_selector("#journey-app[data-loading='false']")
    page.click("#pause-journey")
    page.wait_for_selector("#journey-status[data-status='paused']")
    assert page.is_visible("#save-journey")
    assert page.inner_text("#activate-journey") == "Resume"
    screenshot("journey-09-paused")
