"""PUT /api/v1/users: up to 1,000 users per call, each created or replaced whole, all or none."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from flarelane.audience.models import EndUser
from flarelane.audience.services import end_user_put


def test_batch_creates_new_users_and_replaces_existing_ones_whole(api, project):
    old, _ = end_user_put(
        project=project, user_id="u-1", attributes={"name": "Old", "email": "old@example.com"}, tags={"plan": "free", "x": 1}
    )

    response = api.put(
        "/api/v1/users",
        [
            {"user_id": "u-1", "name": "Minji", "tags": {"plan": "pro"}},
            {"user_id": "u-2", "email": "b@example.com", "phone_number": "01012345678", "tags": {"vip": True, "n": 3}},
            {"user_id": "u-3"},
        ],
        format="json",
    )

    assert response.status_code == 200
    assert response.json() == {"created": 2, "replaced": 1}
    users = {u.user_id: u for u in EndUser.objects.filter(project=project)}
    assert sorted(users) == ["u-1", "u-2", "u-3"]
    replaced = users["u-1"]
    assert (replaced.pk, replaced.name, replaced.email, replaced.tags) == (old.pk, "Minji", "", {"plan": "pro"})
    assert replaced.created_at == old.created_at
    assert replaced.updated_at > old.updated_at
    assert (users["u-2"].email, users["u-2"].phone_number, users["u-2"].tags) == (
        "b@example.com",
        "01012345678",
        {"vip": True, "n": 3},
    )
    assert (users["u-3"].name, users["u-3"].tags) == ("", {})


def test_batch_of_a_thousand_users_takes_a_bounded_number_of_queries(api, project):
    end_user_put(project=project, user_id="u-0000", attributes={}, tags={})
    users = [{"user_id": f"u-{i:04d}", "name": f"User {i}", "tags": {"i": i}} for i in range(1000)]

    with CaptureQueriesContext(connection) as queries:
        response = api.put("/api/v1/users", users, format="json")

    assert response.status_code == 200
    assert response.json() == {"created": 999, "replaced": 1}
    assert EndUser.objects.filter(project=project).count() == 1000
    assert EndUser.objects.get(project=project, user_id="u-0999").tags == {"i": 999}
    # One lookup and one upsert per database batch (SQLite caps parameters per statement),
    # plus authentication: nowhere near one query per user.
    user_queries = [q["sql"] for q in queries.captured_queries if "audience_enduser" in q["sql"]]
    assert user_queries[0].startswith("SELECT")
    assert all(sql.startswith("INSERT") and "ON CONFLICT" in sql for sql in user_queries[1:])
    assert len(queries) <= 20


def test_batch_leaves_another_projects_user_of_the_same_id_alone(api, project, other_project):
    theirs, _ = end_user_put(project=other_project, user_id="u-1", attributes={"name": "Theirs"}, tags={"k": "v"})

    response = api.put("/api/v1/users", [{"user_id": "u-1", "name": "Ours"}], format="json")

    assert response.json() == {"created": 1, "replaced": 0}
    theirs.refresh_from_db()
    assert (theirs.name, theirs.tags) == ("Theirs", {"k": "v"})
    assert EndUser.objects.get(project=project, user_id="u-1").name == "Ours"


def test_batch_with_bad_items_is_400_naming_each_and_writes_nothing(api, project):
    response = api.put(
        "/api/v1/users",
        [
            {"user_id": "ok-1", "name": "Fine"},
            {"name": "No id"},
            {"user_id": "ok-2", "tags": ["not", "an", "object"]},
            "not an object",
            {"user_id": "x" * 256},
        ],
        format="json",
    )

    assert response.status_code == 400
    problems = response.json()["users"]
    assert [(p["index"], p["user_id"], sorted(p["errors"])) for p in problems] == [
        (1, None, ["user_id"]),
        (2, "ok-2", ["tags"]),
        (3, None, ["non_field_errors"]),
        (4, "x" * 256, ["user_id"]),
    ]
    assert problems[0]["errors"]["user_id"] == ["This field is required."]
    assert problems[3]["errors"]["user_id"] == ["Ensure this field has no more than 255 characters."]
    assert EndUser.objects.count() == 0


def test_batch_naming_a_user_twice_is_400_pointing_at_both_items(api, project):
    response = api.put("/api/v1/users", [{"user_id": "a"}, {"user_id": "b"}, {"user_id": "a", "name": "again"}], format="json")

    assert response.status_code == 400
    assert response.json() == {
        "users": [
            {
                "index": 2,
                "user_id": "a",
                "errors": {"user_id": ["User 'a' is already item 0 of this call; send each user once."]},
            }
        ]
    }
    assert EndUser.objects.count() == 0


def test_batch_over_a_thousand_users_is_refused_with_how_to_fix_it(api, project):
    response = api.put("/api/v1/users", [{"user_id": f"u-{i}"} for i in range(1001)], format="json")

    assert response.status_code == 400
    assert response.json() == {"users": ["At most 1000 users per call; this call has 1001. Split it into smaller calls."]}
    assert EndUser.objects.count() == 0


def test_batch_body_that_is_not_a_list_of_users_is_400(api, project):
    for body in ({"user_id": "u-1"}, []):
        response = api.put("/api/v1/users", body, format="json")

        assert response.status_code == 400
        assert response.json() == {"users": ["Send a JSON list of 1 to 1000 users, each {user_id, attributes, tags}."]}
    assert EndUser.objects.count() == 0


def test_batch_needs_authentication(client, project):
    response = client.put("/api/v1/users", [{"user_id": "u-1"}], content_type="application/json")

    assert response.status_code == 401
    assert EndUser.objects.count() == 0
