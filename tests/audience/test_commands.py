"""`manage.py create_api_key`: makes the project if needed and prints a working key last."""

from io import StringIO

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from flarelane.audience.models import ApiKey, EndUser, Project
from flarelane.audience.services import project_get_or_create

pytestmark = pytest.mark.django_db


def _create_key(*args: str) -> str:
    stdout, stderr = StringIO(), StringIO()
    call_command("create_api_key", *args, stdout=stdout, stderr=stderr)
    return stdout.getvalue().strip().splitlines()[-1]


def test_creates_the_project_and_the_last_line_is_a_working_key():
    assert not Project.objects.filter(slug="newslug").exists()

    key = _create_key("--project", "newslug")

    project = Project.objects.get(slug="newslug")
    assert project.name == "newslug"
    (api_key,) = ApiKey.objects.filter(project=project)
    assert api_key.revoked_at is None
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    response = client.put("/api/v1/users/u-1", {"name": "Minji"}, format="json")
    assert response.status_code == 201
    assert EndUser.objects.get(user_id="u-1").project_id == project.pk
    assert client.get("/api/v1/users").json()["results"][0]["user_id"] == "u-1"


def test_only_a_hash_of_the_key_is_stored():
    key = _create_key("--project", "newslug", "--name", "ci")

    api_key = ApiKey.objects.get(project__slug="newslug")
    assert api_key.name == "ci"
    assert api_key.secret_hash == ApiKey.hash_secret(key)
    assert len(api_key.secret_hash) == 64
    stored_values = [str(value) for value in ApiKey.objects.filter(pk=api_key.pk).values().get().values()]
    assert key not in stored_values
    assert all(key not in value for value in stored_values)
    secret_part = key.split("_", 2)[2]
    assert all(secret_part not in value for value in stored_values)


def test_an_existing_project_gets_another_key_and_both_work():
    project = project_get_or_create(slug="acme", name="Acme")
    first = _create_key("--project", "acme")
    second = _create_key("--project", "acme")

    assert first != second
    assert Project.objects.filter(slug="acme").count() == 1
    assert Project.objects.get(slug="acme").name == "Acme"
    assert ApiKey.objects.filter(project=project).count() == 2
    for key in (first, second):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        assert client.get("/api/v1/users").status_code == 200
