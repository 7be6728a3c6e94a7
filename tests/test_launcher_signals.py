"""`make run` stops all of its processes on SIGINT, SIGTERM and SIGHUP, and leaves none
behind when it is SIGKILLed: no orphan keeps serving or holding the port.

Each test starts the real launcher in a session of its own, signals the launcher's PID
alone (never its group: the children must be stopped by the launcher, or by the kernel's
parent-death signal), then waits for every process of that session to be gone.
"""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import pytest

from tests.support.processes import Launcher, var_after_first_run, wait_until

pytestmark = pytest.mark.slow

# Children stop within 10 s of SIGTERM or are killed (launcher.Children.stop); a loaded
# machine gets a margin on top.
GONE_WITHIN_SECONDS = 45


def _session(leader: int) -> set[int]:
    """PIDs of the live processes in the session that ``leader`` started."""
    members = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if os.getsid(int(entry.name)) == leader and state[0] != "Z":
                members.add(int(entry.name))
        except (OSError, IndexError):
            continue
    return members


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.parametrize(
    ("signum", "sigint_ignored"),
    [
        (signal.SIGINT, True),  # `make run &`: SIGINT arrives ignored
        (signal.SIGTERM, False),
        (signal.SIGHUP, False),  # the terminal closed
        (signal.SIGKILL, False),  # no handler at all: the children notice by themselves
    ],
    ids=["SIGINT-in-background", "SIGTERM", "SIGHUP", "SIGKILL"],
)
def test_a_signal_to_the_launcher_stops_every_process(
    tmp_path: Path, first_run_var: Path, signum: signal.Signals, sigint_ignored: bool
) -> None:
    var_dir = var_after_first_run(first_run_var, tmp_path)
    launcher = Launcher(var_dir, sigint_ignored=sigint_ignored).start()
    try:
        processes = _session(launcher.pid)
        assert len(processes) >= 6, "launcher, three simulators, celery, uvicorn"

        os.kill(launcher.pid, signum)

        wait_until(
            lambda: not _session(launcher.pid),
            timeout=GONE_WITHIN_SECONDS,
            interval=0.5,
            what=f"every process of make run to exit after {signum.name}",
        )
        assert _port_free(launcher.port)
    finally:
        if _session(launcher.pid):  # what the test failed to stop: by the session's PIDs
            for pid in _session(launcher.pid):
                os.kill(pid, signal.SIGKILL)
        launcher.stop()
