"""Tells drf-spectacular how the API authenticates, so Swagger UI offers a key field."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ProjectApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "flarelane.audience.authentication.ProjectApiKeyAuthentication"
    name = "projectApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A project API key: `manage.py create_api_key --project SLUG`.",
        }
