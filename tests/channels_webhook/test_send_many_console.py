"""The webhook page: send to many users from the console, and see progress and journeys."""

import pytest
from pytest_httpserver import HTTPServer

from flarelane.audience.services import end_user_put
from history.models import Delivery
from journeys.graph import parse_graph
from journeys.services import journey_create

pytestmark = pytest.mark.django_db


def test_send_to_many_users_queues_a_batch_and_the_webhook_page_shows_its_progress(
    admin_client, httpserver: HTTPServer, make_webhook, project, run_tasks_inline
):
    httpserver.expect_request("/sms").respond_with_json({"ok": True})
    webhook = make_webhook(httpserver.url_for("/sms"))
    for user_id in ("a", "b"):
        end_user_put(project=project, user_id=user_id, attributes={}, tags={"phone_number": "010"})
    end_user_put(project=project, user_id="c", attributes={}, tags={})

    response = admin_client.post(
        f"/admin/channels_webhook/webhook/{webhook.pk}/send-many/", {"user_ids": "a\nb, c", "data__text": "Hi"}
    )

    assert response.status_code == 302
    assert response["Location"] == f"/admin/channels_webhook/webhook/{webhook.pk}/change/#webhook-insights"
    assert sorted(Delivery.objects.values_list("user_id", "status")) == [("a", "success"), ("b", "success"), ("c", "failure")]
    page = admin_client.get(f"/admin/channels_webhook/webhook/{webhook.pk}/change/").content.decode()
    assert '<td class="send-done">3 of 3</td>' in page
    assert '<td class="send-success" style="color:#1b7f3b">2</td>' in page
    assert '<td class="send-failure" style="color:#b3261e">1</td>' in page
    assert len(httpserver.log) == 2


def test_send_to_many_refuses_unknown_users_and_sends_nothing(admin_client, httpserver: HTTPServer, make_webhook):
    webhook = make_webhook(httpserver.url_for("/sms"))

    response = admin_client.post(
        f"/admin/channels_webhook/webhook/{webhook.pk}/send-many/", {"user_ids": "ghost", "data__text": "Hi"}
    )

    assert response.status_code == 200
    assert "No such users in this project: ghost" in response.content.decode()
    assert Delivery.objects.count() == 0


def test_the_webhook_page_lists_the_journeys_that_use_it(admin_client, httpserver: HTTPServer, make_webhook, project):
    webhook = make_webhook(httpserver.url_for("/sms"))
    graph = parse_graph(
        [
            {"key": "s", "type": "entry"},
            {"key": "w", "type": "webhook", "config": {"webhook": webhook.pk, "data": {"text": "x"}}},
        ],
        [{"from": "s", "to": "w"}],
    )
    journey = journey_create(project=project, values={"name": "Welcome"}, graph=graph)

    page = admin_client.get(f"/admin/channels_webhook/webhook/{webhook.pk}/change/").content.decode()

    assert f'<a href="/admin/journeys/journey/{journey.pk}/canvas/">Welcome</a> (draft)' in page
