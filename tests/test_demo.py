"""The demo: `seed_demo` (idempotent) and the built-in demo receiver, including the first
history it seeds against a live server."""

import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from channels_webhook.models import Webhook
from channels_webhook.services import webhook_update
from flarelane.audience.models import EndUser, Project
from flarelane.sealing import unseal
from history.models import Delivery

SMS_PATH = "/sms/v3.0/appKeys/demo/sender/sms"


@pytest.fixture
def demo_receiver_on(settings) -> None:
    settings.DEMO_RECEIVER_ENABLED = True


# --------------------------------------------------------------------------- seed_demo


@pytest.mark.django_db
def test_seed_demo_creates_login_project_users_and_the_two_webhooks(settings, demo_receiver_on):
    settings.DEMO_RECEIVER_BASE_URL = "http://127.0.0.1:8000/demo-receiver/"

    call_command("seed_demo")

    (admin,) = get_user_model().objects.all()
    assert admin.username == "admin"
    assert admin.is_superuser is True
    assert admin.is_staff is True
    assert admin.check_password("admin") is True
    project = Project.objects.get()
    assert project.slug == "demo"
    users = {u.user_id: u for u in EndUser.objects.filter(project=project)}
    assert sorted(users) == ["u-1001", "u-1002", "u-1003", "u-1004"]
    assert users["u-1001"].tags == {"phone_number": "01012345678", "plan": "pro"}
    assert users["u-1004"].tags == {"plan": "free"}
    sms, coupons = Webhook.objects.filter(project=project).order_by("-name")
    assert sms.name == "Third-party SMS"
    assert sms.method == "POST"
    assert sms.url == "http://127.0.0.1:8000/demo-receiver" + SMS_PATH
    assert sms.data_variables == ["text"]
    assert [(h["name"], h["secret"]) for h in sms.headers] == [("Content-Type", False), ("X-Secret-Key", True)]
    assert sms.headers[0]["value"] == "application/json;charset=UTF-8"
    assert "value" not in sms.headers[1]
    assert unseal(sms.headers[1]["sealed"]) == "demo-secret-key-123"
    assert json.loads(sms.body) == {
        "body": "{{ text }}",
        "sendNo": "15446859",
        "recipientList": [{"recipientNo": "{{ tags.phone_number }}", "countryCode": "82"}],
    }
    assert coupons.name == "Own API by user id"
    assert coupons.url == "http://127.0.0.1:8000/demo-receiver/coupons"
    assert coupons.data_variables == ["text"]
    assert json.loads(coupons.body) == {"userId": "{{ userId }}", "text": "{{ text }}"}
    assert Delivery.objects.count() == 0  # no sends without --send-examples


@pytest.mark.django_db
def test_seed_demo_twice_creates_no_duplicates(demo_receiver_on):
    call_command("seed_demo")
    first_ids = sorted(Webhook.objects.values_list("pk", flat=True))

    call_command("seed_demo", admin_password="something-else")

    assert get_user_model().objects.count() == 1
    assert get_user_model().objects.get().check_password("admin") is True  # an existing login is left alone
    assert Project.objects.count() == 1
    assert EndUser.objects.count() == 4
    assert sorted(Webhook.objects.values_list("pk", flat=True)) == first_ids
    assert sorted(Webhook.objects.values_list("name", flat=True)) == ["Own API by user id", "Third-party SMS"]


@pytest.mark.django_db
def test_seed_demo_again_keeps_what_was_changed_and_follows_the_receivers_port(settings, demo_receiver_on):
    call_command("seed_demo")
    sms = Webhook.objects.get(name="Third-party SMS")
    webhook_update(webhook=sms, values={"name": "Third-party SMS (mine)"})
    EndUser.objects.filter(user_id="u-1004").update(tags={"phone_number": "0101"})
    settings.DEMO_RECEIVER_BASE_URL = "http://127.0.0.1:8001/demo-receiver"  # make run PORT=8001

    call_command("seed_demo")

    assert sorted(Webhook.objects.values_list("name", flat=True)) == ["Own API by user id", "Third-party SMS (mine)"]
    assert EndUser.objects.get(user_id="u-1004").tags == {"phone_number": "0101"}
    assert Webhook.objects.get(pk=sms.pk).url == "http://127.0.0.1:8001/demo-receiver/sms/v3.0/appKeys/demo/sender/sms"
    assert all(url.startswith("http://127.0.0.1:8001/demo-receiver/") for url in Webhook.objects.values_list("url", flat=True))


# --------------------------------------------------------------------------- the demo receiver


@pytest.mark.django_db
def test_demo_receiver_answers_like_the_sms_vendor(client, demo_receiver_on):
    response = client.post("/demo-receiver" + SMS_PATH, data='{"body": "Hello"}', content_type="application/json;charset=UTF-8")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"header": {"isSuccessful": True, "resultCode": 0, "resultMessage": "SUCCESS"}}


@pytest.mark.django_db
def test_demo_receiver_answers_a_coupon(client, demo_receiver_on):
    response = client.post("/demo-receiver/coupons", data='{"userId": "u-1001"}', content_type="application/json")

    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["coupon"]
    assert list(body["coupon"]) == ["code"]
    assert re.fullmatch(r"C-\d{4}", body["coupon"]["code"])


@pytest.mark.django_db
def test_demo_receiver_fail_path_answers_500(client, demo_receiver_on):
    response = client.post("/demo-receiver/sms/fail", data="{}", content_type="application/json")

    assert response.status_code == 500
    assert response.json() == {"error": "down"}


@pytest.mark.django_db
def test_demo_receiver_lists_what_it_recorded(client, demo_receiver_on):
    assert client.get("/demo-receiver/").json() == []
    client.post("/demo-receiver" + SMS_PATH, data='{"body": "first"}', content_type="application/json")
    client.put("/demo-receiver/coupons", data='{"userId": "u-1002"}', content_type="application/json")

    response = client.get("/demo-receiver/")

    assert response.status_code == 200
    recorded = response.json()
    assert [(r["method"], r["path"], r["body"]) for r in recorded] == [
        ("PUT", "/coupons", '{"userId": "u-1002"}'),
        ("POST", SMS_PATH, '{"body": "first"}'),
    ]
    assert recorded[1]["headers"]["Content-Type"] == "application/json"


@pytest.mark.django_db
def test_demo_receiver_is_404_when_disabled(client, settings):
    settings.DEMO_RECEIVER_ENABLED = False

    assert client.post("/demo-receiver" + SMS_PATH, data="{}", content_type="application/json").status_code == 404
    assert client.post("/demo-receiver/coupons", data="{}", content_type="application/json").status_code == 404
    assert client.post("/demo-receiver/sms/fail", data="{}", content_type="application/json").status_code == 404
    assert client.get("/demo-receiver/").status_code == 404

    settings.DEMO_RECEIVER_ENABLED = True
    assert client.get("/demo-receiver/").json() == []  # nothing was recorded while it was off


# --------------------------------------------------------------------------- the seeded history, for real


def test_seed_demo_send_examples_against_a_live_server(live_server, settings, demo_receiver_on, client):
    settings.DEMO_RECEIVER_BASE_URL = live_server.url + "/demo-receiver"

    call_command("seed_demo", send_examples=True)

    success = Delivery.objects.get(status=Delivery.Status.SUCCESS)
    failure = Delivery.objects.get(status=Delivery.Status.FAILURE)
    assert Delivery.objects.count() == 2
    assert (success.webhook_name, success.user_id, success.source) == ("Third-party SMS", "u-1001", "test")
    assert success.response_status_code == 200
    assert json.loads(success.response_body) == {"header": {"isSuccessful": True, "resultCode": 0, "resultMessage": "SUCCESS"}}
    assert json.loads(success.request_body) == {
        "body": "Welcome to the demo!",
        "sendNo": "15446859",
        "recipientList": [{"recipientNo": "01012345678", "countryCode": "82"}],
    }
    assert ["X-Secret-Key", "••••••"] in success.request_headers
    assert (failure.webhook_name, failure.user_id) == ("Third-party SMS", "u-1004")
    assert failure.failure_reason == Delivery.FailureReason.RENDER_ERROR
    assert "tags.phone_number is not defined" in failure.error_message
    assert failure.attempt_count == 0
    assert failure.request_method == ""

    (received,) = client.get("/demo-receiver/").json()  # the failure never reached the receiver
    assert received["method"] == "POST"
    assert received["path"] == SMS_PATH
    assert received["body"] == success.request_body
    # The receiver got the header; its log page (no login) never shows a credential's value.
    assert received["headers"]["X-Secret-Key"] == "••••••"
    assert "demo-secret-key-123" not in client.get("/demo-receiver/").content.decode()

    call_command("seed_demo", send_examples=True)  # a second run sends nothing more

    assert Delivery.objects.count() == 2
    assert len(client.get("/demo-receiver/").json()) == 1


@pytest.mark.django_db
def test_seed_demo_adds_an_active_welcome_journey_on_signup(demo_receiver_on):
    from journeys.models import Journey

    call_command("seed_demo")
    call_command("seed_demo")

    (journey,) = Journey.objects.all()
    assert (journey.name, journey.status, journey.entry_event) == ("Welcome SMS on signup", "active", "signup")
    assert list(journey.nodes.values_list("key", "type")) == [
        ("start", "entry"),
        ("wait", "delay"),
        ("sms", "webhook"),
        ("done", "exit"),
        ("failed", "exit"),
    ]


def test_run_console_refuses_a_port_something_already_serves_and_sends_nothing(db):
    import socket

    from django.core.management.base import CommandError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]

        with pytest.raises(CommandError) as refused:
            call_command("run_console", "--port", str(port))

    assert str(refused.value) == (
        f"Something already serves http://127.0.0.1:{port}/ (another make run?). "
        f"Stop it, or pick another port: make run PORT={port + 1}"
    )
    assert Delivery.objects.count() == 0
