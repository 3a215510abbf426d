"""A real django-q2 worker process (not sync mode) delivers a send made through the API."""

import json
import time

import pytest
from pytest_httpserver import HTTPServer

from history.models import Delivery
from tests.qcluster import running_qcluster

SMS_PATH = "/sms/v3.0/appKeys/demo/sender/sms"


@pytest.mark.django_db(transaction=True)
def test_send_through_the_api_is_delivered_by_a_qcluster_worker(httpserver: HTTPServer, make_webhook, end_user, api, tmp_path):
    httpserver.expect_request(SMS_PATH, method="POST").respond_with_json({"header": {"isSuccessful": True}})
    webhook = make_webhook(httpserver.url_for(SMS_PATH))

    with running_qcluster(tmp_path / "qcluster.log") as cluster:
        response = api.post(
            f"/api/v1/webhooks/{webhook.pk}/send", {"user_ids": ["u-1001"], "data": {"text": "Hello"}}, format="json"
        )
        assert response.status_code == 202
        (delivery_id,) = response.json()["delivery_ids"]
        deadline = time.monotonic() + 60
        delivery = Delivery.objects.get(pk=delivery_id)
        while delivery.status not in Delivery.FINAL_STATUSES and time.monotonic() < deadline and cluster.poll() is None:
            time.sleep(0.2)
            delivery.refresh_from_db()

    assert delivery.status == Delivery.Status.SUCCESS, (tmp_path / "qcluster.log").read_text()[-3000:]
    assert delivery.response_status_code == 200
    assert delivery.source == Delivery.Source.API
    assert len(httpserver.log) == 1
    assert json.loads(httpserver.log[0][0].get_data())["body"] == "Hello"
