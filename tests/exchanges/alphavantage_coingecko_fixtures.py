"""Helpers for the Alpha Vantage and CoinGecko tests: the recorded samples and a replay server.

The replay server answers, in order, a scripted list of raw responses (the last one repeats)
over a real socket, so a client sees the exact bytes of a recorded sample.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from cryptotrack.simulators.serving import BackgroundServer
from tests.fixtures import UPSTREAM_SAMPLES

SAMPLES = UPSTREAM_SAMPLES


def sample_bytes(name: str) -> bytes:
    """The exact bytes of ``<name>.json`` in the recorded samples (tests/fixtures/upstream)."""
    return (SAMPLES / f"{name}.json").read_bytes()


def sample_json(name: str) -> Any:
    """``<name>.json`` decoded with plain ``json``."""
    return json.loads(sample_bytes(name))


@dataclass(frozen=True)
class Canned:
    """One scripted answer."""

    body: bytes
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


@dataclass
class Replay:
    """A running replay server: ``url`` to call, ``requests`` seen (path and query)."""

    url: str
    requests: list[dict[str, Any]]


@contextmanager
def replay_server(answers: Sequence[Canned]) -> Iterator[Replay]:
    """Serve ``answers`` in order on every path (the last one repeats), recording requests."""
    seen: list[dict[str, Any]] = []

    async def handler(request: web.Request) -> web.Response:
        canned = answers[min(len(seen), len(answers) - 1)]
        seen.append(
            {"path": request.path, "query": dict(request.query), "headers": dict(request.headers)}
        )
        response = web.Response(body=canned.body, status=canned.status, headers=canned.headers)
        response.content_type = canned.content_type
        return response

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handler)
    with BackgroundServer(app, name="replay") as server:
        yield Replay(url=server.url, requests=seen)
