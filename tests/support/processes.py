"""Real processes for integration tests: a Redis server, a Celery worker, an ASGI server.

Each is started by the test on a free port, owned by it, and killed by its own PID —
never the machine's shared Redis or anybody else's worker.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

import httpx

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (Linux /proc)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    kids = [int(p) for p in children.read_text().split()] if children.exists() else []
    return [pid, *(q for kid in kids for q in process_tree(kid))]


def memory_mib(pid: int, field: str = "VmRSS") -> float:
    """A memory figure of /proc/<pid>/status in MiB: ``VmRSS`` now, ``VmHWM`` its peak so
    far; 0 once the process is gone."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except FileNotFoundError:
        return 0.0
    return next(
        (int(line.split()[1]) / 1024 for line in lines if line.startswith(f"{field}:")), 0.0
    )


def wait_until(
    predicate: Callable[[], Any], *, timeout: float, interval: float = 0.05, what: str = ""
) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


class ManagedProcess:
    """A subprocess with its output in a log file, stopped (and reaped) by PID."""

    def __init__(self, args: list[str], *, env: Mapping[str, str], name: str) -> None:
        self.args = args
        self.env = dict(env)
        self.name = name
        self.log_path = Path(tempfile.mkstemp(prefix=f"{name}-", suffix=".log")[1])
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        with self.log_path.open("ab") as log:  # the child keeps its own copy of the fd
            self.process = subprocess.Popen(
                self.args,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the process group we started (the worker's children too)."""
        if self.alive():
            assert self.process is not None
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=30)

    def stop(self, timeout: float = 10.0) -> None:
        if not self.alive():
            return
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class RedisServer(ManagedProcess):
    """A redis-server of the test's own on a free port (nothing persisted)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        args = [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        super().__init__(args, env=os.environ, name=f"redis-{self.port}")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> Self:
        super().start()
        wait_until(self._answers, timeout=10, what=f"redis on {self.port}")
        return self

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False


def service_env(database_url: str, **overrides: str) -> dict[str, str]:
    """The environment for a subprocess of ours talking to the test database."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST")}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "cryptotrack.settings",
            "DATABASE_URL": database_url,
            "PYTHONUNBUFFERED": "1",
            "LOG_LEVEL": "INFO",
        }
    )
    env.update(overrides)
    return env


class CeleryWorker(ManagedProcess):
    """``celery worker`` (optionally with embedded beat) as a subprocess of the test."""

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        concurrency: int = 2,
        beat: bool = False,
        pool: str = "prefork",
        name: str | None = None,
    ) -> None:
        self.node = name or f"w{uuid.uuid4().hex[:8]}"
        args = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "cryptotrack",
            "worker",
            "--loglevel=INFO",
            f"--concurrency={concurrency}",
            f"--pool={pool}",
            f"--hostname={self.node}@%h",
            "--without-gossip",
            "--without-mingle",
        ]
        if beat:
            args += ["--beat", f"--schedule={tempfile.mkdtemp(prefix='beat-')}/schedule"]
        super().__init__(args, env=env, name=f"celery-{self.node}")

    def start(self) -> Self:
        super().start()
        wait_until(
            lambda: "ready." in self.log() or not self.alive(), timeout=60, what="celery ready"
        )
        if not self.alive():
            raise AssertionError(f"celery worker died at start:\n{self.log()[-3000:]}")
        return self


class AsgiServer(ManagedProcess):
    """uvicorn serving cryptotrack.asgi on a free port."""

    def __init__(self, env: Mapping[str, str], *, port: int | None = None) -> None:
        self.port = port or free_port()
        args = [
            sys.executable,
            "-m",
            "uvicorn",
            "cryptotrack.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--no-access-log",
        ]
        super().__init__(args, env=env, name=f"asgi-{self.port}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        super().start()
        wait_until(self._healthy, timeout=30, what="asgi /healthz")
        return self

    def _healthy(self) -> bool:
        return serves_healthz(self, self.url)


def serves_healthz(
    server: ManagedProcess, url: str, *, timeout: float = 1.0, log_tail: int = 3000
) -> bool:
    """Whether ``url``/healthz answers 200 yet; fails the test if ``server`` died."""
    if not server.alive():
        raise AssertionError(f"{server.name} exited at start:\n{server.log()[-log_tail:]}")
    try:
        return httpx.get(f"{url}/healthz", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


# Variables a developer's shell or the test run may hold that would point `make run` away
# from its embedded default (another database, Redis, a real upstream, fixed keys).
_NOT_EMBEDDED = ("PYTEST", "DATABASE_URL", "REDIS_URL", "CELERY_", "KUCOIN_")
_NOT_EMBEDDED_EXACT = {
    "ALPHAVANTAGE_URL",
    "COINGECKO_URL",
    "SECRET_KEY",
    "CREDENTIALS_ENCRYPTION_KEYS",
    "DJANGO_SETTINGS_MODULE",
}


def embedded_env(var_dir: Path, port: int, **overrides: str) -> dict[str, str]:
    """The environment of a newcomer's `make run`: nothing set but VAR_DIR and PORT."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(_NOT_EMBEDDED) and key not in _NOT_EMBEDDED_EXACT
    }
    env |= {"VAR_DIR": str(var_dir), "PORT": str(port), "PYTHONUNBUFFERED": "1"}
    return env | overrides


class Launcher(ManagedProcess):
    """`make run`'s launcher (``python -m cryptotrack.launcher``) on a fresh VAR_DIR and port.

    ``start`` returns once ``/healthz`` answers; the launcher runs in a session of its own,
    so ``stop``/``kill`` reach it by its PID (and its group) only.
    """

    def __init__(
        self, var_dir: Path, *, port: int | None = None, sigint_ignored: bool = False, **env: str
    ) -> None:
        self.var_dir = var_dir
        self.port = port or free_port()
        command = [sys.executable, "-m", "cryptotrack.launcher"]
        if sigint_ignored:  # as a shell starts a background job: `make run &`
            command = ["/bin/sh", "-c", 'trap "" INT; exec "$@"', "sh", *command]
        super().__init__(
            command,
            env=embedded_env(var_dir, self.port, **env),
            name=f"launcher-{self.port}",
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 240.0) -> Self:
        super().start()
        try:
            wait_until(self.healthy, timeout=timeout, interval=0.25, what="make run's /healthz")
        except BaseException:
            self.stop()
            raise
        return self

    def healthy(self) -> bool:
        return serves_healthz(self, self.url, timeout=2, log_tail=5000)


# What a later `make run` keeps of the first one's var/: the migrated database (with the
# demo user) and the generated keys that encrypt its stored credentials. Not the broker
# file, the simulator's keys or beat's schedule: those a later start makes anew anyway.
FIRST_RUN_FILES = ("db.sqlite3", "secrets.env")


def var_after_first_run(template: Path, var_dir: Path) -> Path:
    """``var_dir`` as `make run` leaves it for its next start: the first run's files of
    ``template`` (a var/ a Launcher has run on) copied in. Returns ``var_dir``."""
    var_dir.mkdir(parents=True, exist_ok=True)
    for name in FIRST_RUN_FILES:
        shutil.copy2(template / name, var_dir / name)
    return var_dir


@contextmanager
def running(worker: CeleryWorker) -> Iterator[CeleryWorker]:
    """Start the worker; on a failed assertion, show the end of its log; always stop it."""
    worker.start()
    try:
        yield worker
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- worker log ---\n{worker.log()[-6000:]}") from exc
    finally:
        worker.stop()
