"""Scripted scenarios of the KuCoin simulator: a position's story told step by step.

``POST /_sim/scenarios`` starts one on a key's open position; it runs in the simulator's
event loop, one step every ``step_seconds``::

    {"name": "walk_to_liquidation", "api_key": "...", "symbol": "XBTUSDTM",
     "steps": 10, "step_seconds": 1, "approach": 0.95, "hold": 0, "back": true}
        the mark price walks from where it is toward the position's liquidation price
        (``approach``: the fraction of the way it goes, 0-1), stays there ``hold`` more
        steps, then (``back``) walks back to where it started in as many steps;
    {"name": "partial_close", ..., "fraction": 0.5, "steps": 1}
        closes ``fraction`` of the position's contracts (rounded down, at least one, never
        all of them), in ``steps`` equal parts, at the mark;
    {"name": "flip", ..., "step_seconds": 1}
        one step: closes the position at the mark and opens the same size on the other
        side, with the same leverage and margin mode.

The answer and ``GET /_sim/scenarios`` show ``{id, name, api_key, symbol, state,
step, steps, step_seconds, error}``; ``state`` is ``running``, ``finished``, ``stopped``
or ``failed`` (the position went away meanwhile: ``error`` says so). ``DELETE
/_sim/scenarios/{id}`` stops one, ``DELETE /_sim/scenarios`` every one. A simulator
reset forgets them.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any

from aiohttp import web

from cryptotrack.simulators.control import json_handler, parse_decimal, require
from cryptotrack.simulators.kucoin.contracts import contract_for, on_tick
from cryptotrack.simulators.kucoin.keys import SimPosition
from cryptotrack.simulators.kucoin.state import SimulatorState

Step = Callable[[], None]
MAX_STEPS = 1000
MAX_STEP_SECONDS = 3600.0


@dataclass
class Scenario:
    id: int
    name: str
    api_key: str
    symbol: str
    step_seconds: float
    plan: list[Step]
    step: int = 0
    state: str = "running"
    error: str | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "api_key": self.api_key,
            "symbol": self.symbol,
            "state": self.state,
            "step": self.step,
            "steps": len(self.plan),
            "step_seconds": self.step_seconds,
            "error": self.error,
        }


def _number(body: dict[str, Any], name: str, default: str, low: Decimal, high: Decimal) -> Decimal:
    """``body[name]`` (or ``default``) as a finite number in ``[low, high]``."""
    value = parse_decimal(body.get(name, default), name)
    if not value.is_finite() or not low <= value <= high:
        raise ValueError(f"{name} must be a number from {low} to {high}")
    return value


def _steps(body: dict[str, Any], default: int) -> int:
    value = body.get("steps", default)
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise ValueError(f"steps must be a whole number from 1 to {MAX_STEPS}")
    if not 1 <= int(value) <= MAX_STEPS:
        raise ValueError(f"steps must be a whole number from 1 to {MAX_STEPS}")
    return int(value)


def _walk_to_liquidation(
    state: SimulatorState, api_key: str, position: SimPosition, body: dict[str, Any]
) -> list[Step]:
    steps = _steps(body, 10)
    approach = _number(body, "approach", "0.95", Decimal("0.01"), Decimal(1))
    hold = int(_number(body, "hold", "0", Decimal(0), Decimal(MAX_STEPS)))
    back = body.get("back", True)
    if not isinstance(back, bool):
        raise ValueError("back must be true or false")
    symbol = position.symbol
    payload = state.position_payload(state.key(api_key), symbol, single=True)
    liquidation = Decimal(str(payload["liquidationPrice"]))
    start = state.mark_price(symbol)
    tick = contract_for(symbol).tick_size

    def price(i: int) -> Decimal:
        raw = start + (liquidation - start) * approach * i / steps
        return max(Decimal(str(on_tick(raw, tick))), tick)

    walk = [price(i) for i in range(1, steps + 1)]
    walk += [walk[-1]] * hold
    if back:
        walk += [price(i) for i in range(steps - 1, -1, -1)]
    return [_set_mark(state, symbol, p) for p in walk]


def _set_mark(state: SimulatorState, symbol: str, price: Decimal) -> Step:
    return lambda: state.set_mark_price(symbol, price)


def _partial_close(
    state: SimulatorState, api_key: str, position: SimPosition, body: dict[str, Any]
) -> list[Step]:
    steps = _steps(body, 1)
    fraction = _number(body, "fraction", "0.5", Decimal("0.000001"), Decimal("0.999999"))
    size = abs(position.qty)
    to_close = max((size * fraction).to_integral_value(ROUND_DOWN), Decimal(1))
    if to_close >= size:
        raise ValueError(f"a position of {size} contracts cannot be partly closed")
    sizes = [size - (to_close * i / steps).to_integral_value(ROUND_DOWN) for i in range(1, steps)]
    sizes.append(size - to_close)
    return [_resize(state, api_key, position.symbol, s) for s in sizes]


def _resize(state: SimulatorState, api_key: str, symbol: str, size: Decimal) -> Step:
    def resize() -> None:
        state.resize_position(api_key, symbol, size=size)

    return resize


def _flip(
    state: SimulatorState, api_key: str, position: SimPosition, body: dict[str, Any]
) -> list[Step]:
    symbol = position.symbol

    def flip() -> None:
        with state.lock:
            current = state.key(api_key).positions.get(symbol)
            if current is None:
                raise KeyError(f"no position in {symbol}")
            state.close_position(api_key, symbol)
            state.open_position(
                api_key,
                symbol,
                side="short" if current.qty > 0 else "long",
                size=abs(current.qty),
                leverage=current.leverage,
                margin_mode=current.margin_mode,
            )

    return [flip]


Planner = Callable[[SimulatorState, str, SimPosition, dict[str, Any]], list[Step]]
PLANS: dict[str, Planner] = {
    "walk_to_liquidation": _walk_to_liquidation,
    "partial_close": _partial_close,
    "flip": _flip,
}


class ScenarioBook:
    """The scenarios of one simulator: started from the control API, run as tasks of its
    event loop."""

    def __init__(self, state: SimulatorState) -> None:
        self.state = state
        self.scenarios: dict[int, Scenario] = {}
        self._ids = itertools.count(1)

    def start(self, body: dict[str, Any]) -> Scenario:
        """Plan a scenario from a ``POST /_sim/scenarios`` body and start it (ValueError:
        a bad body; LookupError: no such key or position)."""
        name = str(require(body, "name"))
        if name not in PLANS:
            raise ValueError(f"unknown scenario {name!r}; known: {sorted(PLANS)}")
        api_key, symbol = str(require(body, "api_key")), str(require(body, "symbol"))
        step_seconds = float(
            _number(body, "step_seconds", "1", Decimal("0.01"), Decimal(MAX_STEP_SECONDS))
        )
        with self.state.lock:
            position = self.state.key(api_key).positions.get(symbol)
            if position is None:
                raise LookupError(f"{api_key} holds no position in {symbol}")
            plan = PLANS[name](self.state, api_key, position, body)
        scenario = Scenario(next(self._ids), name, api_key, symbol, step_seconds, plan)
        scenario.task = asyncio.get_running_loop().create_task(self._run(scenario))
        self.scenarios[scenario.id] = scenario
        return scenario

    async def _run(self, scenario: Scenario) -> None:
        try:
            for step in scenario.plan:
                await asyncio.sleep(scenario.step_seconds)
                if scenario.state != "running":
                    return  # stopped from another thread, before its cancel arrived
                step()
                scenario.step += 1
            scenario.state = "finished"
        except Exception as exc:
            scenario.state, scenario.error = "failed", f"{type(exc).__name__}: {exc}"

    def stop(self, scenario_id: int) -> Scenario:
        """Stop a running scenario (from the loop, or from another thread: a reset)."""
        scenario = self.scenarios[scenario_id]
        task = scenario.task
        if task is not None and not task.done():
            scenario.state = "stopped"
            loop = task.get_loop()
            if _running_loop() is loop:
                task.cancel()
            else:
                loop.call_soon_threadsafe(task.cancel)
        return scenario

    def stop_all(self) -> None:
        for scenario_id in list(self.scenarios):
            self.stop(scenario_id)

    def reset(self) -> None:
        self.stop_all()
        self.scenarios.clear()

    async def cleanup_ctx(self, app: web.Application) -> AsyncIterator[None]:
        """Stops every scenario when the simulator's application shuts down."""
        yield
        self.stop_all()
        tasks = [s.task for s in self.scenarios.values() if s.task is not None]
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def add_scenario_routes(app: web.Application, book: ScenarioBook, *, prefix: str) -> None:
    def scenarios(body: dict[str, Any], request: web.Request) -> Any:
        if request.method == "POST":
            return book.start(body).summary()
        if request.method == "DELETE":
            book.stop_all()
            return None
        return [s.summary() for s in book.scenarios.values()]

    def one(body: dict[str, Any], request: web.Request) -> Any:
        try:
            scenario_id = int(request.match_info["scenario_id"])
        except ValueError:
            raise LookupError(request.match_info["scenario_id"]) from None
        if request.method == "DELETE":
            return book.stop(scenario_id).summary()
        return book.scenarios[scenario_id].summary()

    handler = json_handler(scenarios)
    for method in ("GET", "POST", "DELETE"):
        app.router.add_route(method, f"{prefix}/scenarios", handler)
    app.router.add_get(f"{prefix}/scenarios/{{scenario_id}}", json_handler(one))
    app.router.add_delete(f"{prefix}/scenarios/{{scenario_id}}", json_handler(one))
    app.cleanup_ctx.append(book.cleanup_ctx)
