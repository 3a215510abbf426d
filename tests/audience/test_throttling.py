"""Per-key throttling: each API key has its own budget; over it, 429 with Retry-After."""

from django.contrib.auth.models import User
from django.core.cache import cache
from rest_framework.test import APIClient

from flarelane.audience.models import EndUser
from flarelane.audience.services import api_key_issue


def _client(project) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_issue(project=project).plaintext}")
    return client


def test_a_key_over_its_rate_gets_429_with_retry_after(settings, project):
    settings.API_THROTTLE_RATE = "2/min"
    cache.clear()
    api = _client(project)

    statuses = [api.get("/api/v1/users").status_code for _ in range(2)]
    refused = api.put("/api/v1/users", [{"user_id": "u-1"}], format="json")

    assert statuses == [200, 200]
    assert refused.status_code == 429
    assert refused["Retry-After"] == "60"
    assert refused.json() == {"detail": "Request was throttled. Expected available in 60 seconds."}
    assert EndUser.objects.count() == 0  # the refused call did nothing


def test_a_key_over_a_lowered_rate_still_gets_retry_after(settings, project):
    settings.API_THROTTLE_RATE = "5/min"
    cache.clear()
    api = _client(project)
    assert [api.get("/api/v1/users").status_code for _ in range(4)] == [200, 200, 200, 200]
    settings.API_THROTTLE_RATE = "2/min"  # four requests counted, two allowed

    refused = api.get("/api/v1/users")

    assert refused.status_code == 429
    assert refused["Retry-After"] == "60"


def test_each_key_has_its_own_budget(settings, project, other_project):
    settings.API_THROTTLE_RATE = "1/min"
    cache.clear()
    first, second, elsewhere = _client(project), _client(project), _client(other_project)

    assert first.get("/api/v1/users").status_code == 200
    assert first.get("/api/v1/users").status_code == 429
    assert second.get("/api/v1/users").status_code == 200
    assert elsewhere.get("/api/v1/users").status_code == 200


def test_staff_sessions_have_their_own_scope(settings, project):
    settings.API_THROTTLE_RATE = "1/min"
    settings.API_STAFF_THROTTLE_RATE = "3/min"
    cache.clear()
    staff = APIClient()
    staff.force_login(User.objects.create_user("ops", password="x", is_staff=True))
    api = _client(project)

    assert api.get("/api/v1/users").status_code == 200
    assert [staff.get("/api/v1/users").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert api.get("/api/v1/users").status_code == 429


def test_unauthenticated_calls_are_refused_before_counting(settings, client, project):
    settings.API_THROTTLE_RATE = "1/min"
    cache.clear()

    assert [client.get("/api/v1/users").status_code for _ in range(3)] == [401, 401, 401]
    assert _client(project).get("/api/v1/users").status_code == 200
