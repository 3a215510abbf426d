"""The send path end to end: render, guard, HTTP to a real receiver on loopback, history."""

import json
import logging

import pytest
from pytest_httpserver import HTTPServer

from channels_webhook.sending import send_test
from channels_webhook.services import HeaderInput
from history.models import Delivery
from tests.conftest import SECRET_KEY_VALUE

pytestmark = pytest.mark.django_db

SMS_PATH = "/sms/v3.0/appKeys/demo/sender/sms"


def test_sms_demo_webhook_arrives_exactly_and_is_recorded_as_success(httpserver: HTTPServer, make_webhook, end_user):
    httpserver.expect_oneshot_request(SMS_PATH, method="POST").respond_with_json({"header": {"isSuccessful": True}})
    webhook = make_webhook(httpserver.url_for(SMS_PATH))

    delivery = send_test(webhook=webhook, end_user=end_user, data={"text": "Hello"})

    ((received, _response),) = httpserver.log
    assert received.method == "POST"
    assert received.path == SMS_PATH
    assert received.headers["Content-Type"] == "application/json;charset=UTF-8"
    assert received.headers.getlist("Content-Type") == ["application/json;charset=UTF-8"]
    assert received.headers["X-Secret-Key"] == SECRET_KEY_VALUE
    assert json.loads(received.get_data()) == {
        "body": "Hello",
        "sendNo": "15446859",
        "recipientList": [{"recipientNo": "01012345678", "countryCode": "82"}],
    }
    assert delivery.status == Delivery.Status.SUCCESS
    assert delivery.response_status_code == 200
    assert delivery.request_body.encode("utf-8") == received.get_data()
    assert delivery.attempt_count == 1
    assert ["X-Secret-Key", "••••••"] in delivery.request_headers


def test_own_api_demo_webhook_sends_user_id_and_text(httpserver: HTTPServer, make_webhook, end_user):
    httpserver.expect_oneshot_request("/coupons", method="POST").respond_with_json({"coupon": {"code": "C-42"}})
    webhook = make_webhook(
        httpserver.url_for("/coupons"),
        name="Own API by user id",
        body='{"userId": "{{ userId }}", "text": "{{ text }}"}',
        headers=[],
    )

    delivery = send_test(webhook=webhook, end_user=end_user, data={"text": "Hello"})

    ((received, _response),) = httpserver.log
    assert received.path == "/coupons"
    assert received.headers.getlist("Content-Type") == ["application/json"]
    assert json.loads(received.get_data()) == {"userId": "u-1001", "text": "Hello"}
    assert delivery.status == Delivery.Status.SUCCESS
    assert json.loads(delivery.response_body) == {"coupon": {"code": "C-42"}}


def test_receiver_answering_500_is_a_failure_with_the_response_stored(httpserver: HTTPServer, make_webhook, end_user):
    httpserver.expect_oneshot_request(SMS_PATH).respond_with_data('{"error":"down"}', status=500, content_type="application/json")
    webhook = make_webhook(httpserver.url_for(SMS_PATH))

    delivery = send_test(webhook=webhook, end_user=end_user, data={"text": "Hello"})

    assert delivery.status == Delivery.Status.FAILURE
    assert delivery.failure_reason == Delivery.FailureReason.HTTP_ERROR
    assert delivery.response_status_code == 500
    assert delivery.response_body == '{"error":"down"}'
    assert delivery.error_message == "The receiver answered 500 Internal Server Error."
    assert delivery.attempt_count == 1  # a test send makes exactly one attempt
    assert delivery.next_attempt_at is None


def test_nothing_listening_is_a_connection_error_and_does_not_raise(make_webhook, end_user):
    import socket

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    webhook = make_webhook(f"http://127.0.0.1:{port}/sms")

    delivery = send_test(webhook=webhook, end_user=end_user, data={"text": "Hello"})

    assert delivery.status == Delivery.Status.FAILURE
    assert delivery.failure_reason == Delivery.FailureReason.CONNECTION_ERROR
    assert delivery.error_message == f"The connection to 127.0.0.1:{port} was refused: nothing accepted it."
    assert delivery.response_status_code is None


def test_secret_header_value_never_reaches_the_logs(httpserver: HTTPServer, make_webhook, end_user, caplog):
    httpserver.expect_oneshot_request(SMS_PATH).respond_with_data("nope", status=401)
    webhook = make_webhook(httpserver.url_for(SMS_PATH))

    with caplog.at_level(logging.DEBUG):
        delivery = send_test(webhook=webhook, end_user=end_user, data={"text": "Hello"})

    assert delivery.failure_reason == Delivery.FailureReason.HTTP_ERROR
    assert SECRET_KEY_VALUE not in caplog.text
    assert SECRET_KEY_VALUE not in json.dumps(delivery.request_headers)
    assert SECRET_KEY_VALUE not in delivery.request_headers_sealed


def test_missing_tag_sends_nothing_and_names_the_path(httpserver: HTTPServer, make_webhook, project):
    from flarelane.audience.services import end_user_put

    no_phone, _ = end_user_put(project=project, user_id="u-2", attributes={}, tags={})
    webhook = make_webhook(httpserver.url_for(SMS_PATH))

    delivery = send_test(webhook=webhook, end_user=no_phone, data={"text": "Hello"})

    assert httpserver.log == []
    assert delivery.status == Delivery.Status.FAILURE
    assert delivery.failure_reason == Delivery.FailureReason.RENDER_ERROR
    assert delivery.error_message == (
        "Body: tags.phone_number is not defined: the user has no such tag. Use '| default: ...' or {% if %} if it is optional."
    )
    assert delivery.attempt_count == 0


def test_header_with_line_break_sends_nothing(httpserver: HTTPServer, make_webhook, project):
    from flarelane.audience.services import end_user_put

    user, _ = end_user_put(project=project, user_id="u-3", attributes={}, tags={"ref": "abc\r\nX-Admin: true"})
    webhook = make_webhook(httpserver.url_for("/x"), body="{}", headers=[HeaderInput(name="X-Ref", value="{{ tags.ref }}")])

    delivery = send_test(webhook=webhook, end_user=user, data={})

    assert httpserver.log == []
    assert delivery.failure_reason == Delivery.FailureReason.INVALID_REQUEST
    assert delivery.error_message == (
        "Header 'X-Ref' contains a line break (rendered from tags.ref). "
        "Remove it from the data, or add '| strip' to the template."
    )
