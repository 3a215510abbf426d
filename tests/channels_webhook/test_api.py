"""The webhooks API: CRUD with masked secrets, template errors, send, test and preview."""

import json

import pytest
from django.test import Client
from pytest_httpserver import HTTPServer
from rest_framework.test import APIClient

from channels_webhook.models import RateLimitSlot, Webhook
from channels_webhook.services import WebhookInvalid, webhook_create
from flarelane.audience.services import api_key_issue, end_user_put
from history.models import Delivery, DeliveryAttempt
from tests.conftest import SECRET_KEY_VALUE, SMS_BODY

pytestmark = pytest.mark.django_db

SMS_PATH = "/sms/v3.0/appKeys/demo/sender/sms"
MASK = "••••••"
EXPECTED_SMS = {"body": "Hello", "sendNo": "15446859", "recipientList": [{"recipientNo": "01012345678", "countryCode": "82"}]}
MISSING_TAG_MESSAGE = (
    "Body: tags.phone_number is not defined: the user has no such tag. Use '| default: ...' or {% if %} if it is optional."
)
RESERVED_MESSAGE = "userId is filled in by the product and cannot be given as data."


def _webhook_payload(url: str, **overrides) -> dict:
    return {
        "name": "Third-party SMS",
        "method": "POST",
        "url": url,
        "headers": [
            {"name": "Content-Type", "value": "application/json;charset=UTF-8"},
            {"name": "X-Secret-Key", "value": SECRET_KEY_VALUE, "secret": True},
        ],
        "body_type": "json",
        "body": SMS_BODY,
        **overrides,
    }


@pytest.fixture
def other_api(other_project) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_issue(project=other_project).plaintext}")
    return client


# --------------------------------------------------------------------------- CRUD


def test_create_shows_data_variables_and_masks_the_secret(api, project, httpserver: HTTPServer):
    response = api.post("/api/v1/webhooks", _webhook_payload(httpserver.url_for(SMS_PATH)), format="json")

    assert response.status_code == 201
    body = response.json()
    assert SECRET_KEY_VALUE not in response.content.decode()
    webhook = Webhook.objects.get(project=project)
    assert body["id"] == webhook.pk
    expected = {
        "name": "Third-party SMS",
        "method": "POST",
        "url": httpserver.url_for(SMS_PATH),
        "headers": [
            {"name": "Content-Type", "value": "application/json;charset=UTF-8", "secret": False},
            {"name": "X-Secret-Key", "value": MASK, "secret": True},
        ],
        "body_type": "json",
        "body": SMS_BODY,
        "timeout_seconds": 10,
        "max_attempts": 3,
        "rate_limit_per_second": None,
        "is_active": True,
        "data_variables": ["text"],
    }
    assert {key: body[key] for key in expected} == expected
    # Stored sealed, never in plain text.
    assert SECRET_KEY_VALUE not in json.dumps(webhook.headers)
    assert webhook.request_template().headers[1].value == SECRET_KEY_VALUE
    assert httpserver.log == []


RATE_LIMIT_TOO_HIGH = "A rate limit is at most 1000 requests per second; leave it empty (or 0) for no limit."


@pytest.mark.parametrize("per_second", [1001, 1_000_000_000])
def test_create_with_a_rate_limit_over_1000_is_400(api, project, httpserver: HTTPServer, per_second):
    payload = _webhook_payload(httpserver.url_for(SMS_PATH), rate_limit_per_second=per_second)

    response = api.post("/api/v1/webhooks", payload, format="json")

    assert response.status_code == 400
    assert response.json() == {"rate_limit_per_second": [RATE_LIMIT_TOO_HIGH]}
    assert Webhook.objects.count() == 0


def test_patch_to_a_rate_limit_over_1000_is_400_and_keeps_the_limit(api, make_webhook, httpserver: HTTPServer):
    webhook = make_webhook(httpserver.url_for(SMS_PATH), rate_limit_per_second=1000)

    response = api.patch(f"/api/v1/webhooks/{webhook.pk}", {"rate_limit_per_second": 1_000_000_000}, format="json")

    assert response.status_code == 400
    assert response.json() == {"rate_limit_per_second": [RATE_LIMIT_TOO_HIGH]}
    webhook.refresh_from_db()
    assert webhook.rate_limit_per_second == 1000


def test_a_rate_limit_over_1000_is_refused_by_the_service_too(project, httpserver: HTTPServer):
    with pytest.raises(WebhookInvalid) as refused:
        webhook_create(
            project=project,
            values={"name": "SMS", "method": "POST", "url": httpserver.url_for(SMS_PATH), "rate_limit_per_second": 10**9},
            headers=[],
        )

    assert [(p.field, p.message) for p in refused.value.problems] == [("rate_limit_per_second", RATE_LIMIT_TOO_HIGH)]
    assert Webhook.objects.count() == 0


def test_a_rate_limit_of_0_is_no_limit(api, make_webhook, end_user, httpserver: HTTPServer):
    httpserver.expect_oneshot_request(SMS_PATH, method="POST").respond_with_json({"header": {"isSuccessful": True}})
    webhook = make_webhook(httpserver.url_for(SMS_PATH), rate_limit_per_second=0)

    response = api.post(f"/api/v1/webhooks/{webhook.pk}/test", {"user_id": "u-1001", "data": {"text": "Hi"}}, format="json")

    assert response.json()["status"] == "success"
    assert len(httpserver.log) == 1
    assert RateLimitSlot.objects.count() == 0


def test_get_and_list_mask_the_secret(api, make_webhook, httpserver: HTTPServer):
    webhook = make_webhook(httpserver.url_for(SMS_PATH))

    one = api.get(f"/api/v1/webhooks/{webhook.pk}")
    listing = api.get("/api/v1/webhooks")

    assert one.status_code == 200
    assert one.json()["headers"] == [
        {"name": "Content-Type", "value": "application/json;charset=UTF-8", "secret": False},
        {"name": "X-Secret-Key", "value": MASK, "secret": True},
    ]
    assert one.json()["data_variables"] == ["text"]
    assert listing.status_code == 200
    assert [item["id"] for item in listing.json()] == [webhook.pk]
    assert listing.json()[0] == one.json()
    assert SECRET_KEY_VALUE not in one.content.decode()
    assert SECRET_KEY_VALUE not in listing.content.decode()


def test_create_secret_header_without_value_is_400(api, project, httpserver: HTTPServer):
    payload = _webhook_payload(httpserver.url_for(SMS_PATH), headers=[{"name": "X-Secret-Key", "secret": True}])

    response = api.post("/api/v1/webhooks", payload, format="json")

    assert response.status_code == 400
    assert response.json() == {"headers": ["Header 'X-Secret-Key': A secret header needs a value."]}
    assert Webhook.objects.count() == 0


def _received_secret_after_test_send(api, webhook_id: int, httpserver: HTTPServer) -> str:
    httpserver.clear_log()
    response = api.post(f"/api/v1/webhooks/{webhook_id}/test", {"user_id": "u-1001", "data": {"text": "Hello"}}, format="json")
    assert response.status_code == 201
    assert response.json()["status"] == "success"
    ((received, _response),) = httpserver.log
    return received.headers["X-Secret-Key"]


def test_patch_keeps_the_secret_when_omitted_or_masked_and_replaces_it_when_given(
    api, make_webhook, end_user, httpserver: HTTPServer
):
    httpserver.expect_request(SMS_PATH, method="POST").respond_with_json({"ok": True})
    webhook = make_webhook(httpserver.url_for(SMS_PATH))
    assert _received_secret_after_test_send(api, webhook.pk, httpserver) == SECRET_KEY_VALUE

    # No headers at all in the PATCH: untouched.
    renamed = api.patch(f"/api/v1/webhooks/{webhook.pk}", {"name": "Renamed"}, format="json")
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "Renamed"
    assert _received_secret_after_test_send(api, webhook.pk, httpserver) == SECRET_KEY_VALUE

    # The secret header listed without a value: kept.
    omitted = api.patch(
        f"/api/v1/webhooks/{webhook.pk}",
        {
            "headers": [
                {"name": "Content-Type", "value": "application/json;charset=UTF-8", "secret": False},
                {"name": "X-Secret-Key", "secret": True},
            ]
        },
        format="json",
    )
    assert omitted.status_code == 200
    assert omitted.json()["headers"][1] == {"name": "X-Secret-Key", "value": MASK, "secret": True}
    assert _received_secret_after_test_send(api, webhook.pk, httpserver) == SECRET_KEY_VALUE

    # The masked value sent back (what a client that round-trips GET does): kept.
    masked = api.patch(
        f"/api/v1/webhooks/{webhook.pk}", {"headers": api.get(f"/api/v1/webhooks/{webhook.pk}").json()["headers"]}, format="json"
    )
    assert masked.status_code == 200
    assert _received_secret_after_test_send(api, webhook.pk, httpserver) == SECRET_KEY_VALUE
    assert "••" not in _received_secret_after_test_send(api, webhook.pk, httpserver)

    # A new value: replaced, and the response still masks it.
    replaced = api.patch(
        f"/api/v1/webhooks/{webhook.pk}",
        {
            "headers": [
                {"name": "Content-Type", "value": "application/json;charset=UTF-8", "secret": False},
                {"name": "X-Secret-Key", "value": "sk-rotated-777", "secret": True},
            ]
        },
        format="json",
    )
    assert replaced.status_code == 200
    assert replaced.json()["headers"][1] == {"name": "X-Secret-Key", "value": MASK, "secret": True}
    assert "sk-rotated-777" not in replaced.content.decode()
    assert _received_secret_after_test_send(api, webhook.pk, httpserver) == "sk-rotated-777"
    webhook.refresh_from_db()
    assert "sk-rotated-777" not in json.dumps(webhook.headers)
    assert SECRET_KEY_VALUE not in json.dumps(webhook.headers)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ('{"body": "{{ text "}', "expected '}}', found end of file (line 1, column 11)"),
        (
            '{"to": "01012345678", "text": "Hi",}',  # no Liquid, so it must be JSON as typed
            "Body is not valid JSON: Expecting property name enclosed in double quotes. "
            "Fix it, or choose the text body type (line 1, column 36)",
        ),
    ],
    ids=["liquid-syntax", "json-without-liquid"],
)
def test_a_body_that_cannot_render_is_400_with_line_and_column(api, webhook_for_errors, body, problem):
    response = api.patch(f"/api/v1/webhooks/{webhook_for_errors.pk}", {"body": body}, format="json")
    created = api.post("/api/v1/webhooks", _webhook_payload("http://127.0.0.1:9/x", name="New", body=body), format="json")

    for answer in (response, created):
        assert answer.status_code == 400
        assert answer.json() == {"body": [problem]}
    webhook_for_errors.refresh_from_db()
    assert webhook_for_errors.body == SMS_BODY
    assert Webhook.objects.count() == 1


def test_errors_on_a_later_line_name_that_line(api, webhook_for_errors):
    unclosed = api.patch(
        f"/api/v1/webhooks/{webhook_for_errors.pk}", {"body_type": "text", "body": "Hello\nworld {{ text "}, format="json"
    )
    bad_filter = api.patch(
        f"/api/v1/webhooks/{webhook_for_errors.pk}",
        {"body_type": "text", "body": "Hello\nworld {{ text | nope }}"},
        format="json",
    )

    assert unclosed.status_code == 400
    assert unclosed.json() == {"body": ["expected '}}', found end of file (line 2, column 7)"]}
    assert bad_filter.status_code == 400
    assert bad_filter.json() == {"body": ["Unknown filter 'nope' (line 2, column 17)"]}


def test_unclosed_block_tag_error_has_line_and_column(api, webhook_for_errors):
    # DESIGN: templates are validated when saved "with line and column"; an unclosed
    # {% if %} must say where, like every other syntax error.
    response = api.patch(
        f"/api/v1/webhooks/{webhook_for_errors.pk}", {"body_type": "text", "body": "Hello\nworld {% if text %}"}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"body": ["{% if %} is never closed: add {% endif %} (line 2, column 7)"]}
    webhook_for_errors.refresh_from_db()
    assert webhook_for_errors.body == SMS_BODY


def test_unknown_filter_is_400(api, webhook_for_errors):
    response = api.patch(
        f"/api/v1/webhooks/{webhook_for_errors.pk}", {"body_type": "text", "body": "Hi {{ text | nope }}"}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"body": ["Unknown filter 'nope' (line 1, column 14)"]}
    webhook_for_errors.refresh_from_db()
    assert (webhook_for_errors.body_type, webhook_for_errors.body) == ("json", SMS_BODY)


def test_patch_headers_without_the_secret_flag_are_plain_headers(api, make_webhook, end_user, httpserver: HTTPServer):
    # POST defaults "secret" to false; PATCH must do the same (not answer 500).
    httpserver.expect_request(SMS_PATH, method="POST").respond_with_json({"ok": True})
    webhook = make_webhook(httpserver.url_for(SMS_PATH))

    response = api.patch(
        f"/api/v1/webhooks/{webhook.pk}",
        {"headers": [{"name": "Content-Type", "value": "application/json"}, {"name": "X-Trace", "value": "{{ userId }}"}]},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["headers"] == [
        {"name": "Content-Type", "value": "application/json", "secret": False},
        {"name": "X-Trace", "value": "{{ userId }}", "secret": False},
    ]
    webhook.refresh_from_db()
    assert webhook.headers == [
        {"name": "Content-Type", "secret": False, "value": "application/json"},
        {"name": "X-Trace", "secret": False, "value": "{{ userId }}"},
    ]


@pytest.fixture
def webhook_for_errors(make_webhook):
    return make_webhook("http://127.0.0.1:9/sms")


def test_delete(api, make_webhook, httpserver: HTTPServer):
    webhook = make_webhook(httpserver.url_for(SMS_PATH))
    keep = make_webhook(httpserver.url_for(SMS_PATH), name="Keep")

    response = api.delete(f"/api/v1/webhooks/{webhook.pk}")

    assert response.status_code == 204
    assert list(Webhook.objects.values_list("pk", flat=True)) == [keep.pk]
    assert api.get(f"/api/v1/webhooks/{webhook.pk}").status_code == 404


# --------------------------------------------------------------------------- send


def test_send_queues_pending_api_deliveries_and_sends_nothing_yet(api, make_webhook, end_user, project, httpserver: HTTPServer):
    end_user_put(project=project, user_id="u-1002", attributes={}, tags={"phone_number": "01099998888"})
    webhook = make_webhook(httpserver.url_for(SMS_PATH))

    response = api.post(
        f"/api/v1/webhooks/{webhook.pk}/send", {"user_ids": ["u-1001", "u-1002"], "data": {"text": "Hello"}}, format="json"
    )

    assert response.status_code == 202
    assert set(response.json()) == {"send_id", "delivery_ids"}
    ids = response.json()["delivery_ids"]
    assert len(ids) == 2
    deliveries = {str(d.pk): d for d in Delivery.objects.all()}
    assert set(deliveries) == set(ids)
    for delivery_id, user_id in zip(ids, ["u-1001", "u-1002"], strict=True):
        delivery = deliveries[delivery_id]
        assert delivery.status == Delivery.Status.PENDING
        assert delivery.source == Delivery.Source.API
        assert delivery.user_id == user_id
        assert delivery.webhook_id == webhook.pk
        assert delivery.data == {"text": "Hello"}
        assert delivery.attempt_count == 0
        assert delivery.max_attempts == 3
    assert DeliveryAttempt.objects.count() == 0
    assert httpserver.log == []


def test_send_is_delivered_when_tasks_run(api, make_webhook, end_user, project, httpserver: HTTPServer, run_tasks_inline):
    end_user_put(project=project, user_id="u-1002", attributes={}, tags={"phone_number": "01099998888"})
    httpserver.expect_request(SMS_PATH, method="POST").respond_with_json({"header": {"isSuccessful": True}})
    webhook = make_webhook(httpserver.url_for(SMS_PATH))

    response = api.post(
        f"/api/v1/webhooks/{webhook.pk}/send", {"user_ids": ["u-1001", "u-1002"], "data": {"text": "Hello"}}, format="json"
    )

    assert response.status_code == 202
    ids = response.json()["delivery_ids"]
    assert len(httpserver.log) == 2
    received = sorted(
        (json.loads(request.get_data()) for request, _ in httpserver.log), key=lambda b: b["recipientList"][0]["recipientNo"]
    )
    assert received == [
        EXPECTED_SMS,
        {**EXPECTED_SMS, "recipientList": [{"recipientNo": "01099998888", "countryCode": "82"}]},
    ]
    assert all(request.headers["X-Secret-Key"] == SECRET_KEY_VALUE for request, _ in httpserver.log)
    for delivery_id in ids:
        delivery = Delivery.objects.get(pk=delivery_id)
        assert delivery.status == Delivery.Status.SUCCESS
        assert delivery.response_status_code == 200
        assert delivery.attempt_count == 1
    assert Delivery.objects.count() == 2


def test_send_duplicate_user_ids_make_one_delivery_each(api, make_webhook, end_user, httpserver: HTTPServer):
    webhook = make_webhook(httpserver.url_for(SMS_PATH))

    response = api.post(
        f"/api/v1/webhooks/{webhook.pk}/send", {"user_ids": ["u-1001", "u-1001"], "data": {"text": "Hello"}}, format="json"
    )

    assert response.status_code == 202
    assert len(response.json()["delivery_ids"]) == 1
    assert Delivery.objects.count() == 1


def test_send_to_an_unknown_user_is_400_naming_it_and_creates_nothing(api, make_webhook, end_user, httpserver: HTTPServer):
    webhook = make_webhook(httpserver.url_for(SMS_PATH))

    response = api.post(
        f"/api/v1/webhooks/{webhook.pk}/send", {"user_ids": ["u-1001", "ghost-7"], "data": {"text": "Hello"}}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"user_ids": ["No such users in this project: ghost-7"]}
    assert Delivery.objects.count() == 0
    assert httpserver.log == []


def test_send_to_another_projects_user_is_400(api, make_webhook, other_project, httpserver: HTTPServer):
    end_user_put(project=other_project, user_id="globex-1", attributes={}, tags={"phone_number": "0100"})
    webhook = make_webhook(httpserver.url_for(SMS_PATH))

    response = api.post(f"/api/v1/webhooks/{webhook.pk}/send", {"user_ids": ["globex-1"], "data": {"text": "Hi"}}, format="json")

    assert response.status_code == 400
    assert response.json() == {"user_ids": ["No such users in this project: globex-1"]}
    assert Delivery.objects.count() == 0


def test_send_to_an_inactive_webhook_is_400(api, make_webhook, end_user, httpserver: HTTPServer):
    webhook = make_webhook(httpserver.url_for(SMS_PATH), is_active=False)

    response = api.post(f"/api/v1/webhooks/{webhook.pk}/send", {"user_ids": ["u-1001"], "data": {"text": "Hi"}}, format="json")

    assert response.status_code == 400
    assert response.json() == {"webhook": ["This webhook is inactive; activate it before sending."]}
    assert Delivery.objects.count() == 0


@pytest.mark.parametrize("action", ["send", "test", "preview"])
def test_reserved_data_key_is_400_and_nothing_happens(api, make_webhook, end_user, httpserver: HTTPServer, action):
    webhook = make_webhook(httpserver.url_for(SMS_PATH))
    payload = {"data": {"text": "Hello", "userId": "someone-else"}}
    payload.update({"user_ids": ["u-1001"]} if action == "send" else {"user_id": "u-1001"})

    response = api.post(f"/api/v1/webhooks/{webhook.pk}/{action}", payload, format="json")

    assert response.status_code == 400
    assert response.json() == {"data": [RESERVED_MESSAGE]}
    assert Delivery.objects.count() == 0
    assert httpserver.log == []


def test_several_reserved_data_keys_are_all_named(api, make_webhook, end_user, httpserver: HTTPServer):
    webhook = make_webhook(httpserver.url_for(SMS_PATH))

    response = api.post(
        f"/api/v1/webhooks/{webhook.pk}/send", {"user_ids": ["u-1001"], "data": {"tags": {}, "userId": "x"}}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"data": ["tags, userId are filled in by the product and cannot be given as data."]}


# --------------------------------------------------------------------------- test send


def test_test_send_makes_one_attempt_now_and_returns_the_delivery(api, make_webhook, end_user, httpserver: HTTPServer):
    httpserver.expect_oneshot_request(SMS_PATH, method="POST").respond_with_json({"header": {"isSuccessful": True}})
    webhook = make_webhook(httpserver.url_for(SMS_PATH))

    response = api.post(f"/api/v1/webhooks/{webhook.pk}/test", {"user_id": "u-1001", "data": {"text": "Hello"}}, format="json")

    assert response.status_code == 201
    ((received, _response),) = httpserver.log
    body = response.json()
    assert SECRET_KEY_VALUE not in response.content.decode()
    assert body["status"] == "success"
    assert body["source"] == "test"
    assert body["user_id"] == "u-1001"
    assert body["webhook"] == webhook.pk
    assert body["failure_reason"] == ""
    assert body["attempt_count"] == 1
    assert body["max_attempts"] == 1
    assert body["data"] == {"text": "Hello"}
    assert body["request"]["method"] == "POST"
    assert body["request"]["url"] == httpserver.url_for(SMS_PATH)
    assert body["request"]["body"].encode("utf-8") == received.get_data()
    assert json.loads(received.get_data()) == EXPECTED_SMS
    assert body["request"]["headers"] == [
        ["Content-Type", "application/json;charset=UTF-8"],
        ["X-Secret-Key", MASK],
        ["User-Agent", "flarelane-webhooks/1.0"],
    ]
    assert received.headers["User-Agent"] == "flarelane-webhooks/1.0"
    assert received.headers["X-Secret-Key"] == SECRET_KEY_VALUE
    assert body["response"]["status_code"] == 200
    assert json.loads(body["response"]["body"]) == {"header": {"isSuccessful": True}}
    assert body["response"]["body_encoding"] == "text"
    assert body["response"]["body_truncated"] is False
    (attempt,) = body["attempts"]
    assert (attempt["number"], attempt["outcome"], attempt["status_code"], attempt["failure_reason"]) == (1, "response", 200, "")
    assert Delivery.objects.count() == 1
    assert str(Delivery.objects.get().pk) == body["id"]


def test_test_send_to_an_unknown_user_is_400(api, make_webhook, httpserver: HTTPServer):
    webhook = make_webhook(httpserver.url_for(SMS_PATH))

    response = api.post(f"/api/v1/webhooks/{webhook.pk}/test", {"user_id": "ghost", "data": {"text": "Hello"}}, format="json")

    assert response.status_code == 400
    assert response.json() == {"user_id": ["No user 'ghost' in this project."]}
    assert Delivery.objects.count() == 0
    assert httpserver.log == []


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("test", '{"user_id": "u-1001", "data": {"text": "\\ud800"}}'),
        ("send", '{"user_ids": ["u-1001"], "data": {"text": "\\ud800"}}'),
    ],
)
def test_a_lone_surrogate_in_the_data_is_400_and_nothing_is_sent(
    api, make_webhook, end_user, httpserver: HTTPServer, action, body
):
    webhook = make_webhook(httpserver.url_for(SMS_PATH))

    response = api.generic("POST", f"/api/v1/webhooks/{webhook.pk}/{action}", body, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {
        "detail": "JSON parse error - strings may not contain a lone surrogate (\\ud800 to \\udfff); "
        "send the character itself, or both halves of its surrogate pair."
    }
    assert Delivery.objects.count() == 0
    assert httpserver.log == []


# --------------------------------------------------------------------------- preview


def test_preview_renders_and_sends_nothing(api, make_webhook, end_user, httpserver: HTTPServer):
    webhook = make_webhook(httpserver.url_for(SMS_PATH))

    response = api.post(f"/api/v1/webhooks/{webhook.pk}/preview", {"user_id": "u-1001", "data": {"text": "Hello"}}, format="json")

    assert response.status_code == 200
    assert SECRET_KEY_VALUE not in response.content.decode()
    body = response.json()
    assert body == {
        "method": "POST",
        "url": httpserver.url_for(SMS_PATH),
        "headers": [
            ["Content-Type", "application/json;charset=UTF-8"],
            ["X-Secret-Key", MASK],
            ["User-Agent", "flarelane-webhooks/1.0"],
        ],
        "body": body["body"],
    }
    assert json.loads(body["body"]) == EXPECTED_SMS
    assert httpserver.log == []
    assert Delivery.objects.count() == 0


def test_preview_for_a_user_missing_the_tag_is_422_render_error(api, make_webhook, project, httpserver: HTTPServer):
    end_user_put(project=project, user_id="no-phone", attributes={}, tags={})
    webhook = make_webhook(httpserver.url_for(SMS_PATH))

    response = api.post(
        f"/api/v1/webhooks/{webhook.pk}/preview", {"user_id": "no-phone", "data": {"text": "Hello"}}, format="json"
    )

    assert response.status_code == 422
    assert response.json() == {"failure_reason": "render_error", "error": MISSING_TAG_MESSAGE}
    assert httpserver.log == []
    assert Delivery.objects.count() == 0


def test_preview_without_a_data_variable_is_422(api, make_webhook, end_user, httpserver: HTTPServer):
    webhook = make_webhook(httpserver.url_for(SMS_PATH))

    response = api.post(f"/api/v1/webhooks/{webhook.pk}/preview", {"user_id": "u-1001"}, format="json")

    assert response.status_code == 422
    assert response.json() == {
        "failure_reason": "render_error",
        "error": "Body: text is not defined: no value was given for the data variable 'text'.",
    }
    assert httpserver.log == []


# --------------------------------------------------------------------------- projects


def test_another_projects_key_gets_404_for_every_webhook_endpoint(
    api, other_api, make_webhook, end_user, other_project, httpserver: HTTPServer
):
    # The other project even has a user with the same id, so only the webhook lookup can refuse.
    end_user_put(project=other_project, user_id="u-1001", attributes={}, tags={"phone_number": "0100"})
    webhook = make_webhook(httpserver.url_for(SMS_PATH))
    url = f"/api/v1/webhooks/{webhook.pk}"

    answers = {
        "get": other_api.get(url),
        "patch": other_api.patch(url, {"name": "Hijacked", "url": "http://127.0.0.1:9/steal"}, format="json"),
        "delete": other_api.delete(url),
        "send": other_api.post(f"{url}/send", {"user_ids": ["u-1001"], "data": {"text": "Hi"}}, format="json"),
        "test": other_api.post(f"{url}/test", {"user_id": "u-1001", "data": {"text": "Hi"}}, format="json"),
        "preview": other_api.post(f"{url}/preview", {"user_id": "u-1001", "data": {"text": "Hi"}}, format="json"),
    }

    assert {name: answer.status_code for name, answer in answers.items()} == dict.fromkeys(answers, 404)
    assert all(SECRET_KEY_VALUE not in answer.content.decode() for answer in answers.values())
    assert other_api.get("/api/v1/webhooks").json() == []
    webhook.refresh_from_db()
    assert (webhook.name, webhook.url) == ("Third-party SMS", httpserver.url_for(SMS_PATH))
    assert Delivery.objects.count() == 0
    assert httpserver.log == []
    assert api.get(url).status_code == 200


def test_no_key_is_401(make_webhook, httpserver: HTTPServer):
    webhook = make_webhook(httpserver.url_for(SMS_PATH))

    response = APIClient().get(f"/api/v1/webhooks/{webhook.pk}")

    assert response.status_code == 401
    assert SECRET_KEY_VALUE not in response.content.decode()


def test_send_without_a_data_variable_is_one_400_not_a_failure_per_user(api, httpserver, make_webhook, end_user):
    webhook = make_webhook(httpserver.url_for("/sms"))

    response = api.post(f"/api/v1/webhooks/{webhook.pk}/send", {"user_ids": ["u-1001"], "data": {}}, format="json")

    assert response.status_code == 400
    assert response.json() == {"data": ["Give a value for each data variable of this webhook; missing: text."]}
    assert Delivery.objects.count() == 0


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("file:///etc/passwd", "The URL must start with http:// or https:// (found 'file')."),
        ("gopher://{{ tags.host }}/x", "The URL must start with http:// or https:// (found 'gopher')."),
        (
            "http://user:pass@example.com/x",
            "The URL contains a user name or password. Put credentials in an Authorization header marked secret, so that they are masked in history.",
        ),
    ],
)
def test_urls_that_can_never_be_sent_are_refused_on_save(api, url, message):
    response = api.post("/api/v1/webhooks", {"name": "Bad", "method": "POST", "url": url, "body_type": "none"}, format="json")

    assert response.status_code == 400
    assert response.json() == {"url": [message]}


def test_api_errors_outside_the_views_are_json(api):
    not_found = api.get("/api/v1/webhooks/abc/send")

    assert (not_found.status_code, not_found.json()) == (404, {"detail": "Not found."})


@pytest.mark.parametrize("debug", [True, False])
def test_an_unknown_api_path_is_json_also_with_debug_on(api, settings, debug):
    settings.DEBUG = debug  # make run serves with DEBUG on, where Django would show its HTML 404 page

    unknown = api.get("/api/v1/no-such-thing")
    other_version = api.post("/api/v2/webhooks")
    other_version_slash = api.post("/api/v2/webhooks/")
    bare = api.post("/api")
    slash = api.get("/api/v1/webhooks/")

    assert (unknown.status_code, unknown["Content-Type"], unknown.json()) == (404, "application/json", {"detail": "Not found."})
    assert (other_version.status_code, other_version.json()) == (404, {"detail": "Not found."})
    assert (other_version_slash.status_code, other_version_slash.json()) == (404, {"detail": "Not found."})  # no false hint
    assert (bare.status_code, bare.json()) == (404, {"detail": "Not found."})
    assert api.get("/api/schema").status_code == 301
    assert (api.post("/api/schema").status_code, api.post("/api/docs")["Location"]) == (301, "/api/docs/")
    assert (slash.status_code, slash.json()) == (404, {"detail": "Not found. API paths end without a slash: /api/v1/webhooks"})
    assert api.get("/api/docs").status_code == 301  # pages outside /api/v1/ still gain their slash


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_a_mistyped_api_path_is_json_404_for_every_method_not_a_csrf_page(method, project):
    client = Client(enforce_csrf_checks=True)  # as a real API client: no CSRF cookie or token
    key = api_key_issue(project=project).plaintext

    response = getattr(client, method)("/api/v1/webhooks/1/tset", headers={"authorization": f"Bearer {key}"})

    assert (response.status_code, response["Content-Type"], response.json()) == (
        404,
        "application/json",
        {"detail": "Not found."},
    )


def test_patch_with_a_header_without_a_name_is_400_not_a_server_error(api, make_webhook, httpserver: HTTPServer):
    # Found by schemathesis (make api-fuzz): a PATCH made the nested header name optional.
    webhook = make_webhook(httpserver.url_for(SMS_PATH))

    response = api.patch(f"/api/v1/webhooks/{webhook.pk}", {"headers": [{"value": "", "secret": True}]}, format="json")

    assert response.status_code == 400
    assert response.json() == {"headers": {"0": {"name": ["Each header needs a name."]}}}
    assert [h["name"] for h in Webhook.objects.get(pk=webhook.pk).headers] == ["Content-Type", "X-Secret-Key"]
