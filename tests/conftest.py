"""Shared fixtures: projects, keys, users and webhooks made through the services, a real
receiver on loopback (pytest-httpserver), and a switch that runs queued tasks in-process."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from channels_webhook import sending
from channels_webhook.models import Webhook
from channels_webhook.services import HeaderInput, webhook_create
from flarelane.audience.models import EndUser, Project
from flarelane.audience.services import api_key_issue, end_user_put, project_get_or_create

# Playwright's sync API runs an event loop in the test thread; the ORM calls made by
# browser tests are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

SMS_BODY = (
    '{"body": "{{ text }}", "sendNo": "15446859", '
    '"recipientList": [{"recipientNo": "{{ tags.phone_number }}", "countryCode": "82"}]}'
)
SECRET_KEY_VALUE = "sk-live-very-secret-4242"


@pytest.fixture(autouse=True)
def _loopback_receivers_allowed(settings: Any) -> None:
    # The test receivers listen on loopback, which the SSRF guard refuses by default.
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32", "::1/128"]
    cache.clear()
    # What the sender learnt about a receiver's speed is kept by webhook id, and ids come
    # round again when each test's transaction is rolled back.
    sending._receiver_speeds.clear()
    # The sender threads are made once per process with WEBHOOK_SEND_CONCURRENCY as it was
    # then; a test that sets it must get a pool of that size, not one an earlier test made.
    if sending._sender_pool is not None:
        sending._sender_pool.shutdown(wait=False)
        sending._sender_pool = None


@pytest.fixture
def project(db: None) -> Project:
    return project_get_or_create(slug="acme", name="Acme")


@pytest.fixture
def other_project(db: None) -> Project:
    return project_get_or_create(slug="globex", name="Globex")


@pytest.fixture
def api(project: Project) -> APIClient:
    """An API client authenticated with a key of `project`."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_issue(project=project).plaintext}")
    return client


@pytest.fixture
def end_user(project: Project) -> EndUser:
    user, _ = end_user_put(
        project=project, user_id="u-1001", attributes={"name": "Minji Kim"}, tags={"phone_number": "01012345678"}
    )
    return user


@pytest.fixture
def make_webhook(project: Project) -> Callable[..., Webhook]:
    def make(url: str, *, body: str = SMS_BODY, headers: list[HeaderInput] | None = None, **values: Any) -> Webhook:
        return webhook_create(
            project=values.pop("project", project),
            values={
                "name": values.pop("name", "Third-party SMS"),
                "method": "POST",
                "url": url,
                "body_type": "json",
                "body": body,
                **values,
            },
            headers=headers
            if headers is not None
            else [
                HeaderInput(name="Content-Type", value="application/json;charset=UTF-8"),
                HeaderInput(name="X-Secret-Key", value=SECRET_KEY_VALUE, secret=True),
            ],
        )

    return make


@pytest.fixture
def run_tasks_inline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Queued tasks run at once, in this process (django-q2's sync mode).

    A pytest-django test runs inside a transaction that never commits, so on_commit
    callbacks are run as they are registered; the rollback case has its own test without
    this fixture.
    """
    from django.db import transaction
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)
    monkeypatch.setattr(transaction, "on_commit", lambda func, using=None, robust=False: func())
