"""A real django-q2 worker process (not sync mode) delivers a send made through the API."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.db import connection
from pytest_httpserver import HTTPServer

from history.models import Delivery

SMS_PATH = "/sms/v3.0/appKeys/demo/sender/sms"
ROOT = Path(__file__).resolve().parent.parent


def _test_database_url() -> str:
    """DATABASE_URL of the database this test runs on, for another process to open."""
    name = connection.settings_dict["NAME"]
    if connection.vendor == "sqlite":
        return f"sqlite:///{name}"
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path=f"/{name}"))


def _purge_broker() -> None:
    from django_q.brokers import get_broker

    get_broker().purge_queue()


@pytest.mark.django_db(transaction=True)
def test_send_through_the_api_is_delivered_by_a_qcluster_worker(httpserver: HTTPServer, make_webhook, end_user, api, tmp_path):
    httpserver.expect_request(SMS_PATH, method="POST").respond_with_json({"header": {"isSuccessful": True}})
    webhook = make_webhook(httpserver.url_for(SMS_PATH))
    _purge_broker()
    env = {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        "WEBHOOK_ALLOWED_NETWORKS": ",".join(settings.WEBHOOK_ALLOWED_NETWORKS),
        "Q_WORKERS": "1",
    }
    log = (tmp_path / "qcluster.log").open("w")
    worker = subprocess.Popen([sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        response = api.post(f"/api/v1/webhooks/{webhook.pk}/send", {"user_ids": ["u-1001"], "data": {"text": "Hello"}}, format="json")
        assert response.status_code == 202
        (delivery_id,) = response.json()["delivery_ids"]
        deadline = time.monotonic() + 60
        delivery = Delivery.objects.get(pk=delivery_id)
        while delivery.status not in Delivery.FINAL_STATUSES and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.2)
            delivery.refresh_from_db()
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()

    assert delivery.status == Delivery.Status.SUCCESS, (tmp_path / "qcluster.log").read_text()[-3000:]
    assert delivery.response_status_code == 200
    assert delivery.source == Delivery.Source.API
    assert len(httpserver.log) == 1
    assert json.loads(httpserver.log[0][0].get_data())["body"] == "Hello"
