"""`make run` starts and stays up: 50 fresh starts of the launcher, and not one dies.

The embedded default's first broker, kombu's ``filesystem://`` transport, let the worker
read a message file its writer had created but not yet written: the worker died of a
``JSONDecodeError`` and the launcher stopped everything ("celery exited; stopping the
rest") — within ~25 s in about one start of three. Each start here is what a newcomer
does: a fresh ``var/``, ``python -m cryptotrack.launcher`` (what ``make run`` runs), the
demo user signs in and starts tracking, and the launcher is then held for HOLD_SECONDS
while the tracking status is read every second. A start passes when the launcher is
still running at the end and the worker kept polling the user through the broker.

Why these numbers (figures in docs/architecture.md, "The embedded default's broker"):
the old failure is a race per message, so what exposes it is messages passed, not
wall time. Tracking every 3 s puts a poll task beside the dispatcher's 1 s tick, and
CONCURRENT launchers run side by side to keep the whole under a few minutes.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.processes import Launcher

pytestmark = pytest.mark.slow

STARTS = 50
CONCURRENT = 3
# A start on the loaded 2-core machine took up to ~65 s; a start is not what is measured.
START_TIMEOUT_SECONDS = 240
HOLD_SECONDS = 15
# A poll task every 3 s beside the dispatcher's tick each second: the race is per message.
# Not faster: a poll task expires after one interval (positions/dispatch.py), and under
# load a 1 s interval let most of them expire before the worker took them.
SPEED_UP = {"TRACKING_INTERVAL_SECONDS": "3"}
DEMO = {"username": "demo", "password": "demo-tracker-2026"}


@dataclass(frozen=True)
class Outcome:
    start: int
    ok: bool
    detail: str = ""
    log_tail: str = ""


def _hold(launcher: Launcher) -> str:
    """Track the demo user for HOLD_SECONDS; what went wrong, or "" when nothing did."""
    with httpx.Client(base_url=launcher.url, timeout=15) as client:
        access = client.post("/api/v1/auth/token", json=DEMO).raise_for_status().json()["access"]
        client.headers["Authorization"] = f"Bearer {access}"
        client.post("/api/v1/tracking", json={}).raise_for_status()
        held_from = time.monotonic()
        polls: set[str] = set()
        while (held := time.monotonic() - held_from) < HOLD_SECONDS:
            if not launcher.alive():
                return f"make run exited {held:.0f} s after it answered"
            status = client.get("/api/v1/tracking").raise_for_status().json()
            if status["last_success_at"]:
                polls.add(status["last_success_at"])
            time.sleep(1)
    # A poll every 3 s: a worker that stopped consuming shows no new one. (How many come in
    # 15 s depends on the machine's load, not on the broker: two prove it delivers.)
    if len(polls) < 2:
        return f"tracking stalled: {len(polls)} successful poll(s) seen in {HOLD_SECONDS} s"
    return ""


def _one_start(start: int) -> Outcome:
    var_dir = Path(tempfile.mkdtemp(prefix=f"soak-{start}-"))
    launcher = Launcher(var_dir, **SPEED_UP)
    try:
        launcher.start(timeout=START_TIMEOUT_SECONDS)
        problem = _hold(launcher)
    except (AssertionError, httpx.HTTPError) as exc:
        problem = f"{type(exc).__name__}: {str(exc)[:300]}"
    finally:
        launcher.stop(timeout=30)
    log_tail = "" if not problem else launcher.log()[-4000:]
    shutil.rmtree(var_dir, ignore_errors=True)
    launcher.log_path.unlink(missing_ok=True)
    return Outcome(start, not problem, problem, log_tail)


def test_make_run_stays_up_in_50_fresh_starts_of_50() -> None:
    with ThreadPoolExecutor(max_workers=CONCURRENT) as pool:
        outcomes = list(pool.map(_one_start, range(1, STARTS + 1)))

    failed = [o for o in outcomes if not o.ok]
    report = "\n\n".join(f"start {o.start}: {o.detail}\n{o.log_tail}" for o in failed[:3])
    assert not failed, (
        f"{len(failed)} of {STARTS} starts failed: "
        f"{[(o.start, o.detail) for o in failed]}\n\n{report}"
    )
