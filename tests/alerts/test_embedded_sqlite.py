"""The embedded default runs the monitor on SQLite, through the portable SQL path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import REPO

pytestmark = pytest.mark.slow


def test_monitor_and_email_work_on_sqlite(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST")}
    env.update(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "VAR_DIR": str(tmp_path),
            "REDIS_URL": "",
            "CELERY_BROKER_URL": "",
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            "DJANGO_SETTINGS_MODULE": "cryptotrack.settings",
            "LOG_LEVEL": "WARNING",
        }
    )

    result = subprocess.run(
        [sys.executable, "-m", "tests.alerts.embedded_check"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome == {
        "pairs": [["ethereum", "eur"]],
        "triggered": [0, 1],
        "sent": 1,
        "emails": [["embedded@example.com"]],
        "status": "sleeping",
        "triggered_price": "70000.000000000000000000",
        "note_triggered_at_matches": True,
    }
