"""Configuration from the environment, checked in fresh interpreters (settings load once)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

PROBE = (
    "from cryptotrack.config import prepare_var_dir; prepare_var_dir(); "
    "import django, json; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'db': s.DATABASES['default']['ENGINE'], 'secret': s.SECRET_KEY, "
    "'keys': s.CREDENTIALS_ENCRYPTION_KEYS, 'cache': s.CACHES['default']['BACKEND'], "
    "'broker': s.CELERY_BROKER_URL, 'kucoin': s.KUCOIN_SPOT_URL}))"
)


def _base_env() -> dict[str, str]:
    return {
        key: value
        for key, value in os.environ.items()
        if key
        not in {
            "DATABASE_URL",
            "REDIS_URL",
            "SECRET_KEY",
            "CREDENTIALS_ENCRYPTION_KEYS",
            "PROMETHEUS_MULTIPROC_DIR",
        }
    }


def _settings(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        env={
            **_base_env(),
            "DJANGO_SETTINGS_MODULE": "cryptotrack.settings",
            "VAR_DIR": str(tmp_path),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _loaded(result: subprocess.CompletedProcess[str]) -> dict[str, object]:
    import json

    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_embedded_default_generates_secrets_once_and_reuses_them(tmp_path: Path) -> None:
    first = _loaded(_settings(tmp_path))
    second = _loaded(_settings(tmp_path))

    secrets_file = tmp_path / "secrets.env"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    assert first["secret"] == second["secret"]
    assert first["keys"] == second["keys"]
    assert first["db"] == "django.db.backends.sqlite3"
    assert first["cache"] == "django.core.cache.backends.db.DatabaseCache"
    assert first["broker"] == f"sqlite:///{tmp_path / 'broker.sqlite3'}"


IMPORT_AND_COMPARE = """
import json, os
from pathlib import Path
var = Path(os.environ["VAR_DIR"])
before_env, before_files = dict(os.environ), sorted(map(str, var.rglob("*")))
from django.conf import settings
settings.INSTALLED_APPS
print(json.dumps({
    "env_changed": sorted(k for k in {*before_env, *os.environ}
                          if before_env.get(k) != os.environ.get(k)),
    "files_added": sorted(set(map(str, var.rglob("*"))) - set(before_files)),
}))
"""


def test_importing_settings_writes_nothing_and_changes_no_environment(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_AND_COMPARE],
        env={**_base_env(), "DJANGO_SETTINGS_MODULE": "cryptotrack.settings",
             "VAR_DIR": str(tmp_path / "empty"), "SECRET_KEY": "x" * 50,
             "CREDENTIALS_ENCRYPTION_KEYS": Fernet.generate_key().decode()},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert _loaded(result) == {"env_changed": [], "files_added": []}
    assert list((tmp_path / "empty").iterdir()) == []


def test_without_keys_or_generated_file_settings_say_how_to_get_them(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; settings.SECRET_KEY"],
        env={**_base_env(), "DJANGO_SETTINGS_MODULE": "cryptotrack.settings",
             "VAR_DIR": str(tmp_path)},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "`make run` or any `./manage.py` command generates it once" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_empty_variables_count_as_unset(tmp_path: Path) -> None:
    loaded = _loaded(_settings(tmp_path, DATABASE_URL="", REDIS_URL="", KUCOIN_SPOT_URL=""))
    assert loaded["db"] == "django.db.backends.sqlite3"
    assert loaded["kucoin"] == "https://api.kucoin.com"


def test_redis_url_switches_cache_and_broker(tmp_path: Path) -> None:
    loaded = _loaded(_settings(tmp_path, REDIS_URL="redis://127.0.0.1:6379/3"))
    assert loaded["cache"] == "cryptotrack.core.cache.ResilientRedisCache"
    assert loaded["broker"] == "redis://127.0.0.1:6379/3"


def test_production_without_keys_refuses_to_start(tmp_path: Path) -> None:
    result = _settings(tmp_path, ENVIRONMENT="production")
    assert result.returncode != 0
    assert "SECRET_KEY and CREDENTIALS_ENCRYPTION_KEYS must be set" in result.stderr
    assert not (tmp_path / "secrets.env").exists()


def _production(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m cryptotrack <args>`` (default: the settings probe) with production keys."""
    from cryptography.fernet import Fernet

    production = {
        "ENVIRONMENT": "production",
        "SECRET_KEY": "k7Qp-2vXz9_LmN4rT8sWb1YcD6fGhJ3eA5uVo0iKqRtZyX-8dLw3nPc",
        "CREDENTIALS_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "cryptotrack.example.com",
        **env,
    }
    if not args:
        return _settings(tmp_path, **production)
    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DEBUG"}}
    return subprocess.run(
        [sys.executable, "-m", "cryptotrack", *args],
        env={**base, "VAR_DIR": str(tmp_path), **production},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("secret_key", "why"),
    [
        ("x", "at least 50 characters"),
        ("short-but-varied-Key-123", "at least 50 characters"),
        ("ab" * 40, "at least 5 different characters"),
        ("django-insecure-" + "k7Qp2vXz9LmN4rT8sWb1YcD6fGhJ3eA5uVo0iKqRtZyXw", "django-insecure-"),
    ],
)
def test_production_refuses_a_weak_secret_key(tmp_path: Path, secret_key: str, why: str) -> None:
    result = _production(tmp_path, SECRET_KEY=secret_key)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr
    assert why in result.stderr


def test_production_refuses_debug(tmp_path: Path) -> None:
    result = _production(tmp_path, DEBUG="true")
    assert result.returncode != 0
    assert "DEBUG must be off when ENVIRONMENT=production" in result.stderr


def test_production_with_a_strong_key_starts(tmp_path: Path) -> None:
    assert _loaded(_production(tmp_path))["db"] == "django.db.backends.sqlite3"


def test_check_deploy_is_clean_in_production_settings(tmp_path: Path) -> None:
    result = _production(tmp_path, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize("keys", ["not-a-key", "c2hvcnQ=", ","])
def test_malformed_encryption_key_is_a_clear_startup_error(tmp_path: Path, keys: str) -> None:
    result = _settings(tmp_path, SECRET_KEY="x" * 50, CREDENTIALS_ENCRYPTION_KEYS=keys)
    assert result.returncode != 0
    assert "CREDENTIALS_ENCRYPTION_KEYS" in result.stderr


def test_key_rotation_reencrypts_under_the_newest_key(tmp_path: Path) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = Fernet(old.encode()).encrypt(b"api-secret").decode()
    script = (
        "import django; django.setup(); from cryptotrack.core import crypto; "
        f"rotated = crypto.rotate({token!r}); "
        "from cryptography.fernet import Fernet; "
        f"print(Fernet({new!r}.encode()).decrypt(rotated.encode()).decode())"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "cryptotrack.settings",
            "VAR_DIR": str(tmp_path),
            "SECRET_KEY": "x" * 50,
            "CREDENTIALS_ENCRYPTION_KEYS": f"{new},{old}",
        },
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "api-secret"
