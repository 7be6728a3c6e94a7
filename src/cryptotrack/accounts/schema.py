"""How the OpenAPI schema describes our two ways to authenticate.

drf-spectacular finds these extensions by subclassing; ``AccountsConfig.ready`` imports
this module so they are registered before any schema is built.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.permissions import SAFE_METHODS


class JwtScheme(OpenApiAuthenticationExtension):
    """``Authorization: Bearer <access>`` (the ``JWT`` prefix works too, said in words:
    OpenAPI's bearer scheme has room for one prefix only)."""

    target_class = "rest_framework_simplejwt.authentication.JWTAuthentication"
    match_subclasses = True  # our CachedUserJWTAuthentication
    name = "jwtAuth"
    priority = 1  # over drf-spectacular's own, which warns about the second prefix

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "An access token from POST /api/v1/auth/token, as "
            "`Authorization: Bearer <access>` (or `JWT <access>`).",
        }


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """``X-API-Key: <personal key>``: accepted on reads only, so listed on reads only."""

    target_class = "cryptotrack.accounts.authentication.ApiKeyAuthentication"
    name = "apiKeyAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "X-API-Key",
            "description": "A personal API key from POST /api/v1/me/api-keys; read-only "
            "(GET): a write with it answers 403.",
        }

    def get_security_requirement(
        self, auto_schema: Any
    ) -> dict[str, list[Any]] | list[dict[str, list[Any]]]:
        if auto_schema.method.upper() not in SAFE_METHODS:
            return []  # no requirement added: writes take a JWT only
        return {self.name: []}
