"""The OpenAPI schema and the Swagger UI: served by the app itself, no CDN."""

import re

import pytest
import yaml
from django.contrib.auth import get_user_model
from django.test import Client

pytestmark = pytest.mark.django_db

EXPECTED_PATHS = {
    "/api/v1/users",
    "/api/v1/users/{user_id}",
    "/api/v1/webhooks",
    "/api/v1/webhooks/{id}",
    "/api/v1/webhooks/{id}/preview",
    "/api/v1/webhooks/{id}/test",
    "/api/v1/webhooks/{id}/send",
    "/api/v1/deliveries",
    "/api/v1/deliveries/{id}",
    "/api/v1/deliveries/{id}/resend",
}


@pytest.fixture
def staff_client() -> Client:
    staff = get_user_model().objects.create_user("staff", password="pw-not-used-0042", is_staff=True)
    client = Client()
    client.force_login(staff)
    return client


def _schema(response) -> dict:
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def test_schema_lists_every_v1_path(staff_client):
    schema = _schema(staff_client.get("/api/schema/"))

    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Webhook channel API"
    assert EXPECTED_PATHS <= set(schema["paths"])
    assert set(schema["paths"]["/api/v1/webhooks/{id}/send"]) >= {"post"}
    assert "202" in schema["paths"]["/api/v1/webhooks/{id}/send"]["post"]["responses"]
    assert set(schema["paths"]["/api/v1/deliveries/{id}/resend"]) >= {"post"}
    assert schema["components"]["schemas"]["Webhook"]["properties"]["rate_limit_per_second"] == {
        "type": "integer",
        "maximum": 1000,
        "minimum": 0,
        "nullable": True,
        "description": "Requests per second across all workers (a vendor contract), at most 1000; empty or 0 for no limit.",
    }


def test_schema_is_served_without_a_session():
    schema = _schema(Client().get("/api/schema/"))

    assert "/api/v1/webhooks/{id}/send" in schema["paths"]


def test_docs_page_is_self_hosted(staff_client):
    response = staff_client.get("/api/docs/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert "swagger" in html.lower()
    lowered = html.lower()
    for cdn in ("cdn", "unpkg", "jsdelivr", "cloudflare", "googleapis"):
        assert cdn not in lowered, cdn
    external = [url for url in re.findall(r"""https?://[^\s"'<>)]+""", html) if not url.startswith("http://testserver/")]
    assert external == []
    # The assets it loads are served by this app.
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    assert assets
    assert all(asset.startswith("/") for asset in assets), assets


def test_docs_page_without_a_session_is_also_self_hosted():
    response = Client().get("/api/docs/")

    assert response.status_code == 200
    lowered = response.content.decode().lower()
    assert "cdn" not in lowered
    assert "unpkg" not in lowered
    assert "jsdelivr" not in lowered


def test_schema_documents_the_bearer_api_key(staff_client):
    # DESIGN: "Authentication: Authorization: Bearer <project API key>". Without a security
    # scheme for it, Swagger UI has no Authorize button for keys and clients cannot see it.
    schema = _schema(staff_client.get("/api/schema/"))

    bearer = [
        name
        for name, scheme in schema["components"].get("securitySchemes", {}).items()
        if scheme.get("type") == "http" and scheme.get("scheme", "").lower() == "bearer"
    ]
    assert len(bearer) == 1, schema["components"].get("securitySchemes")
    for path in EXPECTED_PATHS:
        for method, operation in schema["paths"][path].items():
            assert {bearer[0]: []} in operation["security"], (path, method)


def test_schema_describes_the_delivery_list_as_a_cursor_page(staff_client):
    schema = _schema(staff_client.get("/api/schema/"))
    operation = schema["paths"]["/api/v1/deliveries"]["get"]

    response_schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    if "$ref" in response_schema:
        response_schema = schema["components"]["schemas"][response_schema["$ref"].rsplit("/", 1)[1]]
    assert response_schema.get("type") == "object", response_schema
    assert {"next", "previous", "results"} <= set(response_schema["properties"])
    assert {"cursor", "page_size"} <= {parameter["name"] for parameter in operation["parameters"]}


def test_schema_types_the_webhook_id_as_an_integer(staff_client):
    schema = _schema(staff_client.get("/api/schema/"))

    for path in (
        "/api/v1/webhooks/{id}",
        "/api/v1/webhooks/{id}/send",
        "/api/v1/webhooks/{id}/test",
        "/api/v1/webhooks/{id}/preview",
    ):
        for operation in schema["paths"][path].values():
            (parameter,) = [p for p in operation["parameters"] if p["in"] == "path"]
            assert parameter["schema"]["type"] == "integer", (path, parameter)
