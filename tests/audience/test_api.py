"""The users API: PUT replaces, PATCH merges, read, list, delete; keys and projects."""

import pytest
from rest_framework.test import APIClient

from flarelane.audience.models import EndUser
from flarelane.audience.services import api_key_issue, end_user_put

pytestmark = pytest.mark.django_db

LONE_SURROGATE_MESSAGE = (
    "JSON parse error - strings may not contain a lone surrogate (\\ud800 to \\udfff); "
    "send the character itself, or both halves of its surrogate pair."
)
EMPTY_ATTRIBUTES = {"email": "", "phone_number": "", "name": "", "country": "", "language": "", "time_zone": ""}


def _without_times(body: dict) -> dict:
    assert set(body) >= {"created_at", "updated_at"}
    return {key: value for key, value in body.items() if key not in ("created_at", "updated_at")}


def test_put_creates_then_replaces_attributes_and_tags(api, project):
    first = api.put(
        "/api/v1/users/u-7",
        {"email": "minji@example.com", "name": "Minji", "tags": {"plan": "pro", "phone_number": "01012345678"}},
        format="json",
    )

    assert first.status_code == 201
    assert _without_times(first.json()) == {
        **EMPTY_ATTRIBUTES,
        "user_id": "u-7",
        "email": "minji@example.com",
        "name": "Minji",
        "tags": {"plan": "pro", "phone_number": "01012345678"},
    }

    second = api.put("/api/v1/users/u-7", {"country": "KR", "tags": {"vip": True}}, format="json")

    assert second.status_code == 200
    # Attributes not given are cleared and the tags are replaced whole.
    assert _without_times(second.json()) == {**EMPTY_ATTRIBUTES, "user_id": "u-7", "country": "KR", "tags": {"vip": True}}
    stored = EndUser.objects.get(project=project, user_id="u-7")
    assert (stored.email, stored.name, stored.country, stored.tags) == ("", "", "KR", {"vip": True})
    assert EndUser.objects.filter(project=project).count() == 1


def test_patch_merges_tags_and_null_deletes_a_tag(api, project):
    end_user_put(
        project=project,
        user_id="u-8",
        attributes={"name": "Minji", "email": "minji@example.com"},
        tags={"plan": "pro", "city": "Seoul", "score": 3},
    )

    response = api.patch(
        "/api/v1/users/u-8", {"name": "Minji Kim", "tags": {"city": None, "score": 4, "new": [1, 2]}}, format="json"
    )

    assert response.status_code == 200
    assert _without_times(response.json()) == {
        **EMPTY_ATTRIBUTES,
        "user_id": "u-8",
        "name": "Minji Kim",
        "email": "minji@example.com",  # not given, so kept
        "tags": {"plan": "pro", "score": 4, "new": [1, 2]},
    }
    assert EndUser.objects.get(project=project, user_id="u-8").tags == {"plan": "pro", "score": 4, "new": [1, 2]}


def test_patch_that_would_give_a_user_more_than_200_tags_is_400_and_saves_nothing(api, project):
    end_user_put(project=project, user_id="u-9", attributes={}, tags={f"t{n}": n for n in range(150)})

    response = api.patch("/api/v1/users/u-9", {"name": "Bo", "tags": {f"new{n}": n for n in range(60)}}, format="json")

    assert response.status_code == 400
    assert response.json() == {"tags": ["A user may have at most 200 tags; with these they would have 210."]}
    stored = EndUser.objects.get(project=project, user_id="u-9")
    assert (len(stored.tags), stored.name) == (150, "")


def test_an_email_or_time_zone_that_is_not_one_is_400_naming_it(api, project):
    response = api.put("/api/v1/users/u-10", {"email": "notanemail", "time_zone": "Mars/Olympus"}, format="json")
    fine = api.put("/api/v1/users/u-10", {"email": "minji@example.com", "time_zone": "Asia/Seoul"}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "email": ["Enter an email address such as minji@example.com, or leave it empty."],
        "time_zone": ["'Mars/Olympus' is not a time zone: use an IANA name such as Asia/Seoul or UTC, or leave it empty."],
    }
    assert fine.status_code in (200, 201)
    assert EndUser.objects.get(project=project, user_id="u-10").time_zone == "Asia/Seoul"


def test_patch_of_an_unknown_user_is_404_and_creates_nothing(api, project):
    response = api.patch("/api/v1/users/nobody", {"tags": {"a": 1}}, format="json")

    assert response.status_code == 404
    assert EndUser.objects.filter(project=project).count() == 0


def test_get_one_and_list(api, project):
    end_user_put(project=project, user_id="b-2", attributes={"name": "Bo"}, tags={"x": 1})
    end_user_put(project=project, user_id="a-1", attributes={}, tags={})

    one = api.get("/api/v1/users/b-2")
    listing = api.get("/api/v1/users")

    assert one.status_code == 200
    assert _without_times(one.json()) == {**EMPTY_ATTRIBUTES, "user_id": "b-2", "name": "Bo", "tags": {"x": 1}}
    assert listing.status_code == 200
    assert [_without_times(user) for user in listing.json()["results"]] == [
        {**EMPTY_ATTRIBUTES, "user_id": "a-1", "tags": {}},
        {**EMPTY_ATTRIBUTES, "user_id": "b-2", "name": "Bo", "tags": {"x": 1}},
    ]
    assert api.get("/api/v1/users/nobody").status_code == 404


def test_delete_removes_the_user(api, project):
    end_user_put(project=project, user_id="u-9", attributes={}, tags={})
    end_user_put(project=project, user_id="u-keep", attributes={}, tags={})

    response = api.delete("/api/v1/users/u-9")

    assert response.status_code == 204
    assert list(EndUser.objects.filter(project=project).values_list("user_id", flat=True)) == ["u-keep"]
    assert api.get("/api/v1/users/u-9").status_code == 404
    assert api.delete("/api/v1/users/u-9").status_code == 404


def test_no_key_is_401_and_nothing_is_written(project):
    client = APIClient()

    listing = client.get("/api/v1/users")
    put = client.put("/api/v1/users/u-1", {"tags": {}}, format="json")

    assert listing.status_code == 401
    assert listing.json() == {"detail": "Authentication credentials were not provided."}
    assert listing.headers["WWW-Authenticate"] == 'Bearer realm="api"'
    assert put.status_code == 401
    assert EndUser.objects.count() == 0


def test_wrong_key_is_401_with_a_message(project):
    real = api_key_issue(project=project).plaintext
    client = APIClient()

    for wrong in (real[:-1] + ("A" if real[-1] != "A" else "B"), "fl_00000000_nope", "not-a-key"):
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {wrong}")
        response = client.put("/api/v1/users/u-1", {"tags": {}}, format="json")
        assert response.status_code == 401, wrong
        assert response.json() == {"detail": "This API key is unknown or revoked."}

    client.credentials(HTTP_AUTHORIZATION="Bearer two parts")
    malformed = client.get("/api/v1/users")
    assert malformed.status_code == 401
    assert malformed.json() == {"detail": "Send the key as 'Authorization: Bearer <key>'."}
    assert EndUser.objects.count() == 0


def test_revoked_key_is_401(project):
    from django.utils import timezone

    issued = api_key_issue(project=project)
    issued.api_key.revoked_at = timezone.now()
    issued.api_key.save()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.plaintext}")

    response = client.get("/api/v1/users")

    assert response.status_code == 401
    assert response.json() == {"detail": "This API key is unknown or revoked."}


def test_a_key_sees_only_its_own_project(api, project, other_project):
    end_user_put(project=other_project, user_id="globex-user", attributes={"name": "G"}, tags={"a": 1})
    end_user_put(project=project, user_id="acme-user", attributes={}, tags={})

    assert api.get("/api/v1/users/globex-user").status_code == 404
    assert api.patch("/api/v1/users/globex-user", {"name": "hacked"}, format="json").status_code == 404
    assert api.delete("/api/v1/users/globex-user").status_code == 404
    assert [user["user_id"] for user in api.get("/api/v1/users").json()["results"]] == ["acme-user"]

    # PUT with the same user id makes a separate user in the key's own project.
    assert api.put("/api/v1/users/globex-user", {"tags": {"mine": True}}, format="json").status_code == 201
    theirs = EndUser.objects.get(project=other_project, user_id="globex-user")
    assert (theirs.name, theirs.tags) == ("G", {"a": 1})
    assert EndUser.objects.get(project=project, user_id="globex-user").tags == {"mine": True}


def test_users_come_in_cursor_pages(api, project):
    from flarelane.audience.services import end_user_put

    for n in range(5):
        end_user_put(project=project, user_id=f"p-{n}", attributes={}, tags={})

    first = api.get("/api/v1/users", {"page_size": 2}).json()
    second = api.get(first["next"]).json()
    third = api.get(second["next"]).json()

    pages = [[u["user_id"] for u in page["results"]] for page in (first, second, third)]
    assert pages == [["p-0", "p-1"], ["p-2", "p-3"], ["p-4"]]
    assert third["next"] is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"tags": {"a": 1e999}}', "JSON parse error - The number 1e999 is too large."),
        ('{"tags": {"a": "x\\u0000y"}}', "JSON parse error - strings may not contain the NUL character (\\u0000)."),
        ('{"tags": {"a": "\\udfff"}}', LONE_SURROGATE_MESSAGE),
        ('{"tags": {"a": ["ok", {"b": "x\\ud800y"}]}}', LONE_SURROGATE_MESSAGE),
        ('{"tags": {"\\ud83d": "a key is checked too"}}', LONE_SURROGATE_MESSAGE),
    ],
)
def test_json_the_database_would_refuse_is_a_400(api, body, message):
    response = api.generic("PUT", "/api/v1/users/u-1", body, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {"detail": message}
    assert EndUser.objects.count() == 0


def test_a_surrogate_pair_is_one_character_and_is_kept(api, project):
    response = api.generic("PUT", "/api/v1/users/u-1", '{"tags": {"mood": "\\ud83d\\ude00"}}', content_type="application/json")

    assert response.status_code == 201
    assert EndUser.objects.get(project=project, user_id="u-1").tags == {"mood": "\U0001f600"}


def _tags_nested(levels: int) -> str:
    """A PUT body nested `levels` deep: the body, tags, then arrays inside each other."""
    return '{"tags": {"a": ' + "[" * (levels - 2) + "]" * (levels - 2) + "}}"


TOO_DEEP_MESSAGE = "JSON parse error - the document is nested more than 32 levels deep (objects and arrays inside each other)."


@pytest.mark.parametrize("levels", [33, 900, 100_000])
def test_json_nested_too_deep_is_a_400(api, levels):
    response = api.generic("PUT", "/api/v1/users/u-1", _tags_nested(levels), content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {"detail": TOO_DEEP_MESSAGE}
    assert EndUser.objects.count() == 0


def test_json_nested_32_levels_is_kept(api, project):
    response = api.generic("PUT", "/api/v1/users/u-1", _tags_nested(32), content_type="application/json")

    assert response.status_code == 201
    expected: list = []
    for _ in range(29):
        expected = [expected]
    assert EndUser.objects.get(project=project, user_id="u-1").tags == {"a": expected}


def test_a_user_id_with_a_control_character_is_refused(api):
    response = api.put("/api/v1/users/%00bad", {"tags": {}}, format="json")

    assert response.status_code == 400
    assert response.json() == {"user_id": ["A user id is 1 to 255 characters, without control characters."]}
