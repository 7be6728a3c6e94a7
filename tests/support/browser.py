"""Real headless Chromium (Debian's package, never a download) driven by Playwright, with
an axe-core accessibility check and screenshots kept as test artefacts."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import REPO

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
# axe-core's impact levels that fail a page (minor and moderate ones are reported only).
FAILING_IMPACTS = {"serious", "critical"}


def require_chromium() -> None:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.fail("Debian's chromium is missing: `apt-get install chromium` (make test does)")


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium for the duration of the block."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def accessibility_violations(page: Any) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now, one line each."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(node["target"][0] for node in v["nodes"][:5])
        for v in results.response["violations"]
        if v.get("impact") in FAILING_IMPACTS
    ]


def assert_accessible(page: Any) -> None:
    violations = accessibility_violations(page)
    assert not violations, f"axe on {page.url}:\n" + "\n".join(violations)


def screenshot(page: Any, name: str) -> Path:
    """Save the whole page as test-artifacts/screenshots/<name>.png (kept after the run)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^a-z0-9-]+', '-', name.lower())}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
