"""``make run``: the whole service on one machine with nothing installed but Python.

Starts, as child processes: the upstream simulators (KuCoin, Alpha Vantage, CoinGecko)
unless their URL is set in the environment, a Celery worker with embedded beat, and the
ASGI server (uvicorn). Before that it migrates the database and creates the demo user.
Ctrl-C, SIGTERM or SIGHUP stops every child; on Linux the children stop by themselves
when the launcher dies, even of SIGKILL. On the embedded default (nothing set) that is
SQLite in var/, the database cache, a server-less broker and the in-memory channel layer.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptotrack.accounts.management.commands.sim_key import SIMULATOR_URL_FILE
from cryptotrack.config import env_reader, prepare_var_dir, var_dir

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-tracker-2026"  # noqa: S105 - the documented demo account of `make run`
DEMO_KUCOIN = ("demo-kucoin-key-0001", "demo-kucoin-secret-0001", "demo-passphrase")


@dataclass(frozen=True)
class Simulator:
    module: str
    env_vars: tuple[str, ...]
    args: tuple[str, ...] = ()
    path_suffix: str = ""


KUCOIN = Simulator(
    "cryptotrack.simulators.kucoin",
    ("KUCOIN_SPOT_URL", "KUCOIN_FUTURES_URL"),
    ("--key", ":".join(DEMO_KUCOIN), "--drift"),
)
KUCOIN_KEYS_FILE = "kucoin-simulator-keys.json"
SIMULATORS = (
    KUCOIN,
    Simulator("cryptotrack.simulators.alphavantage", ("ALPHAVANTAGE_URL",), (), "/query"),
    Simulator("cryptotrack.simulators.coingecko", ("COINGECKO_URL",), (), "/api/v3"),
    # Telegram's Bot API, and a place to point Discord, Slack, ntfy and webhook channels at.
    Simulator("cryptotrack.simulators.messengers", ("TELEGRAM_API_URL",)),
)


# Each of these stops the launcher and every child. A shell starts a background job
# (`make run &`) with SIGINT ignored, and an ignored signal stays ignored unless we say.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _log(message: str) -> None:
    print(f"[make run] {message}", flush=True)


class Children:
    """The child processes of the launcher, stopped together in reverse order."""

    def __init__(self) -> None:
        self.processes: list[tuple[str, subprocess.Popen[str]]] = []

    def start(self, name: str, args: list[str], *, capture: bool = False) -> subprocess.Popen[str]:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and modules
            args,
            stdout=subprocess.PIPE if capture else None,
            text=True,
            preexec_fn=_stop_with_parent(os.getpid()),  # safe: the launcher runs no threads
        )
        self.processes.append((name, process))
        return process

    def stop(self) -> None:
        for _, process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 10
        for _, process in reversed(self.processes):
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()

    def first_dead(self) -> str | None:
        return next((name for name, p in self.processes if p.poll() is not None), None)


def _stop_with_parent(parent: int) -> Callable[[], None] | None:
    """Run in a child before exec (Linux): SIGTERM to the child when the launcher dies, of
    whatever cause, so a SIGKILLed launcher leaves no process holding its ports."""
    if not sys.platform.startswith("linux"):
        return None

    def arrange() -> None:
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the launcher died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return arrange


def start_simulators(children: Children) -> None:
    """Start each simulator whose URL the environment does not set, and point settings at it.

    All of them start before the first is waited for: each spends ~1-2 s importing, and
    side by side those seconds overlap instead of adding up at every `make run`."""
    var = var_dir(env_reader())
    started: list[tuple[Simulator, subprocess.Popen[str]]] = []
    for sim in SIMULATORS:
        if all(os.environ.get(var) for var in sim.env_vars):
            _log(f"{sim.module}: not started, {', '.join(sim.env_vars)} set")
            continue
        extra: tuple[str, ...] = ()
        if sim is KUCOIN:  # keys registered by `make sim-key` survive restarts
            extra = ("--keys-file", str(var / KUCOIN_KEYS_FILE))
        command = [sys.executable, "-m", sim.module, "--port", "0", *sim.args, *extra]
        started.append((sim, children.start(sim.module, command, capture=True)))
    for sim, process in started:
        # The simulator's first line: "<name> listening on http://127.0.0.1:PORT".
        line = process.stdout.readline().strip() if process.stdout else ""
        if "listening on " not in line:
            raise SystemExit(f"{sim.module} did not start: {line!r}")
        url = line.rsplit("listening on ", 1)[1] + sim.path_suffix
        for name in sim.env_vars:
            os.environ[name] = url
        if sim is KUCOIN:
            (var / SIMULATOR_URL_FILE).write_text(url, encoding="utf-8")
        _log(f"{sim.module} at {url}")
    if os.environ.get("ALPHAVANTAGE_URL", "").startswith("http://127.0.0.1"):
        os.environ.setdefault("ALPHAVANTAGE_API_KEY", "demo")
    # A local machine: channels may push to receivers on it (docs/api.md, channels).
    os.environ.setdefault("WEBHOOK_ALLOW_PRIVATE", "true")


def prepare_database() -> None:
    """Migrate, create the cache table and the demo user holding the simulator's key."""
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    call_command("createcachetable", verbosity=0)
    _declare_task_queue()

    from cryptotrack.accounts import services
    from cryptotrack.accounts.models import User
    from cryptotrack.exchanges.kucoin import KucoinCredentials

    credentials = KucoinCredentials(*DEMO_KUCOIN)
    user = User.objects.filter(username=DEMO_USERNAME).first()
    if user is None:
        services.signup(
            name="Demo Trader",
            username=DEMO_USERNAME,
            password=DEMO_PASSWORD,
            email="demo@example.com",
            kucoin_credentials=credentials,
        )
    else:
        services.exchange_account_replace(user=user, credentials=credentials)
    _log(f"demo user ready: {DEMO_USERNAME} / {DEMO_PASSWORD}")


def uvicorn_command(port: str) -> list[str]:
    """uvicorn serving the app, believing forwarded headers only from TRUSTED_PROXIES
    (uvicorn's own default trusts 127.0.0.1, where any local client can then say who it is)."""
    from django.conf import settings

    return [
        sys.executable, "-m", "uvicorn", "cryptotrack.asgi:application",
        "--host", os.environ.get("HOST", "127.0.0.1"), "--port", port,
        f"--forwarded-allow-ips={','.join(settings.TRUSTED_PROXIES)}",
    ]  # fmt: skip


def _declare_task_queue() -> None:
    """Create the broker's queue (on the embedded default: its tables and queue row) now,
    before the worker, its beat and the web process race to create it at once."""
    from kombu import Queue

    from cryptotrack.celery import app

    with app.connection_for_write() as connection:
        Queue(app.conf.task_default_queue, channel=connection.default_channel).declare()


@contextmanager
def _signals_stop(children: Children) -> Iterator[None]:
    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    for signum in STOP_SIGNALS:
        signal.signal(signum, stop)
    try:
        yield
    except KeyboardInterrupt:
        _log("stopping")
    finally:
        for signum in STOP_SIGNALS:  # a second Ctrl-C must not cut the stop short
            signal.signal(signum, signal.SIG_IGN)
        children.stop()


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cryptotrack.settings")
    prepare_var_dir()  # var/ and its generated keys, before the settings read them
    port = os.environ.get("PORT") or "8000"
    children = Children()
    with _signals_stop(children):
        start_simulators(children)
        prepare_database()
        from django.conf import settings

        # The processes started below are the whole deployment: earlier runs' metric
        # files (one per process id, see core/metrics.py) would only pile up.
        for stale in Path(settings.PROMETHEUS_MULTIPROC_DIR).glob("*.db"):
            stale.unlink(missing_ok=True)
        Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)  # WhiteNoise warns

        children.start(
            "celery",
            [
                sys.executable, "-m", "celery", "-A", "cryptotrack", "worker", "--beat",
                "--loglevel=INFO", "--concurrency=2",
                f"--schedule={Path(settings.VAR_DIR) / 'celerybeat-schedule'}",
            ],
        )  # fmt: skip
        children.start("uvicorn", uvicorn_command(port))
        base = f"http://127.0.0.1:{port}"
        _log(
            f"cryptotrack on {base} — open it in a browser and sign in as "
            f"{DEMO_USERNAME} / {DEMO_PASSWORD}; API docs {base}/docs\n"
            f"  try: curl -s -X POST {base}/api/v1/auth/token -H 'Content-Type: application/json' "
            f'-d \'{{"username":"{DEMO_USERNAME}","password":"{DEMO_PASSWORD}"}}\'\n'
            "  a simulator KuCoin key for a new user: `make sim-key` (in another terminal)"
        )
        while (dead := children.first_dead()) is None:
            time.sleep(0.5)
        _log(f"{dead} exited; stopping the rest")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
