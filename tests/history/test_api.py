"""The history API: list with filters and cursor pages, detail, resend; secrets never shown."""

import datetime as dt
import json
from dataclasses import dataclass

import pytest
from django.utils import timezone
from pytest_httpserver import HTTPServer
from rest_framework.test import APIClient

from channels_webhook import sending
from channels_webhook.models import Webhook
from channels_webhook.sending import send_test, send_to_users
from channels_webhook.services import webhook_update
from flarelane.audience.models import EndUser
from flarelane.audience.services import api_key_issue, end_user_put
from history.models import Delivery, DeliveryAttempt
from tests.conftest import SECRET_KEY_VALUE

pytestmark = pytest.mark.django_db

SMS_PATH = "/sms/v3.0/appKeys/demo/sender/sms"
DOWN_PATH = "/down"
MASK = "••••••"
T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


def _iso(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    text = moment.astimezone(dt.UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


@dataclass
class History:
    sms: Webhook
    down: Webhook
    success: Delivery  # test send to u-1001 via sms, T0
    failure: Delivery  # test send to u-2 via down (500), T0 + 1h
    pending: Delivery  # API send to u-2 via sms, T0 + 2h

    @property
    def ids(self) -> tuple[str, str, str]:
        return str(self.success.pk), str(self.failure.pk), str(self.pending.pk)


@pytest.fixture
def other_api(other_project) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_issue(project=other_project).plaintext}")
    return client


@pytest.fixture
def second_user(project) -> EndUser:
    user, _ = end_user_put(project=project, user_id="u-2", attributes={}, tags={"phone_number": "01099998888"})
    return user


@pytest.fixture
def history(make_webhook, end_user, second_user, httpserver: HTTPServer) -> History:
    httpserver.expect_request(SMS_PATH, method="POST").respond_with_json({"header": {"isSuccessful": True}})
    httpserver.expect_request(DOWN_PATH, method="POST").respond_with_data(
        '{"error":"down"}', status=500, content_type="application/json"
    )
    sms = make_webhook(httpserver.url_for(SMS_PATH))
    down = make_webhook(httpserver.url_for(DOWN_PATH), name="Down")
    success = send_test(webhook=sms, end_user=end_user, data={"text": "Hello"})
    failure = send_test(webhook=down, end_user=second_user, data={"text": "Bye"})
    (pending_id,) = send_to_users(webhook=sms, user_ids=["u-2"], data={"text": "Later"}, source="api").delivery_ids
    pending = Delivery.objects.get(pk=pending_id)
    # Fixed creation times, one hour apart, so the filters have exact answers.
    for offset, delivery in enumerate((success, failure, pending)):
        Delivery.objects.filter(pk=delivery.pk).update(created_at=T0 + dt.timedelta(hours=offset))
        delivery.refresh_from_db()
    assert (success.status, failure.status, pending.status) == ("success", "failure", "pending")
    httpserver.clear_log()
    return History(sms=sms, down=down, success=success, failure=failure, pending=pending)


# --------------------------------------------------------------------------- list


def test_list_is_newest_first(api, history):
    success, failure, pending = history.ids

    response = api.get("/api/v1/deliveries")

    assert _ids(response) == [pending, failure, success]
    assert response.json()["next"] is None
    assert response.json()["previous"] is None


def test_cursor_pages_of_two(api, history):
    success, failure, pending = history.ids

    first = api.get("/api/v1/deliveries", {"page_size": 2})
    assert _ids(first) == [pending, failure]
    assert first.json()["previous"] is None
    next_url = first.json()["next"]
    assert next_url.startswith("http://testserver/api/v1/deliveries?")
    assert "cursor=" in next_url
    assert "page_size=2" in next_url

    second = api.get(next_url)
    assert _ids(second) == [success]
    assert second.json()["next"] is None
    assert second.json()["previous"] is not None

    back = api.get(second.json()["previous"])
    assert _ids(back) == [pending, failure]


def test_a_new_delivery_during_paging_is_not_repeated_or_skipped(api, history, end_user):
    success, failure, pending = history.ids
    first = api.get("/api/v1/deliveries", {"page_size": 2})
    assert _ids(first) == [pending, failure]
    (new_id,) = send_to_users(webhook=history.sms, user_ids=["u-1001"], data={"text": "New"}, source="api").delivery_ids

    second = api.get(first.json()["next"])

    assert _ids(second) == [success]
    assert _ids(api.get("/api/v1/deliveries", {"page_size": 2})) == [new_id, pending]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "success"}, ["success"]),
        ({"status": "failure"}, ["failure"]),
        ({"status": "pending"}, ["pending"]),
        ({"status": "sending"}, []),
        ({"source": "test"}, ["failure", "success"]),
        ({"source": "api"}, ["pending"]),
        ({"source": "resend"}, []),
        ({"user_id": "u-2"}, ["pending", "failure"]),
        ({"user_id": "u-1001"}, ["success"]),
        ({"user_id": "nobody"}, []),
        ({"created_after": _iso(T0 + dt.timedelta(minutes=30))}, ["pending", "failure"]),
        ({"created_after": _iso(T0 + dt.timedelta(hours=1))}, ["pending", "failure"]),  # inclusive
        ({"created_before": _iso(T0 + dt.timedelta(minutes=90))}, ["failure", "success"]),
        ({"created_before": _iso(T0 + dt.timedelta(hours=1))}, ["success"]),  # exclusive
        (
            {"created_after": _iso(T0 + dt.timedelta(minutes=30)), "created_before": _iso(T0 + dt.timedelta(minutes=90))},
            ["failure"],
        ),
        ({"status": "success", "user_id": "u-2"}, []),
        ({"source": "test", "user_id": "u-2"}, ["failure"]),
        ({"failure_reason": "http_error"}, ["failure"]),
        ({"failure_reason": "cancelled"}, []),
    ],
)
def test_filters(api, history, params, expected):
    by_name = dict(zip(("success", "failure", "pending"), history.ids, strict=True))

    response = api.get("/api/v1/deliveries", params)

    assert _ids(response) == [by_name[name] for name in expected]


def test_filter_by_webhook(api, history):
    success, failure, pending = history.ids

    assert _ids(api.get("/api/v1/deliveries", {"webhook": history.sms.pk})) == [pending, success]
    assert _ids(api.get("/api/v1/deliveries", {"webhook": history.down.pk})) == [failure]
    assert _ids(api.get("/api/v1/deliveries", {"webhook": history.down.pk + 1000})) == []


def test_invalid_filters_are_400(api, history):
    assert api.get("/api/v1/deliveries", {"status": "bogus"}).status_code == 400
    assert api.get("/api/v1/deliveries", {"source": "bogus"}).status_code == 400
    assert api.get("/api/v1/deliveries", {"webhook": "abc"}).status_code == 400
    assert api.get("/api/v1/deliveries", {"created_after": "yesterday"}).status_code == 400
    assert api.get("/api/v1/deliveries", {"failure_reason": "bogus"}).status_code == 400


def test_a_mistyped_filter_is_400_naming_it_rather_than_everything(api, history):
    mistyped = api.get("/api/v1/deliveries", {"reason": "timeout", "page_size": 1})
    reversed_dates = api.get(
        "/api/v1/deliveries", {"created_after": _iso(T0 + dt.timedelta(hours=2)), "created_before": _iso(T0)}
    )

    assert mistyped.status_code == 400
    assert mistyped.json() == {
        "reason": [
            "Unknown parameter; the list takes status, webhook, user_id, source, failure_reason, journey, "
            "created_after, created_before, cursor, page_size."
        ]
    }
    assert (reversed_dates.status_code, reversed_dates.json()) == (400, {"created_before": ["Must be later than created_after."]})


def test_list_item_shape(api, history):
    response = api.get("/api/v1/deliveries", {"status": "pending"})

    (item,) = response.json()["results"]
    assert item == {
        "id": str(history.pending.pk),
        "webhook": history.sms.pk,
        "webhook_name": "Third-party SMS",
        "user_id": "u-2",
        "source": "api",
        "journey_id": None,
        "journey_name": "",
        "journey_node_key": "",
        "status": "pending",
        "failure_reason": "",
        "error_message": "",
        "request": None,
        "response": None,
        "duration_ms": None,
        "attempt_count": 0,
        "max_attempts": 3,
        "next_attempt_at": None,
        "resent_from": None,
        "created_at": _iso(T0 + dt.timedelta(hours=2)),
        "completed_at": None,
    }


# --------------------------------------------------------------------------- detail


def test_detail_has_request_response_and_attempts(api, history, httpserver: HTTPServer):
    delivery = history.failure
    (attempt,) = DeliveryAttempt.objects.filter(delivery=delivery)

    response = api.get(f"/api/v1/deliveries/{delivery.pk}")

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(delivery.pk)
    assert body["webhook"] == history.down.pk
    assert body["webhook_name"] == "Down"
    assert body["user_id"] == "u-2"
    assert body["source"] == "test"
    assert body["status"] == "failure"
    assert body["failure_reason"] == "http_error"
    assert body["error_message"] == "The receiver answered 500 Internal Server Error."
    assert body["data"] == {"text": "Bye"}
    assert body["attempt_count"] == 1
    assert body["max_attempts"] == 1
    assert body["completed_at"] == _iso(delivery.completed_at)
    assert body["request"] == {
        "method": "POST",
        "url": httpserver.url_for(DOWN_PATH),
        "headers": [
            ["Content-Type", "application/json;charset=UTF-8"],
            ["X-Secret-Key", MASK],
            ["User-Agent", "flarelane-webhooks/1.0"],
        ],
        "body": json.dumps(
            {"body": "Bye", "sendNo": "15446859", "recipientList": [{"recipientNo": "01099998888", "countryCode": "82"}]},
            ensure_ascii=False,
        ),
    }
    assert body["response"]["status_code"] == 500
    assert body["response"]["body"] == '{"error":"down"}'
    assert body["response"]["body_encoding"] == "text"
    assert body["response"]["body_truncated"] is False
    assert ["Content-Type", "application/json"] in body["response"]["headers"]
    assert body["response"]["headers"] == delivery.response_headers
    assert body["attempts"] == [
        {
            "number": 1,
            "started_at": _iso(attempt.started_at),
            "duration_ms": attempt.duration_ms,
            "outcome": "response",
            "status_code": 500,
            "failure_reason": "http_error",
            "error_message": "The receiver answered 500 Internal Server Error.",
            "next_attempt_at": None,
            "request_headers": [],  # not signed: nothing is made per attempt
        }
    ]
    assert body["duration_ms"] == attempt.duration_ms


def test_detail_of_a_pending_delivery_has_no_request_yet(api, history):
    response = api.get(f"/api/v1/deliveries/{history.pending.pk}")

    assert response.status_code == 200
    body = response.json()
    assert (body["request"], body["response"], body["attempts"], body["data"]) == (None, None, [], {"text": "Later"})


def test_unknown_or_malformed_id_is_404(api, history):
    assert api.get("/api/v1/deliveries/00000000-0000-0000-0000-000000000000").status_code == 404
    assert api.get("/api/v1/deliveries/not-a-uuid").status_code == 404
    assert api.post("/api/v1/deliveries/00000000-0000-0000-0000-000000000000/resend").status_code == 404


@pytest.mark.parametrize("pk", ["0123456789abcdef0123456789abcdef0", "-" * 36, "0123456789abcdef-0123456789abcdef"])
def test_a_malformed_id_that_fits_the_route_is_404_not_500(api, history, pk):
    api.raise_request_exception = False

    assert api.get(f"/api/v1/deliveries/{pk}").status_code == 404


def test_an_out_of_range_webhook_filter_is_400_not_500(api, history):
    api.raise_request_exception = False

    response = api.get("/api/v1/deliveries", {"webhook": "99999999999999999999999"})

    assert response.status_code == 400
    assert set(response.json()) == {"webhook"}


def test_the_secret_never_appears_in_list_or_detail(api, history):
    pages = [api.get("/api/v1/deliveries"), *(api.get(f"/api/v1/deliveries/{pk}") for pk in history.ids)]

    assert [page.status_code for page in pages] == [200, 200, 200, 200]
    for page in pages:
        text = page.content.decode()
        assert SECRET_KEY_VALUE not in text
        assert "sealed" not in text
    assert MASK in pages[1].content.decode()


# --------------------------------------------------------------------------- resend


def test_resend_queues_a_new_delivery_and_sends_nothing_yet(api, history, httpserver: HTTPServer):
    original = history.success

    response = api.post(f"/api/v1/deliveries/{original.pk}/resend")

    assert response.status_code == 202
    body = response.json()
    assert body["id"] != str(original.pk)
    assert body["source"] == "resend"
    assert body["resent_from"] == str(original.pk)
    assert body["status"] == "pending"
    assert body["user_id"] == "u-1001"
    assert body["webhook"] == history.sms.pk
    assert body["attempt_count"] == 0
    assert body["max_attempts"] == 3
    assert body["request"] == {
        "method": original.request_method,
        "url": original.request_url,
        "headers": original.request_headers,
        "body": original.request_body,
    }
    assert SECRET_KEY_VALUE not in response.content.decode()
    new = Delivery.objects.get(pk=body["id"])
    assert (new.source, new.resent_from_id, new.status) == ("resend", original.pk, "pending")
    assert Delivery.objects.count() == 4
    assert httpserver.log == []
    original.refresh_from_db()
    assert (original.status, original.attempt_count) == ("success", 1)


def test_resend_sends_the_same_bytes_again(api, make_webhook, end_user, httpserver: HTTPServer, run_tasks_inline):
    httpserver.expect_request(SMS_PATH, method="POST").respond_with_json({"header": {"isSuccessful": True}})
    webhook = make_webhook(httpserver.url_for(SMS_PATH))
    original = send_test(webhook=webhook, end_user=end_user, data={"text": "Hello"})
    ((first, _),) = httpserver.log
    # Edits after the original was sent do not change what a resend sends.
    assert api.patch(f"/api/v1/webhooks/{webhook.pk}", {"body": '{"changed": "{{ text }}"}'}, format="json").status_code == 200

    response = api.post(f"/api/v1/deliveries/{original.pk}/resend")

    assert response.status_code == 202
    assert len(httpserver.log) == 2
    (second, _) = httpserver.log[1]
    assert second.get_data() == first.get_data()
    assert second.get_data() == original.request_body.encode("utf-8")
    assert second.method == first.method == "POST"
    assert second.full_path == first.full_path
    assert second.headers["X-Secret-Key"] == SECRET_KEY_VALUE
    assert second.headers["Content-Type"] == first.headers["Content-Type"] == "application/json;charset=UTF-8"
    resent = Delivery.objects.get(pk=response.json()["id"])
    assert (resent.status, resent.source, resent.resent_from_id, resent.attempt_count) == ("success", "resend", original.pk, 1)
    assert resent.response_status_code == 200
    assert Delivery.objects.count() == 2


def test_resend_after_the_webhook_was_deleted_is_400(api, history, httpserver: HTTPServer):
    history.down.delete()

    response = api.post(f"/api/v1/deliveries/{history.failure.pk}/resend")

    assert response.status_code == 400
    assert response.json() == {"webhook": ["The webhook of this delivery was deleted; it cannot be resent."]}
    assert Delivery.objects.count() == 3
    assert httpserver.log == []


def test_resend_of_a_delivery_that_never_had_its_data_is_refused_with_the_reason(
    api, make_webhook, end_user, httpserver: HTTPServer
):
    webhook = make_webhook(httpserver.url_for("/sms"))
    queued = api.post(
        f"/api/v1/webhooks/{webhook.pk}/send", {"user_ids": [end_user.user_id], "data": {"text": "Hi"}}, format="json"
    )
    # Edited while the send waited in the queue: the body now needs a value the send lacks.
    webhook_update(webhook=webhook, values={"body": '{"body": "{{ text }}", "code": "{{ code }}"}'})
    sending.deliver(delivery_id=queued.json()["delivery_ids"][0])
    original = Delivery.objects.get()
    assert (original.status, original.failure_reason, original.request_method) == ("failure", "render_error", "")

    response = api.post(f"/api/v1/deliveries/{original.pk}/resend")

    assert response.status_code == 400
    assert response.json() == {
        "data": [
            "This delivery has no value for the data variable 'code', so a resend would fail the same way. "
            "Fix the cause, then send again."
        ]
    }
    assert Delivery.objects.count() == 1
    assert httpserver.log == []


# --------------------------------------------------------------------------- projects


def test_another_projects_key_sees_none_of_it(other_api, history, httpserver: HTTPServer):
    for pk in history.ids:
        assert other_api.get(f"/api/v1/deliveries/{pk}").status_code == 404
        assert other_api.post(f"/api/v1/deliveries/{pk}/resend").status_code == 404
    listing = other_api.get("/api/v1/deliveries")

    assert _ids(listing) == []
    assert Delivery.objects.count() == 3
    assert Delivery.objects.filter(source="resend").count() == 0
    assert httpserver.log == []


def test_no_key_is_401(history):
    client = APIClient()

    assert client.get("/api/v1/deliveries").status_code == 401
    assert client.get(f"/api/v1/deliveries/{history.success.pk}").status_code == 401
    assert client.post(f"/api/v1/deliveries/{history.success.pk}/resend").status_code == 401
    assert Delivery.objects.count() == 3


def test_timestamps_are_utc(api, history):
    body = api.get(f"/api/v1/deliveries/{history.success.pk}").json()

    assert body["created_at"] == "2026-03-01T09:00:00Z"
    assert timezone.is_aware(history.success.created_at)
