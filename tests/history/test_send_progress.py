"""A send to many users is one batch; its progress is done of total, successes, failures, pending."""

import pytest
from pytest_httpserver import HTTPServer

from channels_webhook import sending
from flarelane.audience.services import end_user_put

pytestmark = pytest.mark.django_db


def test_send_reports_its_progress_as_deliveries_finish(api, httpserver: HTTPServer, make_webhook, project, other_project):
    httpserver.expect_request("/hook").respond_with_json({"ok": True})
    webhook = make_webhook(httpserver.url_for("/hook"), body='{"to": "{{ tags.phone_number }}"}', headers=[])
    for user_id, tags in [("a", {"phone_number": "1"}), ("b", {"phone_number": "2"}), ("c", {})]:
        end_user_put(project=project, user_id=user_id, attributes={}, tags=tags)

    response = api.post(f"/api/v1/webhooks/{webhook.pk}/send", {"user_ids": ["a", "b", "c"]}, format="json")
    assert response.status_code == 202
    send_id = response.json()["send_id"]
    queued = api.get(f"/api/v1/sends/{send_id}").json()
    assert {k: queued[k] for k in ("id", "total", "done", "success", "failure", "pending")} == {
        "id": send_id,
        "total": 3,
        "done": 0,
        "success": 0,
        "failure": 0,
        "pending": 3,
    }

    for delivery_id in response.json()["delivery_ids"]:
        sending.deliver(delivery_id=delivery_id)

    finished = api.get(f"/api/v1/sends/{send_id}").json()
    assert {k: finished[k] for k in ("total", "done", "success", "failure", "cancelled", "pending")} == {
        "total": 3,
        "done": 3,
        "success": 2,
        "failure": 1,  # user c has no phone_number tag: nothing was sent for them
        "cancelled": 0,
        "pending": 0,
    }
    assert len(httpserver.log) == 2


def test_progress_of_another_projects_send_is_404(api, httpserver: HTTPServer, make_webhook, other_project):
    end_user_put(project=other_project, user_id="x", attributes={}, tags={"phone_number": "1"})
    foreign = make_webhook(httpserver.url_for("/hook"), project=other_project, headers=[])
    queued = sending.send_to_users(webhook=foreign, user_ids=["x"], data={"text": "Hi"}, source="api")

    assert api.get(f"/api/v1/sends/{queued.send_id}").status_code == 404
