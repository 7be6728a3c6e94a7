"""`make run` starts and stays up: 12 starts of the launcher, and not one dies.

Each start is what a newcomer does: ``python -m cryptotrack.launcher`` (what ``make run``
runs), the demo user signs in and starts tracking, and the launcher is then held for
HOLD_SECONDS while the tracking status is read every second. A start passes when the
launcher is still running at the end and the worker kept polling the user through the
broker. Each start gets a ``var/`` of its own holding only the database and generated keys
of a first start on an empty ``var/`` (the ``first_run_var`` fixture: what a fresh clone
does) — a new broker file, new simulators, new processes — i.e. `make run` run again.

Why 12 starts (figures in docs/architecture.md, "The embedded default's broker"). The soak
was written against kombu's ``filesystem://`` broker, whose worker read half-written
message files and died in about one start of three; 50 starts made that race certain to
show. The broker is now a SQLite file where a message is a row written in one transaction
(core/sqlite_broker.py), so that race cannot happen. What can still break a start of
`make run` is what this soak catches now: processes started at once contending for the
SQLite file (web, worker, beat: lock waits past the busy timeout, the queue's tables
created by two of them), a SQLite connection carried across the worker's ``fork()``, the
launcher's children dying or not answering. Those are per start and per message:

- a failure as frequent as the old one (one start in three) escapes 12 starts with
  probability (2/3)^12 < 1 %; one start in five escapes with 7 %;
- each start is held HOLD_SECONDS with a dispatcher tick every second and a poll task every
  3 s, so the 12 pass some 250 messages between three processes, three launchers at a time.

50 starts cost ~17 min of a 2-core machine (each start ~20 CPU-seconds of imports) — half of
`make test` — for a race the broker no longer has; 12 cost ~3 min.
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

from tests.support.processes import Launcher, var_after_first_run

pytestmark = pytest.mark.slow

STARTS = 12
CONCURRENT = 3
# A start on the loaded 2-core machine took up to ~65 s; a start is not what is measured.
START_TIMEOUT_SECONDS = 240
# Each start is held at least HOLD_SECONDS, and until POLLS_WANTED new successful polls
# came through the broker (at most MAX_HOLD_SECONDS: a loaded machine is slower, not broken).
HOLD_SECONDS = 15
POLLS_WANTED = 2
MAX_HOLD_SECONDS = 45
# A poll task every 3 s beside the dispatcher's tick each second: more messages per start.
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
    """Track the demo user for HOLD_SECONDS, and until POLLS_WANTED polls were seen; what
    went wrong, or "" when nothing did."""
    with httpx.Client(base_url=launcher.url, timeout=15) as client:
        access = client.post("/api/v1/auth/token", json=DEMO).raise_for_status().json()["access"]
        client.headers["Authorization"] = f"Bearer {access}"
        # A start on the first one's database finds the demo user tracked already (200),
        # with that start's last poll: only polls after it count.
        earlier = client.post("/api/v1/tracking", json={}).raise_for_status().json()
        held_from = time.monotonic()
        polls: set[str] = set()
        while (held := time.monotonic() - held_from) < HOLD_SECONDS or (
            len(polls) < POLLS_WANTED and held < MAX_HOLD_SECONDS
        ):
            if not launcher.alive():
                return f"make run exited {held:.0f} s after it answered"
            status = client.get("/api/v1/tracking").raise_for_status().json()
            if status["last_success_at"] not in (None, earlier["last_success_at"]):
                polls.add(status["last_success_at"])
            time.sleep(1)
    # A poll every 3 s: a worker that stopped consuming shows no new one. (How many come in
    # a few seconds depends on the machine's load, not on the broker: two prove it delivers.)
    if len(polls) < POLLS_WANTED:
        return f"tracking stalled: {len(polls)} successful poll(s) seen in {held:.0f} s"
    return ""


def _one_start(start: int, first_run: Path) -> Outcome:
    var_dir = var_after_first_run(first_run, Path(tempfile.mkdtemp(prefix=f"soak-{start}-")))
    launcher = Launcher(var_dir, **SPEED_UP)
    try:
        launcher.start(timeout=START_TIMEOUT_SECONDS)
        problem = _hold(launcher)
    except (AssertionError, httpx.HTTPError) as exc:
        problem = f"{type(exc).__name__}: {str(exc)[:300]}"
    finally:
        launcher.stop(timeout=30)
    log_tail = "" if not problem else launcher.log()[-4000:]
    launcher.log_path.unlink(missing_ok=True)
    shutil.rmtree(var_dir, ignore_errors=True)
    return Outcome(start, not problem, problem, log_tail)


def test_make_run_stays_up_in_every_one_of_12_starts(first_run_var: Path) -> None:
    with ThreadPoolExecutor(max_workers=CONCURRENT) as pool:
        outcomes = list(
            pool.map(lambda start: _one_start(start, first_run_var), range(1, STARTS + 1))
        )

    failed = [o for o in outcomes if not o.ok]
    report = "\n\n".join(f"start {o.start}: {o.detail}\n{o.log_tail}" for o in failed[:3])
    assert not failed, (
        f"{len(failed)} of {STARTS} starts failed: "
        f"{[(o.start, o.detail) for o in failed]}\n\n{report}"
    )
