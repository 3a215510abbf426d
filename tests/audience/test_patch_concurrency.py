"""PATCH /users/{id} at the same time from many clients: every tag each one adds is kept.

Real threads, each with its own database connection, against a committed database."""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from flarelane.audience.models import EndUser
from flarelane.audience.services import api_key_issue, end_user_put

PATCHES = 32


@pytest.mark.django_db(transaction=True)
def test_parallel_patches_each_adding_a_tag_keep_every_tag(project):
    end_user_put(project=project, user_id="u-1", attributes={"name": "Minji"}, tags={"plan": "pro"})
    key = api_key_issue(project=project).plaintext
    start = threading.Barrier(PATCHES)
    statuses: list[int] = []

    def patch(index: int) -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        try:
            start.wait()
            response = client.patch("/api/v1/users/u-1", {"tags": {f"t{index}": index}}, format="json")
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=patch, args=(index,)) for index in range(PATCHES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [200] * PATCHES
    stored = EndUser.objects.get(project=project, user_id="u-1")
    assert stored.tags == {"plan": "pro", **{f"t{index}": index for index in range(PATCHES)}}
    assert stored.name == "Minji"
    assert EndUser.objects.count() == 1


@pytest.mark.django_db
def test_a_patch_of_a_user_deleted_meanwhile_is_404_and_does_not_bring_it_back(api, project, monkeypatch):
    end_user_put(project=project, user_id="u-1", attributes={}, tags={})
    from flarelane.audience import api as users_api

    original = users_api.end_user_patch

    def deleted_first(**kwargs):
        EndUser.objects.filter(pk=kwargs["end_user"].pk).delete()  # another call's DELETE, between read and write
        return original(**kwargs)

    monkeypatch.setattr(users_api, "end_user_patch", deleted_first)

    response = api.patch("/api/v1/users/u-1", {"tags": {"a": 1}}, format="json")

    assert response.status_code == 404
    assert EndUser.objects.count() == 0
