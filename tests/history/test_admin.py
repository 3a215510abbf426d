"""The send history in the console: filter success / failure, the detail as it was on the
wire with secrets masked, and no way to add or edit a delivery."""

import html
import json

import pytest
from pytest_httpserver import HTTPServer

from channels_webhook.sending import send_test
from flarelane.audience.services import end_user_put
from history.models import Delivery
from tests.conftest import SECRET_KEY_VALUE

pytestmark = pytest.mark.django_db

SMS_PATH = "/sms/v3.0/appKeys/demo/sender/sms"
CHANGELIST_URL = "/admin/history/delivery/"


def detail_url(delivery: Delivery) -> str:
    return f"/admin/history/delivery/{delivery.pk}/change/"


@pytest.fixture
def deliveries(httpserver: HTTPServer, make_webhook, end_user, project) -> dict[str, list[Delivery]]:
    """Two successes (200), one failure answered 500 and one failure that was never sent."""
    httpserver.expect_request("/ok", method="POST").respond_with_json({"header": {"isSuccessful": True, "resultCode": 0}})
    httpserver.expect_request("/down", method="POST").respond_with_data(
        '{"error":"down"}', status=500, content_type="application/json"
    )
    ok = make_webhook(httpserver.url_for("/ok"))
    down = make_webhook(httpserver.url_for("/down"), name="Down SMS")
    no_phone, _ = end_user_put(project=project, user_id="u-2002", attributes={}, tags={})
    successes = [
        send_test(webhook=ok, end_user=end_user, data={"text": "Hello"}),
        send_test(webhook=ok, end_user=end_user, data={"text": "Again"}),
    ]
    failures = [
        send_test(webhook=down, end_user=end_user, data={"text": "Hello"}),
        send_test(webhook=ok, end_user=no_phone, data={"text": "Hello"}),
    ]
    assert [d.status for d in successes] == ["success", "success"]
    assert [(d.status, d.failure_reason) for d in failures] == [("failure", "http_error"), ("failure", "render_error")]
    return {"success": successes, "failure": failures}


def listed_ids(response) -> set[str]:
    return {str(delivery.pk) for delivery in response.context["cl"].result_list}


@pytest.mark.parametrize("status", ["success", "failure"])
def test_changelist_filtered_by_status_lists_exactly_the_matching_deliveries(admin_client, deliveries, status):
    other = "failure" if status == "success" else "success"

    response = admin_client.get(CHANGELIST_URL, {"status__exact": status})

    page = response.content.decode()
    assert response.status_code == 200
    assert listed_ids(response) == {str(d.pk) for d in deliveries[status]}
    for delivery in deliveries[status]:
        assert detail_url(delivery) in page
    for delivery in deliveries[other]:
        assert detail_url(delivery) not in page


def test_changelist_unfiltered_lists_every_delivery(admin_client, deliveries):
    response = admin_client.get(CHANGELIST_URL)

    assert response.status_code == 200
    assert listed_ids(response) == {str(d.pk) for d in deliveries["success"] + deliveries["failure"]}
    assert SECRET_KEY_VALUE not in response.content.decode()


def test_detail_of_a_success_shows_request_and_response_and_masks_the_secret(admin_client, deliveries, httpserver):
    delivery = deliveries["success"][0]

    response = admin_client.get(detail_url(delivery))

    page = response.content.decode()
    text = html.unescape(page)
    assert response.status_code == 200
    assert SECRET_KEY_VALUE not in page
    assert SECRET_KEY_VALUE not in text
    assert delivery.request_headers_sealed not in page
    assert f"<code>POST {httpserver.url_for('/ok')}</code>" in page
    assert "<strong>X-Secret-Key</strong>: ••••••" in page
    assert "<strong>Content-Type</strong>: application/json;charset=UTF-8" in page
    expected_request_body = json.dumps(
        {"body": "Hello", "sendNo": "15446859", "recipientList": [{"recipientNo": "01012345678", "countryCode": "82"}]},
        indent=2,
        ensure_ascii=False,
    )
    assert f'<pre class="request-body">{expected_request_body}</pre>' in text
    expected_response_body = json.dumps({"header": {"isSuccessful": True, "resultCode": 0}}, indent=2)
    assert f'<pre class="response-body">{expected_response_body}</pre>' in text
    assert response.context["original"].response_status_code == 200
    assert '<div class="readonly">200</div>' in page
    assert '<span class="delivery-status delivery-status-success"' in page


def test_detail_of_a_failure_shows_the_500_and_its_body(admin_client, deliveries):
    delivery = deliveries["failure"][0]

    response = admin_client.get(detail_url(delivery))

    page = response.content.decode()
    text = html.unescape(page)
    assert response.status_code == 200
    assert SECRET_KEY_VALUE not in page
    assert "<strong>X-Secret-Key</strong>: ••••••" in page
    assert '<div class="readonly">500</div>' in page
    assert '<pre class="response-body">{\n  "error": "down"\n}</pre>' in text
    assert "The receiver answered 500 Internal Server Error." in text
    assert '<span class="delivery-status delivery-status-failure"' in page


@pytest.mark.parametrize("levels", [900, 5000])
def test_detail_shows_a_body_nested_too_deep_to_indent_as_it_is(admin_client, make_webhook, end_user, httpserver, levels):
    # 900 levels parse but are too deep for the indenting encoder; 5000 are too deep to parse.
    deep = "[" * levels + "]" * levels
    httpserver.expect_oneshot_request("/deep", method="POST").respond_with_data(deep, content_type="application/json")
    webhook = make_webhook(httpserver.url_for("/deep"), body_type="text", body=deep)
    delivery = send_test(webhook=webhook, end_user=end_user, data={"text": "Hello"})
    assert (delivery.status, delivery.request_body, delivery.response_body) == ("success", deep, deep)

    response = admin_client.get(detail_url(delivery))

    page = response.content.decode()
    assert response.status_code == 200
    assert f'<pre class="request-body">{deep}</pre>' in page
    assert f'<pre class="response-body">{deep}</pre>' in page


def test_detail_of_a_render_error_says_nothing_was_sent(admin_client, deliveries):
    delivery = deliveries["failure"][1]

    response = admin_client.get(detail_url(delivery))

    text = html.unescape(response.content.decode())
    assert response.status_code == 200
    assert "Nothing was sent." in text
    assert "tags.phone_number is not defined" in text
    assert SECRET_KEY_VALUE not in text


def test_deliveries_cannot_be_added(admin_client, deliveries):
    assert admin_client.get("/admin/history/delivery/add/").status_code == 403
    assert admin_client.post("/admin/history/delivery/add/", {"user_id": "u-9", "status": "success"}).status_code == 403
    assert Delivery.objects.count() == 4
    changelist = admin_client.get(CHANGELIST_URL).content.decode()
    assert "/admin/history/delivery/add/" not in changelist


def test_deliveries_cannot_be_edited(admin_client, deliveries):
    delivery = deliveries["failure"][0]

    page = admin_client.get(detail_url(delivery)).content.decode()
    response = admin_client.post(detail_url(delivery), {"status": "success", "failure_reason": "", "user_id": "u-hacked"})

    assert 'name="_save"' not in page
    assert response.status_code == 403
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILURE
    assert delivery.failure_reason == Delivery.FailureReason.HTTP_ERROR
    assert delivery.user_id == "u-1001"
