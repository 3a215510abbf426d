"""Issue 5 acceptance in a real browser: build the SMS webhook in the form, test-send it from
the panel to a real receiver, follow the result into history, copy it as cURL, resend it."""

import json

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect
from pytest_httpserver import HTTPServer

from channels_webhook.models import Webhook
from flarelane.audience.services import end_user_put, project_get_or_create
from history.models import Delivery
from tests.browser.conftest import login

SECRET = "sk-browser-secret-777"
SMS_PATH = "/sms/v3.0/appKeys/demo/sender/sms"
SMS_BODY = (
    '{"body": "{{ text }}", "sendNo": "15446859", '
    '"recipientList": [{"recipientNo": "{{ tags.phone_number }}", "countryCode": "82"}]}'
)


@pytest.mark.django_db(transaction=True)
def test_build_test_send_and_resend_a_webhook_in_the_browser(page, screenshot, httpserver: HTTPServer, run_tasks_inline):
    httpserver.expect_request(SMS_PATH, method="POST").respond_with_json({"header": {"isSuccessful": True}})
    project = project_get_or_create(slug="demo", name="Demo")
    end_user_put(
        project=project,
        user_id="u-1001",
        attributes={"name": "Minji Kim", "email": "minji@example.com"},
        tags={"phone_number": "01012345678"},
    )
    get_user_model().objects.create_superuser("staff", "staff@example.com", "pw-staff-1")
    login(page, "staff", "pw-staff-1")

    # 1. The webhook form: the data variable appears as the body is typed.
    page.goto("/admin/channels_webhook/webhook/add/")
    page.fill("#id_name", "Third-party SMS")
    page.fill("#id_url", httpserver.url_for(SMS_PATH))
    page.fill("input[name='headers_rows-0-name']", "Content-Type")
    page.fill("input[name='headers_rows-0-value']", "application/json;charset=UTF-8")
    page.fill("input[name='headers_rows-1-name']", "X-Secret-Key")
    page.fill("input[name='headers_rows-1-value']", SECRET)
    page.check("input[name='headers_rows-1-secret']")
    page.fill("#id_body", SMS_BODY)
    expect(page.locator("#data-variables li.data-variable")).to_have_text(["text"])
    expect(page.locator("#body-json-status")).to_contain_text("valid JSON")
    screenshot("01-webhook-form")
    page.click("input[name='_continue']")
    webhook = Webhook.objects.get(name="Third-party SMS")
    assert webhook.data_variables == ["text"]
    assert SECRET not in page.content()
    screenshot("02-webhook-saved")

    # 2. The test-send panel: pick the user, type the text, see the preview, send.
    page.click("#send-panel-link")
    page.fill("#user-search", "minji")
    page.fill(".data-variable-input[data-variable='text']", "Hello from the browser")
    expect(page.locator("#preview-request.preview-hint")).to_have_text("Pick a user from the list to see the request.")
    expect(page.locator("#preview-error")).to_be_hidden()  # a hint, not an error
    page.fill(".data-variable-input[data-variable='text']", "")
    page.click("button.user-search-result[data-user-id='u-1001']")
    expect(page.locator("#preview-request.preview-hint")).to_have_text("Fill in text to see the request.")
    page.fill(".data-variable-input[data-variable='text']", "Hello from the browser")
    expect(page.locator("#user-search-results")).to_be_hidden()
    expect(page.locator("#selected-user")).to_have_text("Selected: u-1001 (Minji Kim · minji@example.com)")
    expect(page.locator("#preview-request")).to_contain_text('"body": "Hello from the browser"')
    expect(page.locator("#preview-request")).to_contain_text("X-Secret-Key: ••••••")
    assert SECRET not in page.content()
    screenshot("03-test-send-preview")
    page.click("#send-button")
    expect(page.locator("#result-status-code")).to_have_text("200")
    screenshot("04-test-send-result")
    ((received, _),) = httpserver.log
    assert json.loads(received.get_data())["body"] == "Hello from the browser"
    assert received.headers["X-Secret-Key"] == SECRET

    # 3. The history row: the request body as sent.
    page.click("#result-history-link")
    delivery = Delivery.objects.get()
    expect(page.locator(".request-body")).to_contain_text('"body": "Hello from the browser"')
    assert SECRET not in page.content()
    screenshot("05-history-detail")
    assert delivery.status == "success"

    # 4. Copy as cURL: the clipboard holds the command, secrets masked.
    page.click("#copy-curl")
    expect(page.locator("#copy-curl-status")).not_to_be_empty()
    clipboard = page.evaluate("navigator.clipboard.readText()")
    assert clipboard == page.locator("#curl-command").inner_text()
    assert clipboard.startswith(f"curl -X POST '{httpserver.url_for(SMS_PATH)}'")
    assert "-H 'X-Secret-Key: ••••••'" in clipboard
    assert SECRET not in clipboard
    screenshot("06-history-curl")

    # 5. Resend: a second delivery of the same request, recorded as resent by this staff user.
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    page.click("#resend-form button")
    expect(page.locator(".messagelist")).to_contain_text("esen")
    screenshot("07-resent")
    assert asked == ["Send this request to u-1001 again, as a new delivery?"]
    resent = Delivery.objects.exclude(pk=delivery.pk).get()
    assert (resent.source, resent.resent_from_id, resent.created_by.username) == ("resend", delivery.pk, "staff")
    assert resent.status == "success"
    first, second = (request for request, _ in httpserver.log)
    assert second.get_data() == first.get_data()
    page.goto("/admin/history/delivery/")
    expect(page.locator("#result_list tbody tr")).to_have_count(2)
    screenshot("08-history-list")
