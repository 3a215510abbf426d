"""The webhook console's JSON endpoints: live analysis of the form, user search, preview and
send of the test-send panel, and what staff who may only view get (403, no controls)."""

import json

import pytest
from django.contrib.auth.models import Permission, User
from pytest_httpserver import HTTPServer

from channels_webhook.models import Webhook
from flarelane.audience.services import end_user_put
from history.models import Delivery
from tests.conftest import SECRET_KEY_VALUE, SMS_BODY

pytestmark = pytest.mark.django_db

SMS_PATH = "/sms/v3.0/appKeys/demo/sender/sms"
ANALYZE_URL = "/admin/channels_webhook/webhook/analyze/"
EXPECTED_SMS_BODY = {
    "body": "Hello",
    "sendNo": "15446859",
    "recipientList": [{"recipientNo": "01012345678", "countryCode": "82"}],
}


def url_of(webhook: Webhook, tail: str) -> str:
    return f"/admin/channels_webhook/webhook/{webhook.pk}/{tail}"


def request_fields(url: str, *, body: str = SMS_BODY, body_type: str = "json", headers=(), method: str = "POST") -> dict:
    """The request part of the webhook form as the browser posts it; `headers` are (name, value, secret, stored)."""
    data = {"method": method, "url": url, "body_type": body_type, "body": body, "headers_rows-TOTAL": str(len(headers))}
    for index, (name, value, secret, stored) in enumerate(headers):
        data[f"headers_rows-{index}-name"] = name
        data[f"headers_rows-{index}-value"] = value
        if secret:
            data[f"headers_rows-{index}-secret"] = "on"
        if stored:
            data[f"headers_rows-{index}-stored"] = "1"
    return data


@pytest.fixture
def sms_webhook(make_webhook, httpserver: HTTPServer) -> Webhook:
    return make_webhook(httpserver.url_for(SMS_PATH))


@pytest.fixture
def viewer(client):
    user = User.objects.create_user("viewer", password="pw-viewer-123", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="channels_webhook", codename="view_webhook"))
    client.force_login(user)
    return client


# --------------------------------------------------------------------------- analyze


def test_analyze_returns_the_data_variables_of_every_field(admin_client, project):
    data = request_fields(
        "https://api.example.com/users/{{ userId }}/{{ campaign }}",
        body='{"to": "{{ tags.phone_number }}", "text": "{{ text }}", "coupon": "{{ coupon.code }}"}',
        headers=(("X-Ref", "{{ ref_code }}", False, False),),
    )

    response = admin_client.post(ANALYZE_URL, data)

    assert response.status_code == 200
    assert response.json() == {"data_variables": ["campaign", "coupon", "ref_code", "text"], "problems": []}


def test_analyze_reports_problems_with_line_and_column_and_keeps_the_variables_of_the_other_fields(admin_client, project):
    data = request_fields(
        "https://api.example.com/{{ campaign }}",
        body='{\n  "body": "{{ text }",\n  "sendNo": "15446859"\n}',
        headers=(("Authorization", "Bearer {{ tags.token ", False, False),),
    )

    response = admin_client.post(ANALYZE_URL, data)

    assert response.status_code == 200
    assert response.json() == {
        "data_variables": ["campaign"],
        "problems": [
            {
                "field": "headers_rows",
                "message": "Header 'Authorization': expected '}}', found end of file",
                "line": 1,
                "column": 8,
            },
            {"field": "body", "message": "expected '}}', found end of file", "line": 2, "column": 12},
        ],
    }


def test_analyze_reports_an_unknown_filter_at_its_place_in_the_body(admin_client, project):
    data = request_fields("https://sms.example.com/sms", body='{"body": "{{ text | shout }}"}')

    response = admin_client.post(ANALYZE_URL, data)

    assert response.json() == {
        "data_variables": ["text"],
        "problems": [{"field": "body", "message": "Unknown filter 'shout'", "line": 1, "column": 21}],
    }


def test_analyze_accepts_liquid_between_json_members(admin_client, project):
    data = request_fields(
        "https://sms.example.com/sms", body='{"text": "{{ text }}"{% if vip %}, "vip": true{% endif %}, "n": {{ count }}}'
    )

    response = admin_client.post(ANALYZE_URL, data)

    assert response.json() == {"data_variables": ["count", "text", "vip"], "problems": []}


def test_analyze_of_a_form_body_that_is_not_an_object_of_text(admin_client, project):
    data = request_fields("https://sms.example.com/sms", body_type="form", body='{"to": 1}')

    response = admin_client.post(ANALYZE_URL, data)

    assert response.json() == {
        "data_variables": [],
        "problems": [
            {
                "field": "body",
                "message": 'A form body is a JSON object of field names to text, e.g. {"to": "{{ tags.phone_number }}"}.',
                "line": None,
                "column": None,
            }
        ],
    }


def test_analyze_of_an_empty_url(admin_client, project):
    response = admin_client.post(ANALYZE_URL, request_fields("", body='{"a": "{{ text }}"}'))

    assert response.json() == {
        "data_variables": ["text"],
        "problems": [{"field": "url", "message": "This field cannot be blank.", "line": None, "column": None}],
    }


def test_analyze_of_a_bad_header_name(admin_client, project):
    data = request_fields("https://x.example.com", body='{"a": "{{ text }}"}', headers=(("Bad Header", "x", False, False),))

    response = admin_client.post(ANALYZE_URL, data)

    assert response.json() == {
        "data_variables": ["text"],
        "problems": [
            {
                "field": "headers_rows",
                "message": "Headers: Header name 'Bad Header' may only contain letters, digits and !#$%&'*+-.^_`|~ (no spaces or colons).",
                "line": None,
                "column": None,
            }
        ],
    }


def test_analyze_of_a_saved_webhook_keeps_its_stored_secret_and_saves_nothing(admin_client, sms_webhook):
    before = (sms_webhook.body, sms_webhook.headers, sms_webhook.data_variables)
    data = request_fields(
        sms_webhook.url,
        body='{"a": "{{ greeting }}"}',
        headers=(("Content-Type", "application/json", False, False), ("X-Secret-Key", "", True, True)),
    )

    response = admin_client.post(url_of(sms_webhook, "analyze/"), data)

    assert response.status_code == 200
    assert response.json() == {"data_variables": ["greeting"], "problems": []}
    sms_webhook.refresh_from_db()
    assert (sms_webhook.body, sms_webhook.headers, sms_webhook.data_variables) == before
    assert SECRET_KEY_VALUE not in response.content.decode()


def test_analyze_of_a_new_secret_header_without_a_value(admin_client, project):
    data = request_fields("https://sms.example.com/sms", headers=(("X-Secret-Key", "", True, False),))

    response = admin_client.post(ANALYZE_URL, data)

    assert response.json()["problems"] == [
        {
            "field": "headers_rows",
            "message": "Header 'X-Secret-Key': A secret header needs a value.",
            "line": None,
            "column": None,
        }
    ]


def test_analyze_refuses_get(admin_client, project):
    assert admin_client.get(ANALYZE_URL).status_code == 405


# --------------------------------------------------------------------------- user search


@pytest.fixture
def users(project, other_project):
    end_user_put(
        project=project,
        user_id="u-1001",
        attributes={"name": "Minji Kim", "email": "minji@example.com"},
        tags={"phone_number": "01012345678"},
    )
    end_user_put(project=project, user_id="u-1002", attributes={"name": "Jisoo Park", "email": "jisoo@corp.example"}, tags={})
    end_user_put(project=project, user_id="u-10", attributes={"name": "Ten", "email": "ten@example.com"}, tags={})
    end_user_put(
        project=other_project, user_id="u-1003", attributes={"name": "Minji Lee", "email": "minji.lee@example.com"}, tags={}
    )


def _search(client, webhook, query):
    response = client.get(url_of(webhook, "send/users/"), {"q": query})
    assert response.status_code == 200
    return response.json()["users"]


def test_user_search_by_user_id_puts_the_exact_id_first(admin_client, sms_webhook, users):
    assert _search(admin_client, sms_webhook, "u-10") == [
        {"user_id": "u-10", "name": "Ten", "email": "ten@example.com"},
        {"user_id": "u-1001", "name": "Minji Kim", "email": "minji@example.com"},
        {"user_id": "u-1002", "name": "Jisoo Park", "email": "jisoo@corp.example"},
    ]


def test_user_search_by_email_and_by_name_stays_in_the_webhooks_project(admin_client, sms_webhook, users):
    assert _search(admin_client, sms_webhook, "corp.example") == [
        {"user_id": "u-1002", "name": "Jisoo Park", "email": "jisoo@corp.example"}
    ]
    # "Minji Lee" (u-1003) belongs to another project and is never offered.
    assert _search(admin_client, sms_webhook, "minji") == [
        {"user_id": "u-1001", "name": "Minji Kim", "email": "minji@example.com"}
    ]
    assert _search(admin_client, sms_webhook, "u-1003") == []


# --------------------------------------------------------------------------- preview


def test_preview_returns_the_exact_request_masked_and_sends_nothing(admin_client, sms_webhook, end_user, httpserver):
    response = admin_client.post(url_of(sms_webhook, "send/preview/"), {"user_id": "u-1001", "data__text": "Hello"})

    assert response.status_code == 200
    assert response.json() == {
        "ok": True,
        "request": {
            "method": "POST",
            "url": httpserver.url_for(SMS_PATH),
            "headers": [
                ["Content-Type", "application/json;charset=UTF-8"],
                ["X-Secret-Key", "••••••"],
                ["User-Agent", "flarelane-webhooks/1.0"],
            ],
            "body": json.dumps(EXPECTED_SMS_BODY, ensure_ascii=False),
        },
    }
    assert SECRET_KEY_VALUE not in response.content.decode()
    assert httpserver.log == []
    assert Delivery.objects.count() == 0


def test_preview_of_a_missing_data_variable_names_it(admin_client, sms_webhook, end_user, httpserver):
    response = admin_client.post(url_of(sms_webhook, "send/preview/"), {"user_id": "u-1001"})

    assert response.status_code == 422
    assert response.json() == {
        "ok": False,
        "failure_reason": "render_error",
        "error": "Body: text is not defined: no value was given for the data variable 'text'.",
    }
    assert httpserver.log == []
    assert Delivery.objects.count() == 0


def test_preview_of_a_user_of_another_project_is_refused(admin_client, sms_webhook, other_project, httpserver):
    end_user_put(project=other_project, user_id="u-1001", attributes={}, tags={"phone_number": "01099999999"})

    response = admin_client.post(url_of(sms_webhook, "send/preview/"), {"user_id": "u-1001", "data__text": "Hello"})

    assert response.status_code == 400
    assert response.json() == {
        "ok": False,
        "errors": {"user_id": [{"message": "No user 'u-1001' in project Acme.", "code": ""}]},
    }
    assert httpserver.log == []


# --------------------------------------------------------------------------- send


def test_send_sends_one_request_and_returns_the_result_and_the_history_link(
    admin_client, admin_user, sms_webhook, end_user, httpserver
):
    httpserver.expect_oneshot_request(SMS_PATH, method="POST").respond_with_data(
        '{"header": {"isSuccessful": true}}', status=200, headers={"X-Request-Id": "r-77"}, content_type="application/json"
    )

    response = admin_client.post(url_of(sms_webhook, "send/test/"), {"user_id": "u-1001", "data__text": "Hello"})

    assert response.status_code == 200
    delivery = Delivery.objects.get()
    ((received, _),) = httpserver.log
    assert received.method == "POST"
    assert received.headers["X-Secret-Key"] == SECRET_KEY_VALUE
    assert json.loads(received.get_data()) == EXPECTED_SMS_BODY
    payload = response.json()
    result = payload["delivery"]
    response_headers = dict(result.pop("response_headers"))
    duration = result.pop("duration_ms")
    assert isinstance(duration, int)
    assert duration == delivery.duration_ms
    assert payload["ok"] is True
    assert result == {
        "id": str(delivery.pk),
        "status": "success",
        "failure_reason": "",
        "error_message": "",
        "response_status_code": 200,
        "response_body": '{"header": {"isSuccessful": true}}',
        "response_body_truncated": False,
        "request": {
            "method": "POST",
            "url": httpserver.url_for(SMS_PATH),
            "headers": [
                ["Content-Type", "application/json;charset=UTF-8"],
                ["X-Secret-Key", "••••••"],
                ["User-Agent", "flarelane-webhooks/1.0"],
            ],
            "body": json.dumps(EXPECTED_SMS_BODY, ensure_ascii=False),
        },
        "history_url": f"/admin/history/delivery/{delivery.pk}/change/",
    }
    assert response_headers["X-Request-Id"] == "r-77"
    assert response_headers["Content-Type"] == "application/json"
    assert SECRET_KEY_VALUE not in response.content.decode()
    assert delivery.source == Delivery.Source.TEST
    assert delivery.created_by == admin_user
    assert delivery.attempt_count == 1
    assert admin_client.get(result["history_url"]).status_code == 200


def test_a_line_break_typed_in_a_data_box_is_sent_as_a_newline_not_crlf(admin_client, sms_webhook, end_user, httpserver):
    httpserver.expect_oneshot_request(SMS_PATH, method="POST").respond_with_json({"header": {"isSuccessful": True}})

    # What a browser posts for "line1⏎line2" typed in a textarea.
    admin_client.post(url_of(sms_webhook, "send/test/"), {"user_id": "u-1001", "data__text": "line1\r\nline2"})

    ((received, _),) = httpserver.log
    assert json.loads(received.get_data())["body"] == "line1\nline2"
    assert Delivery.objects.get().data == {"text": "line1\nline2"}


def test_send_reports_a_failure_with_its_reason(admin_client, sms_webhook, end_user, httpserver):
    httpserver.expect_oneshot_request(SMS_PATH).respond_with_data('{"error":"down"}', status=500)

    response = admin_client.post(url_of(sms_webhook, "send/test/"), {"user_id": "u-1001", "data__text": "Hello"})

    result = response.json()["delivery"]
    assert (result["status"], result["failure_reason"], result["error_message"], result["response_status_code"]) == (
        "failure",
        "http_error",
        "The receiver answered 500 Internal Server Error.",
        500,
    )
    assert result["response_body"] == '{"error":"down"}'
    assert len(httpserver.log) == 1
    assert Delivery.objects.count() == 1


def test_send_to_an_unknown_user_sends_nothing(admin_client, sms_webhook, httpserver):
    response = admin_client.post(url_of(sms_webhook, "send/test/"), {"user_id": "u-nobody", "data__text": "Hello"})

    assert response.status_code == 400
    assert response.json()["errors"] == {"user_id": [{"message": "No user 'u-nobody' in project Acme.", "code": ""}]}
    assert httpserver.log == []
    assert Delivery.objects.count() == 0


# --------------------------------------------------------------------------- permissions and secrets


def test_view_only_staff_get_403_from_every_endpoint_and_nothing_is_sent(viewer, sms_webhook, end_user, httpserver):
    posts = {
        ANALYZE_URL: request_fields("https://x.example.com/{{ a }}"),
        url_of(sms_webhook, "analyze/"): request_fields("https://x.example.com/{{ a }}"),
        url_of(sms_webhook, "send/preview/"): {"user_id": "u-1001", "data__text": "Hello"},
        url_of(sms_webhook, "send/test/"): {"user_id": "u-1001", "data__text": "Hello"},
        url_of(sms_webhook, "send/"): {"user_id": "u-1001", "data__text": "Hello", "_send": "Send"},
    }

    statuses = {url: viewer.post(url, data).status_code for url, data in posts.items()}
    statuses["search"] = viewer.get(url_of(sms_webhook, "send/users/"), {"q": "u"}).status_code

    assert statuses == {**dict.fromkeys(posts, 403), "search": 403}
    assert httpserver.log == []
    assert Delivery.objects.count() == 0


def test_view_only_staff_see_the_webhook_without_edit_or_send_controls(viewer, sms_webhook):
    response = viewer.get(url_of(sms_webhook, "change/"))

    html = response.content.decode()
    assert response.status_code == 200
    assert "send-panel-link" not in html
    assert url_of(sms_webhook, "send/") not in html
    assert "webhook-editor-config" not in html
    assert "webhook_form.js" not in html
    assert 'name="_save"' not in html
    assert "<textarea" not in html
    assert 'name="headers_rows-0-name"' not in html
    # The headers are listed read-only, the secret masked.
    assert "<code>Content-Type: application/json;charset=UTF-8</code>" in html
    assert "<code>X-Secret-Key: ••••••</code>" in html
    assert SECRET_KEY_VALUE not in html
    assert sms_webhook.headers[1]["sealed"] not in html
    assert '<li class="data-variable"><code>text</code></li>' in html


def test_editors_get_the_live_editor_and_the_send_panel_link(admin_client, sms_webhook):
    html = admin_client.get(url_of(sms_webhook, "change/")).content.decode()

    assert f'<a class="button" id="send-panel-link" href="{url_of(sms_webhook, "send/")}">' in html
    assert f'data-analyze-url="{url_of(sms_webhook, "analyze/")}"' in html
    assert '<ul id="data-variables" class="data-variables"><li class="data-variable"><code>text</code></li></ul>' in html
    assert '<section id="webhook-insights">' in html
    assert SECRET_KEY_VALUE not in html


def test_add_page_analyzes_without_a_webhook(admin_client, project):
    html = admin_client.get("/admin/channels_webhook/webhook/add/").content.decode()

    assert f'data-analyze-url="{ANALYZE_URL}"' in html
    assert '<ul id="data-variables" class="data-variables"></ul>' in html
    assert '<section id="webhook-insights">' not in html


def test_anonymous_users_are_sent_to_the_login_page(client, sms_webhook, end_user, httpserver):
    for url in (ANALYZE_URL, url_of(sms_webhook, "send/preview/"), url_of(sms_webhook, "send/test/")):
        response = client.post(url, {"user_id": "u-1001", "data__text": "Hello"})
        assert (response.status_code, response["Location"]) == (302, f"/admin/login/?next={url}")
    response = client.get(url_of(sms_webhook, "send/users/"))
    assert response.status_code == 302
    assert httpserver.log == []


def test_send_panel_page_has_the_controls_and_no_secret(admin_client, make_webhook, httpserver, end_user):
    webhook = make_webhook(httpserver.url_for("/x"), body='{"a": "{{ text }}", "b": "{{ coupon }}"}')

    html = admin_client.get(url_of(webhook, "send/") + "?user_id=u-1001").content.decode()

    for element_id in ("user-search", "user-search-results", "preview-request", "send-button", "send-result"):
        assert f'id="{element_id}"' in html
    assert 'value="u-1001"' in html
    assert html.count('class="data-variable-input"') == 2
    assert SECRET_KEY_VALUE not in html
