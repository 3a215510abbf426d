"""API authentication: a project API key (`Authorization: Bearer ...`) or a staff session.

Either way the request ends up with `request.project`, the only project its views may see.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from flarelane.audience.models import ApiKey, Project
from flarelane.audience.selectors import api_key_find_active, project_default_for_staff
from flarelane.audience.services import api_key_touch

if TYPE_CHECKING:
    from rest_framework.views import APIView


@dataclass(frozen=True)
class ApiKeyPrincipal:
    """Stands in for `request.user` when a project API key authenticated the call."""

    api_key: ApiKey
    is_authenticated: bool = True
    is_staff: bool = False

    @property
    def project(self) -> Project:
        return self.api_key.project


class ProjectApiKeyAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request: Request) -> tuple[ApiKeyPrincipal, ApiKey] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Send the key as 'Authorization: Bearer <key>'.")
        api_key = api_key_find_active(plaintext=parts[1].decode("latin-1"))
        if api_key is None:
            raise exceptions.AuthenticationFailed("This API key is unknown or revoked.")
        api_key_touch(api_key=api_key)
        return ApiKeyPrincipal(api_key=api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


def request_project(request: HttpRequest | Request) -> Project | None:
    """The project a request acts in: the key's, or for staff the `?project=` slug or the first."""
    user: Any = getattr(request, "user", None)
    if isinstance(user, ApiKeyPrincipal):
        return user.project
    if user is not None and user.is_authenticated and user.is_staff:
        slug = request.GET.get("project") if hasattr(request, "GET") else None
        if slug:
            return Project.objects.filter(slug=slug).first()
        return project_default_for_staff()
    return None


class IsProjectMember(BasePermission):
    message = "Authenticate with a project API key (Authorization: Bearer <key>) or a staff session."

    def has_permission(self, request: Request, view: "APIView") -> bool:
        project = request_project(request)
        if project is None:
            return False
        request.project = project  # type: ignore[attr-defined]
        return True
