"""The webhook page: send to many users from the console, and see progress and journeys."""

import pytest
from django.contrib.auth.models import Permission, User
from django.utils import timezone
from pytest_httpserver import HTTPServer

from channels_webhook import sending
from flarelane.audience.services import end_user_put
from history import services as history_services
from history.models import Delivery, SendBatch
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


def _users_with_plans(project, plans: dict[str, str]) -> None:
    for user_id, plan in plans.items():
        end_user_put(project=project, user_id=user_id, attributes={}, tags={"phone_number": "010", "plan": plan})


def test_send_to_the_users_with_a_tag_value_from_the_console(
    admin_client, admin_user, httpserver: HTTPServer, make_webhook, project, run_tasks_inline
):
    httpserver.expect_request("/sms").respond_with_json({"ok": True})
    webhook = make_webhook(httpserver.url_for("/sms"))
    _users_with_plans(project, {"a": "pro", "b": "free", "c": "pro"})

    response = admin_client.post(
        f"/admin/channels_webhook/webhook/{webhook.pk}/send-many/",
        {"recipients": "tag", "tag": "plan", "equals": "pro", "data__text": "Hi"},
        follow=True,
    )

    assert [str(message) for message in response.context["messages"]] == ["Queued a send to 2 users; progress is below."]
    assert sorted(Delivery.objects.values_list("user_id", "status", "source", "created_by")) == [
        ("a", "success", "console", admin_user.pk),
        ("c", "success", "console", admin_user.pk),
    ]
    assert len(httpserver.log) == 2


def test_send_to_every_user_from_the_console_and_a_tag_needs_its_name(
    admin_client, httpserver: HTTPServer, make_webhook, project, run_tasks_inline
):
    httpserver.expect_request("/sms").respond_with_json({"ok": True})
    webhook = make_webhook(httpserver.url_for("/sms"))
    _users_with_plans(project, {"a": "pro", "b": "free"})
    url = f"/admin/channels_webhook/webhook/{webhook.pk}/send-many/"

    nameless = admin_client.post(url, {"recipients": "tag", "tag": "", "equals": "pro", "data__text": "Hi"})
    everyone = admin_client.post(url, {"recipients": "all", "data__text": "Hi"})

    assert nameless.status_code == 200
    assert nameless.context["form"].errors == {"tag": ["Name the tag, e.g. plan."]}
    assert everyone.status_code == 302
    assert sorted(Delivery.objects.values_list("user_id", flat=True)) == ["a", "b"]


def test_cancel_a_running_send_from_the_webhook_page(admin_client, httpserver: HTTPServer, make_webhook, project):
    webhook = make_webhook(httpserver.url_for("/sms"))
    _users_with_plans(project, {"a": "pro", "b": "pro", "c": "pro"})
    admin_client.post(f"/admin/channels_webhook/webhook/{webhook.pk}/send-many/", {"user_ids": "a b c", "data__text": "Hi"})
    (send,) = SendBatch.objects.all()
    page = admin_client.get(f"/admin/channels_webhook/webhook/{webhook.pk}/change/").content.decode()
    cancel_url = f"/admin/channels_webhook/webhook/{webhook.pk}/sends/{send.pk}/cancel/"
    assert f'action="{cancel_url}"' in page

    response = admin_client.post(cancel_url, follow=True)

    assert [str(message) for message in response.context["messages"]] == ["Cancelled the send: 3 deliveries will not be sent."]
    assert set(Delivery.objects.values_list("status", "failure_reason")) == {("failure", "cancelled")}
    page = response.content.decode()
    assert '<td class="send-failure" style="color:#b3261e">3 (3 cancelled)</td>' in page
    assert f'action="{cancel_url}"' not in page
    progress = admin_client.get(f"/admin/channels_webhook/webhook/{webhook.pk}/sends/").json()
    assert progress == {
        "sends": [
            {
                "id": str(send.pk),
                "total": 3,
                "done": 3,
                "success": 0,
                "failure": 3,
                "cancelled": 3,
                "pending": 0,
                "created_at": send.created_at.isoformat(),
                "cancelled_at": SendBatch.objects.get().cancelled_at.isoformat(),
            }
        ]
    }
    assert httpserver.log == []


def test_staff_who_may_only_view_cannot_cancel_a_send(client, httpserver: HTTPServer, make_webhook, project):
    viewer = User.objects.create_user("viewer", password="pw-viewer-123", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(content_type__app_label="channels_webhook", codename="view_webhook"))
    client.force_login(viewer)
    webhook = make_webhook(httpserver.url_for("/sms"))
    _users_with_plans(project, {"a": "pro"})
    queued = sending.send_to_users(webhook=webhook, user_ids=["a"], data={"text": "Hi"}, source="api")

    response = client.post(f"/admin/channels_webhook/webhook/{webhook.pk}/sends/{queued.send_id}/cancel/")

    assert response.status_code == 403
    assert Delivery.objects.get().status == "pending"


def test_cancel_counts_apart_what_a_worker_already_holds(admin_client, httpserver: HTTPServer, make_webhook, project):
    webhook = make_webhook(httpserver.url_for("/sms"))
    _users_with_plans(project, {"a": "pro", "b": "pro", "c": "pro"})
    queued = sending.send_to_users(webhook=webhook, user_ids=["a", "b", "c"], data={"text": "Hi"}, source="api")
    history_services.deliveries_claim(delivery_ids=queued.delivery_ids[:1], now=timezone.now(), lease_seconds=60)

    response = admin_client.post(f"/admin/channels_webhook/webhook/{webhook.pk}/sends/{queued.send_id}/cancel/", follow=True)

    assert [str(message) for message in response.context["messages"]] == [
        "Cancelled the send: 2 deliveries will not be sent; 1 that workers hold end within seconds "
        "(one in flight is still answered)."
    ]
    assert sorted(Delivery.objects.values_list("status", flat=True)) == ["failure", "failure", "sending"]


def test_a_tag_value_nobody_has_queues_nothing_and_says_so(admin_client, httpserver: HTTPServer, make_webhook, project):
    webhook = make_webhook(httpserver.url_for("/sms"))
    _users_with_plans(project, {"a": "pro"})

    response = admin_client.post(
        f"/admin/channels_webhook/webhook/{webhook.pk}/send-many/",
        {"recipients": "tag", "tag": "plan", "equals": "enterprise", "data__text": "Hi"},
    )

    assert response.status_code == 200
    assert response.context["form"].errors == {"equals": ['No user has the tag plan equal to "enterprise"; nothing was queued.']}
    assert SendBatch.objects.count() == 0
