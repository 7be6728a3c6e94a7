"""Every API path answers the same with one trailing slash (a route, not a redirect)."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest
from django.urls import resolve
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

METHODS = {"get", "post", "put", "patch", "delete"}


def _schema(client: APIClient) -> dict[str, Any]:
    response = client.get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema: dict[str, Any] = response.json()
    return schema


def test_every_documented_path_resolves_to_the_same_view_with_a_slash(
    api_client: APIClient,
) -> None:
    paths = [re.sub(r"\{[^}]+\}", "1", path) for path in _schema(api_client)["paths"]]
    assert len(paths) > 10

    for path in [*paths, "/api/schema", "/healthz", "/readyz"]:
        with_slash = resolve(f"{path}/")
        assert with_slash.func == resolve(path).func, path
        assert with_slash.kwargs == resolve(path).kwargs, path


def test_schema_lists_each_operation_once(api_client: APIClient) -> None:
    schema = _schema(api_client)

    assert not [path for path in schema["paths"] if path.endswith("/")]
    operation_ids = Counter(
        operation["operationId"]
        for item in schema["paths"].values()
        for method, operation in item.items()
        if method in METHODS
    )
    assert [name for name, count in operation_ids.items() if count > 1] == []


def test_get_positions_with_a_slash_is_get_positions(user_client: APIClient) -> None:
    without = user_client.get("/api/v1/positions")
    with_slash = user_client.get("/api/v1/positions/")

    assert with_slash.status_code == without.status_code == 200
    assert with_slash.json() == without.json()


def test_sign_in_with_a_slash(api_client: APIClient, user: Any) -> None:
    payload = {"username": user.username, "password": "correct-horse-battery-42"}
    assert api_client.post("/api/v1/auth/token/", payload, format="json").status_code == 200


@pytest.mark.parametrize(("path", "target"), [("/docs/", "/docs"), ("/rates/live/", "/rates/live")])
def test_pages_with_a_slash_lead_to_the_page(api_client: APIClient, path: str, target: str) -> None:
    response = api_client.get(path)

    assert response.status_code in {301, 302}
    assert response["Location"] == target
    assert api_client.get(target).status_code == 200
