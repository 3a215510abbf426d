"""The console's user pages write through the same services and rules as the API."""

import json

import pytest

from flarelane.audience.models import EndUser
from flarelane.audience.services import end_user_put

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/audience/enduser/add/"


def _form(project, **values):
    form = {
        "project": project.pk,
        "user_id": "u-7",
        "email": "",
        "phone_number": "",
        "name": "",
        "country": "",
        "language": "",
        "time_zone": "",
        "tags": "{}",
    }
    form.update(values)
    return form


def test_adding_a_user_in_the_console_stores_attributes_and_tags(admin_client, project):
    response = admin_client.post(ADD_URL, _form(project, name="Mina", tags=json.dumps({"phone_number": "010", "vip": True})))

    assert response.status_code == 302
    user = EndUser.objects.get(project=project, user_id="u-7")
    assert (user.name, user.tags) == ("Mina", {"phone_number": "010", "vip": True})


def test_tags_that_are_not_an_object_are_refused_with_a_sentence(admin_client, project):
    response = admin_client.post(ADD_URL, _form(project, tags='["vip"]'))

    assert response.status_code == 200
    assert "Tags must be a JSON object of names and values" in response.content.decode()
    assert not EndUser.objects.filter(user_id="u-7").exists()


def test_a_tag_name_over_128_characters_is_refused_as_the_api_refuses_it(admin_client, project):
    response = admin_client.post(ADD_URL, _form(project, tags=json.dumps({"x" * 129: 1})))

    assert "Tag names must be 1 to 128 characters." in response.content.decode()
    assert not EndUser.objects.filter(user_id="u-7").exists()


def test_editing_keeps_the_user_id_and_replaces_attributes_and_tags(admin_client, project):
    user, _ = end_user_put(project=project, user_id="u-8", attributes={"name": "Old", "email": "a@example.com"}, tags={"a": 1})
    url = f"/admin/audience/enduser/{user.pk}/change/"

    page = admin_client.get(url).content.decode()
    assert 'name="user_id"' not in page  # read-only once created: it is the other system's key
    response = admin_client.post(url, _form(project, user_id="renamed", name="New", tags=json.dumps({"b": 2})))

    assert response.status_code == 302
    assert list(EndUser.objects.values_list("user_id", "name", "email", "tags")) == [("u-8", "New", "", {"b": 2})]


def test_deleting_a_user_in_the_console(admin_client, project):
    user, _ = end_user_put(project=project, user_id="u-9", attributes={}, tags={})

    response = admin_client.post(f"/admin/audience/enduser/{user.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not EndUser.objects.filter(pk=user.pk).exists()


def test_an_email_or_time_zone_that_is_not_one_is_refused_as_the_api_refuses_it(admin_client, project):
    response = admin_client.post(ADD_URL, _form(project, email="notanemail", time_zone="Mars/Olympus"))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "email": ["Enter an email address such as minji@example.com, or leave it empty."],
        "time_zone": ["'Mars/Olympus' is not a time zone: use an IANA name such as Asia/Seoul or UTC, or leave it empty."],
    }
    assert not EndUser.objects.filter(user_id="u-7").exists()
