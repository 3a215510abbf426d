"""Personalisation as the receiver sees it: exact bytes on the wire, and what history keeps."""

import base64
import json
import time

import pytest
from pytest_httpserver import HTTPServer

from channels_webhook.sending import send_test
from channels_webhook.services import HeaderInput
from flarelane.audience.services import end_user_put
from history.models import Delivery

pytestmark = pytest.mark.django_db

PATH = "/hook"
TRICKY_TEXT = 'Line one\nHe said "hi" \\ done'
NON_ASCII = "Привет, мир 👋 Zoë"


def _received(httpserver: HTTPServer):
    ((request, _response),) = httpserver.log
    return request


def test_user_data_cannot_break_a_json_body_and_it_goes_out_once_encoded(httpserver: HTTPServer, make_webhook, end_user):
    httpserver.expect_request(PATH).respond_with_json({"ok": True})
    webhook = make_webhook(httpserver.url_for(PATH), body='{"user": "{{ userId }}", "text": "{{ text }}"}', headers=[])

    send_test(webhook=webhook, end_user=end_user, data={"text": TRICKY_TEXT})

    request = _received(httpserver)
    raw = request.get_data()
    assert json.loads(raw) == {"user": "u-1001", "text": TRICKY_TEXT}
    assert raw[:1] == b"{"
    assert request.headers.getlist("Content-Type") == ["application/json"]
    assert request.headers["Content-Length"] == str(len(raw))


def test_non_ascii_goes_out_as_utf8_and_history_shows_it_unchanged(httpserver: HTTPServer, make_webhook, end_user, api):
    httpserver.expect_request(PATH).respond_with_data(
        json.dumps({"echo": NON_ASCII}, ensure_ascii=False).encode(), content_type="application/json; charset=utf-8"
    )
    webhook = make_webhook(httpserver.url_for(PATH), body='{"text": "{{ text }}"}', headers=[])

    delivery = send_test(webhook=webhook, end_user=end_user, data={"text": NON_ASCII})

    request = _received(httpserver)
    raw = request.get_data()
    assert raw == json.dumps({"text": NON_ASCII}, ensure_ascii=False).encode("utf-8")
    assert request.headers["Content-Length"] == str(len(raw))
    detail = api.get(f"/api/v1/deliveries/{delivery.pk}").json()
    assert json.loads(detail["request"]["body"]) == {"text": NON_ASCII}
    assert NON_ASCII in detail["request"]["body"]
    assert json.loads(detail["response"]["body"]) == {"echo": NON_ASCII}


def test_body_that_is_json_only_after_rendering_is_sent_when_it_parses(httpserver: HTTPServer, make_webhook, project):
    httpserver.expect_request(PATH).respond_with_json({"ok": True})
    body = '{"user": "{{ userId }}"{% if tags.vip %}, "vip": true{% endif %}, "count": {{ tags.count }}}'
    user, _ = end_user_put(project=project, user_id="u-9", attributes={}, tags={"vip": True, "count": 3})

    delivery = send_test(webhook=make_webhook(httpserver.url_for(PATH), body=body, headers=[]), end_user=user, data={})

    assert delivery.status == "success"
    assert json.loads(_received(httpserver).get_data()) == {"user": "u-9", "vip": True, "count": 3}


def test_body_that_is_not_json_after_rendering_sends_nothing_and_says_where(httpserver: HTTPServer, make_webhook, project):
    body = '{"user": "{{ userId }}", "note": {{ tags.note }}}'
    user, _ = end_user_put(project=project, user_id="u-10", attributes={}, tags={"note": "not quoted"})

    delivery = send_test(webhook=make_webhook(httpserver.url_for(PATH), body=body, headers=[]), end_user=user, data={})

    assert httpserver.log == []
    assert (delivery.status, delivery.failure_reason) == ("failure", "render_error")
    assert delivery.error_message == (
        "Body is not valid JSON after rendering: Expecting value (line 1, column 26). "
        "Use '| json' for values that may contain quotes or line breaks."
    )


def test_a_secret_header_value_is_never_echoed_in_an_error(httpserver: HTTPServer, make_webhook, end_user):
    webhook = make_webhook(
        httpserver.url_for(PATH),
        body="{}",
        headers=[HeaderInput(name="Authorization", value="Bearer abc\r\nX-Admin: true", secret=True)],
    )

    delivery = send_test(webhook=webhook, end_user=end_user, data={})

    assert httpserver.log == []
    assert delivery.failure_reason == "invalid_request"
    assert delivery.error_message == (
        "Header 'Authorization' contains a line break. Remove it from the data, or add '| strip' to the template."
    )
    assert "abc" not in delivery.error_message


def test_a_runaway_template_stops_quickly_and_the_next_send_still_works(httpserver: HTTPServer, make_webhook, end_user, api):
    httpserver.expect_request(PATH).respond_with_json({"ok": True})
    runaway = make_webhook(
        httpserver.url_for(PATH),
        name="Runaway",
        body_type="text",
        body="{% for i in (1..100000000) %}{% for j in (1..1000) %}x{% endfor %}{% endfor %}",
        headers=[],
    )
    started = time.monotonic()

    delivery = send_test(webhook=runaway, end_user=end_user, data={})
    preview = api.post(f"/api/v1/webhooks/{runaway.pk}/preview", {"user_id": "u-1001"}, format="json")

    assert time.monotonic() - started < 1.0
    assert (delivery.status, delivery.failure_reason) == ("failure", "render_error")
    assert delivery.error_message == "Body: the template stopped: loop iteration limit reached."
    assert preview.status_code == 422
    assert preview.json() == {
        "failure_reason": "render_error",
        "error": "Body: the template stopped: loop iteration limit reached.",
    }
    assert httpserver.log == []
    fine = make_webhook(httpserver.url_for(PATH), name="Fine", body='{"ok": "{{ userId }}"}', headers=[])
    assert send_test(webhook=fine, end_user=end_user, data={}).status == "success"


def test_a_binary_response_is_stored_as_base64(httpserver: HTTPServer, make_webhook, end_user):
    payload = bytes(range(256)) * 4
    httpserver.expect_request(PATH).respond_with_data(payload, content_type="application/octet-stream")

    delivery = send_test(webhook=make_webhook(httpserver.url_for(PATH), body="{}", headers=[]), end_user=end_user, data={})

    assert delivery.status == Delivery.Status.SUCCESS
    assert delivery.response_body_is_base64 is True
    assert base64.b64decode(delivery.response_body) == payload
