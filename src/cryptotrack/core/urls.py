"""API routes that answer with or without one trailing slash.

Clients of the original apps call ``…/alerts/``; a redirect would lose a POST's body, so
each route gets a twin with the slash that runs the same view. The twin has no name
(``reverse`` gives the canonical path) and the schema leaves it out, so every operation
is documented once.
"""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, path


def slash_optional(patterns: list[URLPattern]) -> list[URLPattern]:
    """``patterns`` plus, for each, the same route with one trailing slash."""
    twins = [
        path(f"{pattern.pattern}/", pattern.callback, kwargs=pattern.default_args)
        for pattern in patterns
        if not str(pattern.pattern).endswith("/")
    ]
    return [*patterns, *twins]


def drop_slash_twins(endpoints: list[tuple[Any, ...]], **kwargs: Any) -> list[tuple[Any, ...]]:
    """drf-spectacular preprocessing hook: leave out the twins ``slash_optional`` adds."""
    paths = {endpoint[0] for endpoint in endpoints}
    return [
        endpoint
        for endpoint in endpoints
        if not (endpoint[0].endswith("/") and endpoint[0][:-1] in paths)
    ]
