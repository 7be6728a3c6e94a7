"""The shared simulator plumbing: background server, faults (global and scoped), control API."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from aiohttp import web

from cryptotrack.simulators.control import ControlClient, ControlClientError
from cryptotrack.simulators.counting import RequestCounter
from cryptotrack.simulators.faults import Fault, FaultInjector, add_fault_routes
from cryptotrack.simulators.serving import BackgroundServer


def _make_app(injector: FaultInjector, counter: RequestCounter) -> web.Application:
    async def hello(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    def scope_of(request: web.Request) -> str | None:
        return request.headers.get("X-Key")

    app = web.Application(
        middlewares=[counter.middleware(scope_of=scope_of), injector.middleware(scope_of=scope_of)]
    )
    app.router.add_get("/hello", hello)
    app.router.add_get("/other", hello)
    add_fault_routes(app, injector)
    return app


@pytest.fixture
def served():
    injector, counter = FaultInjector(), RequestCounter()
    with BackgroundServer(_make_app(injector, counter), name="test-sim") as server:
        yield server, injector, counter


def test_background_server_binds_a_free_port_and_stops(served):
    server, _, _ = served
    assert server.port > 0
    assert httpx.get(server.url + "/hello").json() == {"ok": True}
    url = server.url
    server.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/hello", timeout=1)


def test_scoped_error_fault_hits_only_that_scope(served):
    server, injector, _ = served
    injector.inject("error", status=502, scope="bad")
    assert httpx.get(server.url + "/hello", headers={"X-Key": "bad"}).status_code == 502
    assert httpx.get(server.url + "/hello", headers={"X-Key": "good"}).status_code == 200
    assert httpx.get(server.url + "/hello").status_code == 200


def test_global_malformed_fault_and_times_limit(served):
    server, injector, _ = served
    injector.inject("malformed", times=1)
    first = httpx.get(server.url + "/hello")
    assert first.status_code == 200
    with pytest.raises(ValueError, match=r"Unterminated|Expecting"):
        first.json()
    assert httpx.get(server.url + "/hello").json() == {"ok": True}
    assert injector.list() == []


def test_latency_fault_delays_only_matching_path(served):
    server, injector, _ = served
    injector.inject("latency", latency=1.5, path="/other")
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=1) as pool:
        other = pool.submit(httpx.get, server.url + "/other", timeout=10)
        # /hello is answered while /other is still held, in less than the 1.5 s it would
        # be held itself (the margin for a loaded machine: unheld, it takes milliseconds).
        hello_started = time.monotonic()
        assert httpx.get(server.url + "/hello", timeout=10).status_code == 200
        assert time.monotonic() - hello_started < 1.5
        assert not other.done()
        assert other.result().status_code == 200
    assert time.monotonic() - started >= 1.5


def test_drop_fault_closes_the_connection_without_an_answer(served):
    server, injector, _ = served
    injector.inject("drop")
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(server.url + "/hello")


def test_control_api_adds_lists_and_clears_faults(served):
    server, injector, counter = served
    with ControlClient(server.url) as control:
        fault = control.inject_fault("error", status=500, scope="k1")
        assert [f["id"] for f in control.get("/faults")] == [fault["id"]]
        assert httpx.get(server.url + "/hello", headers={"X-Key": "k1"}).status_code == 500
        control.inject_fault("drop", scope="k2")
        assert control.clear_faults(scope="k1") == 1
        assert [f.scope for f in injector.list()] == ["k2"]
        assert control.clear_faults() == 1
        with pytest.raises(ControlClientError) as excinfo:
            control.inject_fault("explode")  # type: ignore[arg-type]
        assert excinfo.value.status == 400
        with pytest.raises(ControlClientError) as excinfo:
            control.delete("/faults/999999")
        assert excinfo.value.status == 404
    # control calls are not counted; the two /hello calls are
    assert counter.count() == 1
    assert counter.count(scope="k1", path="/hello") == 1


def test_fault_validation_rejects_nonsense():
    with pytest.raises(ValueError, match="4xx/5xx"):
        Fault("error", status=200)
    with pytest.raises(ValueError, match="colour"):
        Fault.from_json({"kind": "drop", "colour": "red"})
    with pytest.raises(ValueError, match="latency"):
        Fault("latency", latency=-1)
