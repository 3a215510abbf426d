"""Reads for projects, API keys and end users."""

import hmac

from django.db.models import QuerySet

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
