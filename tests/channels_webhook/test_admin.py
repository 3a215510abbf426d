"""The webhook console: the edit form with header rows, template validation, secrets kept
and never shown, and the send page (through a real receiver on loopback)."""

import json
import re

import pytest
from django.contrib.auth.models import Permission, User
from pytest_httpserver import HTTPServer
from standardwebhooks import Webhook as StandardWebhook

from channels_webhook.models import Webhook
from channels_webhook.sending import send_test
from flarelane.sealing import unseal
from history.models import Delivery
from tests.conftest import SECRET_KEY_VALUE, SMS_BODY

pytestmark = pytest.mark.django_db

SMS_PATH = "/sms/v3.0/appKeys/demo/sender/sms"
ADD_URL = "/admin/channels_webhook/webhook/add/"
EXPECTED_SMS_BODY = {
    "body": "Hello",
    "sendNo": "15446859",
    "recipientList": [{"recipientNo": "01012345678", "countryCode": "82"}],
}


def change_url(webhook: Webhook) -> str:
    return f"/admin/channels_webhook/webhook/{webhook.pk}/change/"


def send_url(webhook: Webhook) -> str:
    return f"/admin/channels_webhook/webhook/{webhook.pk}/send/"


def form_data(project, url: str, *, body: str = SMS_BODY, headers=(), **overrides) -> dict[str, str]:
    """The POST a browser makes from the webhook form; `headers` are (name, value, secret, stored) rows."""
    data = {
        "project": str(project.pk),
        "name": "Third-party SMS",
        "method": "POST",
        "url": url,
        "body_type": "json",
        "body": body,
        "timeout_seconds": "10",
        "max_attempts": "3",
        "rate_limit_per_second": "",
        "is_active": "on",
        "headers_rows-TOTAL": str(len(headers) + 2),  # the page always adds two blank rows
    }
    for index, (name, value, secret, stored) in enumerate(headers):
        data[f"headers_rows-{index}-name"] = name
        data[f"headers_rows-{index}-value"] = value
        if secret:
            data[f"headers_rows-{index}-secret"] = "on"
        if stored:
            data[f"headers_rows-{index}-stored"] = "1"
    for index in range(len(headers), len(headers) + 2):
        data[f"headers_rows-{index}-name"] = ""
        data[f"headers_rows-{index}-value"] = ""
    data.update(overrides)
    return data


SMS_HEADERS = (
    ("Content-Type", "application/json;charset=UTF-8", False, False),
    ("X-Secret-Key", SECRET_KEY_VALUE, True, False),
)


def errors_of(response) -> dict[str, list[str]]:
    return {field: list(messages) for field, messages in response.context["adminform"].form.errors.items()}


# --------------------------------------------------------------------------- creating


def test_add_webhook_with_header_rows_stores_data_variables_and_seals_the_secret(admin_client, project):
    response = admin_client.post(ADD_URL, form_data(project, "https://sms.example.com" + SMS_PATH, headers=SMS_HEADERS))

    assert response.status_code == 302
    assert response["Location"] == "/admin/channels_webhook/webhook/"
    webhook = Webhook.objects.get()
    assert webhook.project == project
    assert webhook.name == "Third-party SMS"
    assert webhook.url == "https://sms.example.com" + SMS_PATH
    assert webhook.body == SMS_BODY
    assert webhook.data_variables == ["text"]
    assert SECRET_KEY_VALUE not in json.dumps(webhook.headers)
    plain, secret = webhook.headers
    assert plain == {"name": "Content-Type", "secret": False, "value": "application/json;charset=UTF-8"}
    assert sorted(secret) == ["name", "sealed", "secret"]
    assert secret["name"] == "X-Secret-Key"
    assert secret["secret"] is True
    assert unseal(secret["sealed"]) == SECRET_KEY_VALUE


def test_add_webhook_with_a_liquid_syntax_error_is_refused_with_line_and_column(admin_client, project):
    body = '{\n  "body": "{{ text }",\n  "sendNo": "15446859"\n}'

    response = admin_client.post(ADD_URL, form_data(project, "https://sms.example.com/sms", body=body, headers=SMS_HEADERS))

    assert response.status_code == 200
    assert errors_of(response) == {"body": ["expected '}}', found end of file (line 2, column 12)"]}
    assert "expected &#x27;}}&#x27;, found end of file (line 2, column 12)" in response.content.decode()
    assert Webhook.objects.count() == 0


def test_add_webhook_with_a_rate_limit_over_1000_is_refused(admin_client, project):
    data = form_data(project, "https://sms.example.com/sms", headers=SMS_HEADERS, rate_limit_per_second="1000000000")

    response = admin_client.post(ADD_URL, data)

    assert response.status_code == 200
    assert errors_of(response) == {
        "rate_limit_per_second": ["A rate limit is at most 1000 requests per second; leave it empty (or 0) for no limit."]
    }
    assert Webhook.objects.count() == 0


def test_add_webhook_with_a_json_body_without_liquid_that_is_not_json_is_refused(admin_client, project):
    body = '{\n  "to": "01012345678",\n  "text": "Hi"'

    response = admin_client.post(ADD_URL, form_data(project, "https://sms.example.com/sms", body=body, headers=SMS_HEADERS))

    assert response.status_code == 200
    assert errors_of(response) == {
        "body": ["Body is not valid JSON: Expecting ',' delimiter. Fix it, or choose the text body type (line 3, column 15)"]
    }
    assert Webhook.objects.count() == 0


def test_add_webhook_with_an_unknown_filter_is_refused(admin_client, project):
    body = '{"body": "{{ text | shout }}"}'

    response = admin_client.post(ADD_URL, form_data(project, "https://sms.example.com/sms", body=body))

    assert response.status_code == 200
    assert errors_of(response) == {"body": ["Unknown filter 'shout' (line 1, column 21)"]}
    assert Webhook.objects.count() == 0


def test_add_webhook_with_a_typographic_quote_is_refused(admin_client, project):
    body = '{"body": "{{ text | default: “hi” }}"}'

    response = admin_client.post(ADD_URL, form_data(project, "https://sms.example.com/sms", body=body))

    assert response.status_code == 200
    (message,) = errors_of(response)["body"]
    assert message.startswith("unexpected '“': a typographic quote; type a straight quote")
    assert message.endswith("(line 1, column 30)")
    assert Webhook.objects.count() == 0


def test_add_webhook_with_an_unclosed_block_tag_is_refused_with_line_and_column(admin_client, project):
    body = "Hello\n{% if tags.vip %}\nVIP!"

    response = admin_client.post(ADD_URL, form_data(project, "https://sms.example.com/sms", body=body, body_type="text"))

    assert response.status_code == 200
    assert Webhook.objects.count() == 0
    (message,) = errors_of(response)["body"]
    # The contract: "Saving a template with a syntax error is refused with the line and column";
    # the place to show is the opening tag that is never closed.
    assert "endif" in message
    assert re.search(r"\(line 2, column \d+\)$", message), message


def test_add_webhook_with_a_syntax_error_in_a_header_value_is_refused(admin_client, project):
    headers = (("Authorization", "Bearer {{ tags.token ", False, False),)

    response = admin_client.post(ADD_URL, form_data(project, "https://sms.example.com/sms", headers=headers))

    assert response.status_code == 200
    assert errors_of(response) == {
        "headers_rows": ["Header 'Authorization': expected '}}', found end of file (line 1, column 8)"]
    }
    assert Webhook.objects.count() == 0


# --------------------------------------------------------------------------- editing and secrets


@pytest.fixture
def sms_webhook(make_webhook, httpserver: HTTPServer) -> Webhook:
    return make_webhook(httpserver.url_for(SMS_PATH))


def _received_secret_after_send(httpserver: HTTPServer, webhook: Webhook, end_user) -> str:
    httpserver.clear()
    httpserver.expect_oneshot_request(SMS_PATH, method="POST").respond_with_json({"ok": True})
    webhook.refresh_from_db()
    delivery = send_test(webhook=webhook, end_user=end_user, data={"text": "Hello"})
    assert delivery.status == Delivery.Status.SUCCESS
    ((received, _response),) = httpserver.log
    return received.headers["X-Secret-Key"]


def test_editing_with_the_secret_left_blank_keeps_the_stored_secret(admin_client, sms_webhook, end_user, httpserver):
    sealed_before = sms_webhook.headers[1]["sealed"]
    headers = (
        ("Content-Type", "application/json;charset=UTF-8", False, False),
        ("X-Secret-Key", "", True, True),
    )

    response = admin_client.post(
        change_url(sms_webhook), form_data(sms_webhook.project, sms_webhook.url, headers=headers, name="SMS (renamed)")
    )

    assert response.status_code == 302
    sms_webhook.refresh_from_db()
    assert sms_webhook.name == "SMS (renamed)"
    assert sms_webhook.headers[1] == {"name": "X-Secret-Key", "secret": True, "sealed": sealed_before}
    assert _received_secret_after_send(httpserver, sms_webhook, end_user) == SECRET_KEY_VALUE


def test_editing_with_a_new_secret_value_replaces_it(admin_client, sms_webhook, end_user, httpserver):
    headers = (
        ("Content-Type", "application/json;charset=UTF-8", False, False),
        ("X-Secret-Key", "sk-rotated-7777", True, True),
    )

    response = admin_client.post(change_url(sms_webhook), form_data(sms_webhook.project, sms_webhook.url, headers=headers))

    assert response.status_code == 302
    sms_webhook.refresh_from_db()
    assert "sk-rotated-7777" not in json.dumps(sms_webhook.headers)
    assert SECRET_KEY_VALUE not in json.dumps(sms_webhook.headers)
    assert unseal(sms_webhook.headers[1]["sealed"]) == "sk-rotated-7777"
    assert _received_secret_after_send(httpserver, sms_webhook, end_user) == "sk-rotated-7777"


def test_change_page_never_contains_the_secret_value(admin_client, sms_webhook):
    response = admin_client.get(change_url(sms_webhook))

    html = response.content.decode()
    assert response.status_code == 200
    assert SECRET_KEY_VALUE not in html
    assert sms_webhook.headers[1]["sealed"] not in html
    assert 'name="headers_rows-1-name" value="X-Secret-Key"' in html
    assert 'name="headers_rows-1-value" value=""' in html
    assert 'name="headers_rows-1-stored" value="1"' in html
    assert 'name="headers_rows-0-value" value="application/json;charset=UTF-8"' in html
    assert 'name="headers_rows-TOTAL" value="4"' in html


def test_unticking_secret_without_a_value_keeps_the_row_stored_and_says_what_to_do(admin_client, sms_webhook):
    headers = (("Content-Type", "application/json;charset=UTF-8", False, False), ("X-Secret-Key", "", False, True))

    response = admin_client.post(change_url(sms_webhook), form_data(sms_webhook.project, sms_webhook.url, headers=headers))

    page = response.content.decode()
    assert response.status_code == 200
    assert (
        "Header &#x27;X-Secret-Key&#x27; was secret: type its value to make it a plain header "
        "(the stored value is never shown)." in page
    )
    # The row still says it holds the stored secret, so the live check (and a second save) know it.
    assert '<input type="hidden" name="headers_rows-1-stored" value="1">' in page
    assert 'placeholder="type the value to send in plain text"' in page
    assert SECRET_KEY_VALUE not in page
    analysis = admin_client.post(
        f"/admin/channels_webhook/webhook/{sms_webhook.pk}/analyze/",
        form_data(sms_webhook.project, sms_webhook.url, headers=headers),
    ).json()
    assert [problem["field"] for problem in analysis["problems"]] == ["headers_rows"]


def test_change_page_redisplayed_with_an_error_does_not_show_a_typed_secret(admin_client, sms_webhook):
    headers = (
        ("Content-Type", "application/json;charset=UTF-8", False, False),
        ("X-Secret-Key", "sk-typed-but-refused-1234", True, True),
    )
    sealed_before = sms_webhook.headers[1]["sealed"]

    response = admin_client.post(
        change_url(sms_webhook), form_data(sms_webhook.project, sms_webhook.url, headers=headers, body='{"a": "{{ text }"}')
    )

    assert response.status_code == 200
    assert errors_of(response) == {"body": ["expected '}}', found end of file (line 1, column 8)"]}
    html = response.content.decode()
    assert "sk-typed-but-refused-1234" not in html
    assert SECRET_KEY_VALUE not in html
    sms_webhook.refresh_from_db()
    assert sms_webhook.headers[1]["sealed"] == sealed_before


def test_add_page_redisplayed_with_an_error_does_not_echo_a_typed_secret(admin_client, project):
    response = admin_client.post(
        ADD_URL, form_data(project, "https://sms.example.com/sms", headers=SMS_HEADERS, body='{"a": "{{ text }"}')
    )

    assert response.status_code == 200
    assert Webhook.objects.count() == 0
    # "Header values marked secret are ... shown masked everywhere (admin, ...)".
    assert SECRET_KEY_VALUE not in response.content.decode()


# --------------------------------------------------------------------------- the send page


def test_send_page_shows_one_input_per_data_variable(admin_client, make_webhook, httpserver):
    webhook = make_webhook(httpserver.url_for("/x"), body='{"a": "{{ text }}", "b": "{{ coupon }}", "c": "{{ text }}"}')
    assert webhook.data_variables == ["coupon", "text"]

    response = admin_client.get(send_url(webhook))

    html = response.content.decode()
    assert response.status_code == 200
    assert re.findall(r'name="(data__[^"]+)"', html) == ["data__coupon", "data__text"]
    assert html.count('name="user_id"') == 1


def test_send_page_sends_to_the_receiver_and_redirects_to_the_delivery(
    admin_client, admin_user, sms_webhook, end_user, httpserver
):
    httpserver.expect_oneshot_request(SMS_PATH, method="POST").respond_with_json({"header": {"isSuccessful": True}})

    response = admin_client.post(send_url(sms_webhook), {"user_id": "u-1001", "data__text": "Hello", "_send": "Send"})

    delivery = Delivery.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/admin/history/delivery/{delivery.pk}/change/"
    ((received, _response),) = httpserver.log
    assert received.method == "POST"
    assert received.path == SMS_PATH
    assert received.headers["X-Secret-Key"] == SECRET_KEY_VALUE
    assert json.loads(received.get_data()) == EXPECTED_SMS_BODY
    assert delivery.status == Delivery.Status.SUCCESS
    assert delivery.source == Delivery.Source.TEST
    assert delivery.user_id == "u-1001"
    assert delivery.data == {"text": "Hello"}
    assert delivery.created_by == admin_user
    assert delivery.response_status_code == 200

    followed = admin_client.get(response["Location"])
    assert followed.status_code == 200
    assert [str(m) for m in followed.context["messages"]] == ["Sent: success (200)"]


def test_send_page_reports_a_failed_send(admin_client, sms_webhook, end_user, httpserver):
    httpserver.expect_oneshot_request(SMS_PATH).respond_with_data('{"error":"down"}', status=500)

    response = admin_client.post(send_url(sms_webhook), {"user_id": "u-1001", "data__text": "Hello"}, follow=True)

    delivery = Delivery.objects.get()
    assert response.redirect_chain == [(f"/admin/history/delivery/{delivery.pk}/change/", 302)]
    assert delivery.status == Delivery.Status.FAILURE
    assert delivery.failure_reason == Delivery.FailureReason.HTTP_ERROR
    assert [str(m) for m in response.context["messages"]] == [
        "Sent: failure (500): The receiver answered 500 Internal Server Error."
    ]
    assert len(httpserver.log) == 1


def test_send_page_preview_shows_the_request_masked_and_sends_nothing(admin_client, sms_webhook, end_user, httpserver):
    response = admin_client.post(send_url(sms_webhook), {"user_id": "u-1001", "data__text": "Hello", "_preview": "Preview"})

    html = response.content.decode()
    assert response.status_code == 200
    assert httpserver.log == []
    assert Delivery.objects.count() == 0
    assert SECRET_KEY_VALUE not in html
    preview = re.search(r'<pre id="preview-request">(.*?)</pre>', html, re.S).group(1)
    assert preview.splitlines()[0] == f"POST {httpserver.url_for(SMS_PATH)}"
    assert "X-Secret-Key: ••••••" in preview.splitlines()
    assert "Content-Type: application/json;charset=UTF-8" in preview.splitlines()
    body = preview.split("\n\n", 1)[1].replace("&quot;", '"')
    assert json.loads(body) == EXPECTED_SMS_BODY


def test_send_page_preview_of_a_render_error_names_the_path(admin_client, sms_webhook, project, httpserver):
    from flarelane.audience.services import end_user_put

    end_user_put(project=project, user_id="u-nophone", attributes={}, tags={})

    response = admin_client.post(send_url(sms_webhook), {"user_id": "u-nophone", "data__text": "Hello", "_preview": "Preview"})

    assert response.status_code == 200
    assert response.context["preview"]["ok"] is False
    assert response.context["preview"]["reason"] == "render_error"
    assert "tags.phone_number is not defined" in response.context["preview"]["error"]
    assert httpserver.log == []
    assert Delivery.objects.count() == 0


def test_send_page_with_an_unknown_user_shows_a_form_error_and_sends_nothing(admin_client, sms_webhook, end_user, httpserver):
    response = admin_client.post(send_url(sms_webhook), {"user_id": "u-nobody", "data__text": "Hello"})

    assert response.status_code == 200
    assert response.context["form"].errors == {"user_id": ["No user 'u-nobody' in project Acme."]}
    assert "No user &#x27;u-nobody&#x27; in project Acme." in response.content.decode()
    assert httpserver.log == []
    assert Delivery.objects.count() == 0


def test_send_page_does_not_find_a_user_of_another_project(admin_client, sms_webhook, other_project, httpserver):
    from flarelane.audience.services import end_user_put

    end_user_put(project=other_project, user_id="u-1001", attributes={}, tags={"phone_number": "01099999999"})

    response = admin_client.post(send_url(sms_webhook), {"user_id": "u-1001", "data__text": "Hello"})

    assert response.status_code == 200
    assert response.context["form"].errors == {"user_id": ["No user 'u-1001' in project Acme."]}
    assert httpserver.log == []
    assert Delivery.objects.count() == 0


def _staff_with(codenames: list[str]) -> User:
    user = User.objects.create_user("staffer", password="pw-staffer-123", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="channels_webhook", codename__in=codenames))
    return user


def test_staff_with_only_view_permission_gets_403_on_the_send_page(client, sms_webhook, end_user, httpserver):
    client.force_login(_staff_with(["view_webhook"]))

    assert client.get(change_url(sms_webhook)).status_code == 200  # can read the webhook
    assert client.get(send_url(sms_webhook)).status_code == 403
    response = client.post(send_url(sms_webhook), {"user_id": "u-1001", "data__text": "Hello"})

    assert response.status_code == 403
    assert httpserver.log == []
    assert Delivery.objects.count() == 0


def test_staff_with_change_permission_can_open_the_send_page(client, sms_webhook):
    client.force_login(_staff_with(["view_webhook", "change_webhook"]))

    assert client.get(send_url(sms_webhook)).status_code == 200


def test_send_page_requires_login(client, sms_webhook):
    response = client.get(send_url(sms_webhook))

    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={send_url(sms_webhook)}"


def test_view_only_staff_is_not_offered_the_send_button(client, sms_webhook):
    client.force_login(_staff_with(["view_webhook"]))

    page = client.get(change_url(sms_webhook)).content.decode()

    # Django's admin hides what a user may not do (Add, Save); a button that leads to 403 confuses.
    assert send_url(sms_webhook) not in page


def test_start_signing_from_the_webhook_page_shows_the_secret_once_and_sends_verify(
    admin_client, sms_webhook, end_user, httpserver
):
    page = admin_client.get(change_url(sms_webhook)).content.decode()
    assert "Not signed. Start signing so the receiver can check" in page
    signing_url = f"/admin/channels_webhook/webhook/{sms_webhook.pk}/signing/"

    shown = admin_client.post(signing_url, {"action": "rotate"}, follow=True)

    assert shown.redirect_chain == [(signing_url, 302)]  # a reload of the page does not rotate again
    assert shown.status_code == 200 and "no-store" in shown["Cache-Control"]
    (secret,) = re.findall(r'<code id="signing-secret"[^>]*>(whsec_[^<]+)</code>', shown.content.decode())
    reloaded = admin_client.get(signing_url).content.decode()
    assert secret not in reloaded and 'id="signing-secret-gone"' in reloaded  # once
    assert secret not in admin_client.get(change_url(sms_webhook)).content.decode()
    assert len(Webhook.objects.get(pk=sms_webhook.pk).signing_secrets) == 1
    httpserver.expect_request(SMS_PATH).respond_with_json({"ok": True})
    send_test(webhook=Webhook.objects.get(pk=sms_webhook.pk), end_user=end_user, data={"text": "Hi"})
    received = httpserver.log[-1][0]
    headers = {name: received.headers[name] for name in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    assert StandardWebhook(secret).verify(received.get_data(), headers) == json.loads(received.get_data())

    stopped = admin_client.post(signing_url, {"action": "stop"}, follow=True)

    assert [str(m) for m in stopped.context["messages"]] == ["Signing stopped: requests no longer carry webhook-signature."]
    assert Webhook.objects.get(pk=sms_webhook.pk).is_signed is False


def test_view_only_staff_cannot_start_signing(client, sms_webhook):
    viewer = User.objects.create_user("viewer", password="pw-viewer-123", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(content_type__app_label="channels_webhook", codename="view_webhook"))
    client.force_login(viewer)

    response = client.post(f"/admin/channels_webhook/webhook/{sms_webhook.pk}/signing/", {"action": "rotate"})

    assert response.status_code == 403
    assert Webhook.objects.get(pk=sms_webhook.pk).is_signed is False
