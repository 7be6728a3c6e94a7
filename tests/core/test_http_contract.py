"""The HTTP conventions every endpoint keeps: JSON errors, the schema, the docs, health."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_unknown_api_path_is_json_404(api_client: APIClient) -> None:
    response = api_client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "not_found"


def test_wrong_method_is_json_405(user_client: APIClient) -> None:
    response = user_client.delete("/api/v1/me")
    assert response.status_code == 405
    assert response.json() == {
        "detail": 'Method "DELETE" not allowed.',
        "code": "method_not_allowed",
    }


def test_schema_documents_every_api_path_and_its_errors(api_client: APIClient) -> None:
    response = api_client.get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    paths = schema["paths"]
    for path in [
        "/api/v1/auth/signup",
        "/api/v1/auth/token",
        "/api/v1/auth/token/refresh",
        "/api/v1/auth/logout",
        "/api/v1/me",
        "/api/v1/me/kucoin",
        "/api/v1/me/api-keys",
        "/api/v1/me/api-keys/{key_id}",
    ]:
        assert path in paths, path
    me = paths["/api/v1/me"]["get"]["responses"]
    assert {"200", "401", "429"} <= set(me)
    assert "WWW-Authenticate" in me["401"]["headers"]
    assert "Retry-After" in me["429"]["headers"]
    assert {"400", "409"} <= set(paths["/api/v1/auth/signup"]["post"]["responses"])
    assert "409" not in me
    assert "Error" in schema["components"]["schemas"]


def test_schema_builds_without_a_warning_and_validates(tmp_path: Any) -> None:
    # A warning here once hid four request bodies documented as the signup body.
    command = ["spectacular", "--fail-on-warn", "--validate", "--file", str(tmp_path / "s.yaml")]
    done = subprocess.run(
        [sys.executable, "-m", "cryptotrack", *command],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]


def test_schema_documents_the_api_key_on_reads_only(api_client: APIClient) -> None:
    schema = api_client.get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert schema["components"]["securitySchemes"]["apiKeyAuth"]["name"] == "X-API-Key"
    for operations in schema["paths"].values():
        for method, operation in operations.items():
            schemes = {
                name for requirement in operation.get("security", []) for name in requirement
            }
            if "jwtAuth" in schemes:
                assert ("apiKeyAuth" in schemes) == (method == "get"), operation["operationId"]


def test_swagger_ui_is_served_with_local_assets(api_client: APIClient) -> None:
    page = api_client.get("/docs")
    assert page.status_code == 200
    html = page.content.decode()
    assert "swagger-ui" in html
    assert "cdn." not in html
    assert "unpkg" not in html
    asset = api_client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert asset.status_code == 200


def test_healthz_and_readyz(api_client: APIClient) -> None:
    assert api_client.get("/healthz").json() == {"status": "ok"}
    ready = api_client.get("/readyz")
    assert ready.status_code == 200, ready.json()
    assert ready.json()["checks"]["database"] == "ok"
    assert ready.json()["checks"]["cache"] == "ok"


def test_pagination_rejects_bad_parameters(user_client: APIClient) -> None:
    for query in [
        "per_page=0",
        "per_page=101",
        "per_page=abc",
        "page=0",
        "page=-1",
        "per_page=all",
    ]:
        response = user_client.get(f"/api/v1/me/api-keys?{query}")
        assert response.status_code == 400, query
        assert response.json()["errors"], query


def test_page_past_the_end_is_empty(user_client: APIClient) -> None:
    for n in range(3):
        user_client.post("/api/v1/me/api-keys", {"name": f"k{n}"}, format="json")
    body = user_client.get("/api/v1/me/api-keys?per_page=2&page=5").json()
    assert body == {"count": 3, "total_pages": 2, "page": 5, "per_page": 2, "results": []}
    first = user_client.get("/api/v1/me/api-keys?per_page=2").json()
    assert [row["name"] for row in first["results"]] == ["k2", "k1"]


def test_a_page_beyond_any_database_offset_is_empty_not_500(user_client: APIClient) -> None:
    # Found by schemathesis: OFFSET past 2^63 was an error in PostgreSQL.
    user_client.post("/api/v1/me/api-keys", {"name": "k"}, format="json")
    for path in ("/api/v1/me/api-keys", "/api/v1/positions/history", "/api/v1/quotes"):
        response = user_client.get(f"{path}?per_page=83&page=10228585130697271296")
        assert response.status_code == 200, (path, response.content)
        assert response.json()["results"] == []


def test_admin_login_page_renders(client: Any) -> None:
    assert client.get("/admin/login/").status_code == 200


def test_an_integrity_error_a_service_did_not_expect_is_a_409_not_a_500() -> None:
    from django.db import IntegrityError

    from cryptotrack.core.errors import exception_handler

    response = exception_handler(IntegrityError("duplicate key value violates unique"), {})

    assert response is not None
    assert response.status_code == 409
    assert response.data == {
        "detail": "This conflicts with a change made at the same time; try again.",
        "code": "conflict",
    }
