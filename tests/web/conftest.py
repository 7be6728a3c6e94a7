"""The web app in real headless Chromium against `make run`'s whole service (the launcher
on the embedded default: SQLite, no Redis, in-process channel layer, the simulators, a
real Celery worker and beat), one per test module.

``trader`` signs a new user up through the API with a fresh simulator KuCoin key (the demo
portfolio: two futures positions whose mark prices move); ``signed_in`` is a page whose
browser signed that user in through the sign-in form.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from tests.support.browser import chromium
from tests.support.processes import Launcher

pytestmark = pytest.mark.slow

TRACKING_INTERVAL_SECONDS = 2
PASSWORD = "browser-tests-2026!"


@dataclass(frozen=True)
class Stack:
    url: str
    var_dir: Path

    def simulator_url(self) -> str:
        return (self.var_dir / "kucoin-simulator.url").read_text(encoding="utf-8").strip()


@dataclass(frozen=True)
class Trader:
    username: str
    password: str
    access: str  # a JWT for setting things up through the API
    api_key: str = ""  # its simulator KuCoin key (drive it with /_sim/keys/<api_key>/...)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    var_dir = tmp_path_factory.mktemp("web-var")
    launcher = Launcher(
        var_dir,
        TRACKING_INTERVAL_SECONDS=str(TRACKING_INTERVAL_SECONDS),
        # Every test signs in from 127.0.0.1: the per-IP sign-in/up throttles would count
        # the whole module as one client.
        THROTTLE_LOGIN="1000/min",
        THROTTLE_SIGNUP="1000/min",
    ).start(timeout=120)
    try:
        yield Stack(url=launcher.url, var_dir=var_dir)
    finally:
        launcher.stop(timeout=30)


def simulator_key(stack: Stack) -> dict[str, str]:
    """A new KuCoin key with the demo portfolio, registered with the stack's simulator."""
    key = {
        "api_key": secrets.token_hex(12),
        "api_secret": secrets.token_urlsafe(24),
        "api_passphrase": secrets.token_urlsafe(12),
    }
    answer = httpx.post(f"{stack.simulator_url()}/_sim/keys", json={**key, "demo": True})
    answer.raise_for_status()
    return key


def sign_up(stack: Stack, *, kucoin: bool = True, email: bool = False) -> Trader:
    """A new user (``email``: with an address, which alerts need), signed up via the API."""
    username = f"trader{secrets.token_hex(4)}"
    body: dict[str, Any] = {"name": "Browser Trader", "username": username, "password": PASSWORD}
    if email:
        body["email"] = f"{username}@example.com"
    if kucoin:
        body["kucoin"] = simulator_key(stack)
    created = httpx.post(f"{stack.url}/api/v1/auth/signup", json=body, timeout=10)
    assert created.status_code == 201, created.text
    tokens = httpx.post(
        f"{stack.url}/api/v1/auth/token", json={"username": username, "password": PASSWORD}
    ).json()
    api_key = body["kucoin"]["api_key"] if kucoin else ""
    return Trader(username=username, password=PASSWORD, access=tokens["access"], api_key=api_key)


@pytest.fixture
def trader(stack: Stack) -> Trader:
    return sign_up(stack)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (no cookies); fails the test on a script error or a
    Content-Security-Policy refusal on any page it opened."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on(
        "console",
        lambda msg: (
            problems.append(f"console: {msg.text}")
            if msg.type == "error" and "Content Security Policy" in msg.text
            else None
        ),
    )
    try:
        yield page
    finally:
        context.close()
    assert not problems, "\n".join(problems)


def sign_in(page: Any, stack: Stack, trader: Trader, *, next_path: str = "") -> None:
    """Sign in through the form, as a trader would."""
    from playwright.sync_api import expect

    page.goto(f"{stack.url}/" + (f"?{urlencode({'next': next_path})}" if next_path else ""))
    page.get_by_label("Username").fill(trader.username)
    page.get_by_label("Password").fill(trader.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


@pytest.fixture
def signed_in(page: Any, stack: Stack, trader: Trader) -> Any:
    sign_in(page, stack, trader)
    return page
