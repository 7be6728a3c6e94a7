"""The README's commands work as written, without activating the virtual environment:
``./manage.py``, ``createsuperuser --noinput`` with the project's required ``name``, and
``make sim-key`` (a simulator KuCoin key that survives restarts of ``make run``)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from io import StringIO
from pathlib import Path

import httpx
import pytest
from django.core.management import call_command

from cryptotrack.simulators.kucoin import KucoinSimulator
from tests.support.processes import REPO


def _manage(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [str(REPO / "manage.py"), *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.slow
def test_manage_py_creates_a_superuser_without_the_venv_and_without_prompts(
    tmp_path: Path,
) -> None:
    # A newcomer's shell: no virtual environment active, no python on PATH but the system's.
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path), "VAR_DIR": str(tmp_path)}
    _manage("migrate", "--verbosity=0", env=env)
    _manage(
        "createsuperuser", "--noinput",
        env={**env, "DJANGO_SUPERUSER_USERNAME": "admin", "DJANGO_SUPERUSER_PASSWORD":
             "admin-first-run-2026", "DJANGO_SUPERUSER_EMAIL": "admin@example.com",
             "DJANGO_SUPERUSER_NAME": "Admin"},
    )  # fmt: skip
    shown = _manage(
        "shell", "-c",
        "from cryptotrack.accounts.models import User; u = User.objects.get(username='admin');"
        "print(u.name, u.is_superuser, u.check_password('admin-first-run-2026'))",
        env=env,
    )  # fmt: skip
    assert shown.strip().splitlines()[-1] == "Admin True True"


def test_sim_key_registers_a_key_with_demo_positions(db: None) -> None:
    with KucoinSimulator() as sim:
        out = StringIO()
        call_command("sim_key", url=sim.base_url, stdout=out)

        api_key = re.search(r"api_key\s+(\S+)", out.getvalue())
        assert api_key, out.getvalue()
        positions = httpx.get(f"{sim.base_url}/_sim/keys/{api_key[1]}/positions").json()
    assert {p["symbol"] for p in positions} == {"XBTUSDTM", "ETHUSDTM"}


def _start_simulator(keys_file: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "cryptotrack.simulators.kucoin", "--port", "0",
         "--keys-file", str(keys_file)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline()
    return process, line.rsplit("listening on ", 1)[1].strip()


def test_keys_registered_with_the_simulator_survive_its_restart(tmp_path: Path) -> None:
    keys_file = tmp_path / "kucoin-simulator-keys.json"
    key = {"api_key": "k-restart", "api_secret": "s-restart", "api_passphrase": "p-restart"}
    first, url = _start_simulator(keys_file)
    try:
        httpx.post(f"{url}/_sim/keys", json={**key, "demo": True}).raise_for_status()
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=30)

    second, url = _start_simulator(keys_file)
    try:
        state = httpx.get(f"{url}/_sim/state").json()
        positions = httpx.get(f"{url}/_sim/keys/k-restart/positions").json()
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)

    assert [k["api_key"] for k in state["keys"]] == ["k-restart"]
    assert {p["symbol"] for p in positions} == {"XBTUSDTM", "ETHUSDTM"}
    assert oct(os.stat(keys_file).st_mode & 0o777) == "0o600"
