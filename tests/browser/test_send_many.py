"""Send to many users in a real browser: a tag's audience from the console, the progress row
updating itself while the send runs (no reload), and Cancel."""

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect
from pytest_httpserver import HTTPServer

from channels_webhook import sending
from channels_webhook.models import Webhook
from channels_webhook.services import HeaderInput, webhook_create
from flarelane.audience.services import end_user_put, project_get_or_create
from history.models import Delivery, SendBatch
from tests.browser.conftest import login


def _webhook_and_users(url: str, plans: dict[str, str]) -> Webhook:
    project = project_get_or_create(slug="demo", name="Demo")
    for user_id, plan in plans.items():
        end_user_put(project=project, user_id=user_id, attributes={}, tags={"plan": plan})
    get_user_model().objects.create_superuser("staff", "staff@example.com", "pw-staff-1")
    return webhook_create(
        project=project,
        values={"name": "Coupon", "method": "POST", "url": url, "body_type": "json", "body": '{"user": "{{ userId }}"}'},
        headers=[HeaderInput(name="Content-Type", value="application/json")],
    )


@pytest.mark.django_db(transaction=True)
def test_send_to_a_tag_value_and_watch_the_progress_fill_in_without_a_reload(page, screenshot, httpserver: HTTPServer):
    httpserver.expect_request("/coupon").respond_with_json({"ok": True})
    webhook = _webhook_and_users(httpserver.url_for("/coupon"), {"a": "pro", "b": "free", "c": "pro"})
    login(page, "staff", "pw-staff-1")

    page.goto(f"/admin/channels_webhook/webhook/{webhook.pk}/send-many/")
    expect(page.locator("#send-many-row-tag")).to_be_hidden()  # "These users" is chosen first
    page.check("input[name=recipients][value=tag]")
    expect(page.locator("#send-many-row-user_ids")).to_be_hidden()
    page.fill("#id_tag", "plan")
    page.fill("#id_equals", "pro")
    screenshot("20-send-many-tag")
    page.click("#send-many-submit")  # no cluster runs: the send waits in the queue

    row = page.locator("tr.send-progress")
    expect(row.locator(".send-done")).to_have_text("0 of 2")
    send = SendBatch.objects.get()
    assert send.audience == {"tag": "plan", "equals": "pro"}
    sending.fan_out(batch_id=send.pk)
    for delivery_id in Delivery.objects.values_list("pk", flat=True):
        sending.deliver(delivery_id=delivery_id)

    expect(row.locator(".send-done")).to_have_text("2 of 2")  # the page asked again by itself
    expect(row.locator(".send-success")).to_have_text("2")
    expect(row.locator(".send-cancel")).to_have_count(0)
    screenshot("21-send-many-progress")
    assert sorted(request.get_json()["user"] for request, _ in httpserver.log) == ["a", "c"]


@pytest.mark.django_db(transaction=True)
def test_cancel_a_send_from_its_progress_row(page, httpserver: HTTPServer):
    webhook = _webhook_and_users(httpserver.url_for("/coupon"), {"a": "pro", "b": "free"})
    login(page, "staff", "pw-staff-1")
    page.goto(f"/admin/channels_webhook/webhook/{webhook.pk}/send-many/")
    page.check("input[name=recipients][value=all]")
    page.click("#send-many-submit")

    page.once("dialog", lambda dialog: dialog.dismiss())  # changed their mind: nothing happens
    page.click("tr.send-progress .send-cancel")
    assert SendBatch.objects.get().cancelled_at is None
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    page.click("tr.send-progress .send-cancel")

    expect(page.locator(".messagelist")).to_contain_text("Cancelled the send")
    assert asked == ["Cancel this send? Deliveries not yet sent end as cancelled; this cannot be undone."]
    expect(page.locator("tr.send-progress .send-state")).to_have_text("Cancelled")
    assert SendBatch.objects.get().cancelled_at is not None
    assert sending.fan_out(batch_id=SendBatch.objects.get().pk) == 0
    assert httpserver.log == []


@pytest.mark.django_db(transaction=True)
def test_a_send_started_elsewhere_appears_on_an_open_webhook_page(page, httpserver: HTTPServer):
    httpserver.expect_request("/coupon").respond_with_json({"ok": True})
    webhook = _webhook_and_users(httpserver.url_for("/coupon"), {"a": "pro", "b": "pro"})
    login(page, "staff", "pw-staff-1")
    page.goto(f"/admin/channels_webhook/webhook/{webhook.pk}/change/")
    expect(page.locator("#send-progress-none")).to_be_visible()

    sending.send_to_users(webhook=webhook, user_ids=["a", "b"], data={}, source="api")  # as the API would

    row = page.locator("tr.send-progress")
    expect(row.locator(".send-done")).to_have_text("0 of 2", timeout=15_000)  # within one idle poll
    expect(row.locator(".send-cancel")).to_have_count(1)
    expect(page.locator("#send-progress-none")).to_be_hidden()
    for delivery_id in Delivery.objects.values_list("pk", flat=True):
        sending.deliver(delivery_id=delivery_id)
    expect(row.locator(".send-done")).to_have_text("2 of 2")
    expect(row.locator(".send-cancel")).to_have_count(0)
