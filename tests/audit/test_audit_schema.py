"""The OpenAPI document shows the audit log and the password change with their errors."""

from __future__ import annotations

from typing import Any

from tests.support.openapi import api_document


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        resolved: dict[str, Any] = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
        return resolved
    return node


def test_audit_list_documents_its_filter_envelope_and_errors() -> None:
    schema = api_document()
    listing = schema["paths"]["/api/v1/me/audit"]["get"]

    assert {"200", "400", "401", "429"} <= set(listing["responses"])
    parameters = {p["name"]: p for p in listing["parameters"]}
    assert {"kind", "page", "per_page"} <= set(parameters)
    assert "password_changed" in parameters["kind"]["schema"]["enum"]
    envelope = _resolve(
        schema, listing["responses"]["200"]["content"]["application/json"]["schema"]
    )
    event = _resolve(schema, envelope["properties"]["results"]["items"])
    assert list(event["properties"]) == ["id", "kind", "at", "ip_address", "user_agent", "details"]


def test_password_change_documents_its_body_and_answers() -> None:
    schema = api_document()
    change = schema["paths"]["/api/v1/me/password"]["post"]

    assert {"204", "400", "401", "403", "429"} <= set(change["responses"])
    body = _resolve(schema, change["requestBody"]["content"]["application/json"]["schema"])
    assert set(body["required"]) == {"current_password", "new_password"}
