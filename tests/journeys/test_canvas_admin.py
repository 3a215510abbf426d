"""The journeys console: the list, the new-journey form and the canvas page, through the test client."""

import json
import re

import pytest
from django.contrib.auth.models import User
from django.test import Client

from journeys.graph import parse_graph
from journeys.models import Journey
from journeys.services import journey_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client() -> Client:
    user = User.objects.create_superuser("admin", "admin@example.com", "pw-123456789")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def journey(project) -> Journey:
    graph = parse_graph([{"key": "n1", "type": "entry"}, {"key": "n2", "type": "exit"}], [{"from": "n1", "to": "n2"}])
    return journey_create(project=project, values={"name": "Welcome series", "entry_event": "signup"}, graph=graph)


def test_canvas_page_renders_for_staff_with_its_configuration(staff_client, journey, project):
    response = staff_client.get(f"/admin/journeys/journey/{journey.pk}/canvas/")

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="journey-canvas"' in html
    assert 'id="palette"' in html
    assert 'id="node-panel"' in html
    assert 'id="journey-status"' in html
    config = json.loads(
        re.search(r'<script id="journey-canvas-config" type="application/json">(.*?)</script>', html, re.S).group(1)
    )
    assert config["journeyId"] == journey.pk
    assert config["project"] == project.slug
    assert config["mayEdit"] is True
    assert config["canvasUrl"] == "/admin/journeys/journey/{id}/canvas/"
    assert config["historyUrl"] == f"/admin/history/delivery/?journey_id={journey.pk}"


def test_canvas_page_loads_only_local_static_assets(staff_client, journey):
    html = staff_client.get(f"/admin/journeys/journey/{journey.pk}/canvas/").content.decode()

    sources = re.findall(r'<(?:script|link|img)[^>]+(?:src|href)="([^"]+)"', html)
    assert "/static/journeys/canvas.js" in sources
    assert "/static/journeys/canvas.css" in sources
    assert [s for s in sources if s.startswith(("http:", "https:", "//"))] == []


def test_canvas_page_refuses_non_staff(journey):
    User.objects.create_user("visitor", "v@example.com", "pw-123456789")
    client = Client()
    client.login(username="visitor", password="pw-123456789")

    response = client.get(f"/admin/journeys/journey/{journey.pk}/canvas/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert Client().get(f"/admin/journeys/journey/{journey.pk}/canvas/").status_code == 302


def test_canvas_page_of_a_missing_journey_is_404(staff_client):
    assert staff_client.get("/admin/journeys/journey/999999/canvas/").status_code == 404


def test_admin_list_shows_journeys_with_run_counts_and_canvas_links(staff_client, journey):
    draft = journey_create(project=journey.project, values={"name": "Win-back", "entry_event": ""}, graph=parse_graph([], []))

    response = staff_client.get("/admin/journeys/journey/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Welcome series" in html
    assert "Win-back" in html
    assert "(API only)" in html
    assert f'href="/admin/journeys/journey/{journey.pk}/canvas/"' in html
    assert f'href="/admin/journeys/journey/{draft.pk}/canvas/"' in html
    assert "Open canvas" in html
    assert 'id="new-journey"' in html


def test_new_journey_creates_an_empty_draft_and_opens_its_canvas(staff_client, project):
    assert staff_client.get("/admin/journeys/journey/add/").status_code == 200

    response = staff_client.post(
        "/admin/journeys/journey/add/", {"project": project.pk, "name": "Onboarding", "entry_event": " signup "}
    )

    journey = Journey.objects.get(name="Onboarding")
    assert response.status_code == 302
    assert response["Location"] == f"/admin/journeys/journey/{journey.pk}/canvas/"
    assert (journey.status, journey.entry_event, journey.project_id) == ("draft", "signup", project.pk)
    assert journey.nodes.count() == 0


def test_journey_detail_page_is_read_only_with_a_canvas_link(staff_client, journey):
    response = staff_client.get(f"/admin/journeys/journey/{journey.pk}/change/")

    assert response.status_code == 200
    html = response.content.decode()
    assert f'href="/admin/journeys/journey/{journey.pk}/canvas/"' in html
    assert 'name="name"' not in html  # settings change on the canvas, not here


def test_journey_runs_list_is_read_only(staff_client, journey):
    response = staff_client.get("/admin/journeys/journeyrun/")

    assert response.status_code == 200
    assert "Add journey run" not in response.content.decode()
