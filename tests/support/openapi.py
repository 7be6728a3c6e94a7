"""Walking our OpenAPI document, so a test covers every endpoint, including ones added later.

Tests that must hold for "every JSON endpoint", "every string field" or "every time in a
query" enumerate them from the document the app serves, not from a hand-written list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

FieldPath = tuple[str | int, ...]
_METHODS = ("get", "post", "put", "patch", "delete")


def api_document() -> dict[str, Any]:
    """The OpenAPI document of ``/api/schema``, built in process (no database needed)."""
    from drf_spectacular.generators import SchemaGenerator

    document: dict[str, Any] = SchemaGenerator().get_schema(request=None, public=True)
    return document


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # as in the document: /api/v1/alerts/{alert_id}
    body: dict[str, Any] | None  # the JSON request body's schema, $refs resolved
    query: tuple[dict[str, Any], ...]  # the query parameters

    @property
    def id(self) -> str:
        return f"{self.method.upper()} {self.path}"

    @property
    def path_parameters(self) -> dict[str, int]:
        """Every path parameter (all are ids here) set to 1."""
        return {name: 1 for name in re.findall(r"\{(\w+)\}", self.path)}

    @property
    def url(self) -> str:
        return re.sub(r"\{\w+\}", "1", self.path)


def operations(document: dict[str, Any]) -> list[Operation]:
    found = []
    for path, item in document["paths"].items():
        for method in _METHODS:
            if method not in item:
                continue
            definition = item[method]
            content = definition.get("requestBody", {}).get("content", {})
            body = content.get("application/json", {}).get("schema")
            query = tuple(p for p in definition.get("parameters", []) if p["in"] == "query")
            found.append(
                Operation(
                    method=method,
                    path=path,
                    body=resolve(document, body) if body is not None else None,
                    query=query,
                )
            )
    return found


def json_body_operations(document: dict[str, Any]) -> list[Operation]:
    """Operations that take a JSON request body."""
    return [op for op in operations(document) if op.body is not None]


def query_parameters(document: dict[str, Any], *, kind: str) -> list[tuple[Operation, str]]:
    """(operation, name) of every query parameter of ``kind``: ``date-time`` or ``integer``."""
    found = []
    for op in operations(document):
        for param in op.query:
            schema = param["schema"]
            kinds = {schema.get("format"), schema.get("type")}
            kinds |= {branch.get("type") for branch in schema.get("oneOf", [])}
            if kind in kinds:
                found.append((op, param["name"]))
    return found


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with ``$ref``, and ``allOf``/``oneOf``/``anyOf`` (first branch), followed."""
    while True:
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            schema = document["components"]["schemas"][name]
        elif any(key in schema for key in ("allOf", "oneOf", "anyOf")):
            branches = schema.get("allOf") or schema.get("oneOf") or schema.get("anyOf")
            schema = {**schema, **branches[0]}
            for key in ("allOf", "oneOf", "anyOf"):
                schema.pop(key, None)
        else:
            return schema


def fields(
    document: dict[str, Any], schema: dict[str, Any], prefix: FieldPath = ()
) -> list[tuple[FieldPath, dict[str, Any]]]:
    """Every leaf field of a request body: (path, schema); list items appear as index 0."""
    schema = resolve(document, schema)
    if schema.get("type") == "object" or "properties" in schema:
        found = []
        for name, inner in schema.get("properties", {}).items():
            found += fields(document, inner, (*prefix, name))
        return found
    if schema.get("type") == "array":
        return fields(document, schema.get("items", {}), (*prefix, 0))
    return [(prefix, schema)]


def string_fields(document: dict[str, Any], schema: dict[str, Any]) -> list[FieldPath]:
    return [path for path, inner in fields(document, schema) if inner.get("type") == "string"]


def nest(path: FieldPath, value: Any) -> Any:
    """A JSON value holding ``value`` at ``path``: ``nest(("a", 0), 1) == {"a": [1]}``."""
    for step in reversed(path):
        value = [value] if isinstance(step, int) else {step: value}
    return value


def field_name(path: FieldPath) -> str:
    return ".".join(str(step) for step in path)
