"""Reads for projects, API keys and end users."""

import hmac
from typing import Any

from django.db.models import Q, QuerySet

from flarelane.audience.models import ApiKey, EndUser, Project


def api_key_find_active(*, plaintext: str) -> ApiKey | None:
    parts = plaintext.split("_")
    if len(parts) < 3 or parts[0] != "fl":
        return None
    api_key = ApiKey.objects.select_related("project").filter(prefix=parts[1], revoked_at__isnull=True).first()
    if api_key is None:
        return None
    if not hmac.compare_digest(api_key.secret_hash, ApiKey.hash_secret(plaintext)):
        return None
    return api_key


def end_user_list(*, project: Project) -> QuerySet[EndUser]:
    return EndUser.objects.filter(project=project).order_by("user_id")


def end_user_get(*, project: Project, user_id: str) -> EndUser | None:
    return EndUser.objects.filter(project=project, user_id=user_id).first()


def end_users_by_user_ids(*, project: Project, user_ids: list[str]) -> dict[str, EndUser]:
    return {u.user_id: u for u in EndUser.objects.filter(project=project, user_id__in=user_ids)}


def project_default_for_staff() -> Project | None:
    """The project a staff session works in when it does not name one: the first."""
    return Project.objects.order_by("id").first()


def end_user_search(*, project: Project, query: str, limit: int) -> list[EndUser]:
    """Users of a project whose user id, email or name contains `query`, an exact user id first.

    An empty query lists the first users by id, so a picker has something to offer at once.
    """
    users = EndUser.objects.filter(project=project).order_by("user_id")
    query = query.strip()
    if not query:
        return list(users[:limit])
    found = list(users.filter(Q(user_id__icontains=query) | Q(email__icontains=query) | Q(name__icontains=query))[:limit])
    # The exact id a person pasted is what they want, whatever sorts before it.
    exact = [user for user in found if user.user_id == query]
    if not exact:
        exact = list(users.filter(user_id=query)[:1])
    return (exact + [user for user in found if user.user_id != query])[:limit]


def _audience_filter(audience: dict[str, Any]) -> Q:
    """{"all": true} or {"tag": "plan", "equals": "pro"} as a filter on users."""
    if audience.get("all") is True:
        return Q()
    return Q(**{f"tags__{audience['tag']}": audience["equals"]})


def audience_count(*, project: Project, audience: dict[str, Any]) -> int:
    return EndUser.objects.filter(Q(project=project) & _audience_filter(audience)).count()


def audience_page(*, project: Project, audience: dict[str, Any], after_pk: int, limit: int) -> list[tuple[int, str]]:
    """The next users of an audience in pk order, as (pk, user_id): all a delivery needs."""
    users = EndUser.objects.filter(Q(project=project) & _audience_filter(audience), pk__gt=after_pk)
    return list(users.order_by("pk").values_list("pk", "user_id")[:limit])
