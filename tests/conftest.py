"""Fixtures shared by the whole suite.

The suite runs on the real PostgreSQL and Redis that ``scripts/with-services.sh`` provides
(``DATABASE_URL`` / ``REDIS_URL``). Each pytest process gets its own test database name
and cache key prefix, so two runs on one machine never see each other's data.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

RUN_ID = f"t{os.getpid()}"
STRONG_PASSWORD = "correct-horse-battery-42"


_test_number = iter(range(1, 10_000_000))


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    from django.conf import settings

    test = settings.DATABASES["default"].setdefault("TEST", {})
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
        test["NAME"] = f"test_cryptotrack_{RUN_ID}"


@pytest.fixture(scope="session")
def first_run_var(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A var/ that `make run`'s launcher has started on once, from empty: migrated, demo
    user made, keys generated. Tests that start the launcher many times copy it
    (``tests.support.processes.var_after_first_run``) instead of migrating SQLite again
    each time — minutes of the suite on 2 cores for nothing those tests are about.
    ``tests/test_embedded_default.py`` keeps starting from an empty var/."""
    from tests.support.processes import Launcher

    var_dir = tmp_path_factory.mktemp("first-run-var")
    Launcher(var_dir).start().stop(timeout=30)
    return var_dir


@pytest.fixture(autouse=True)
def _private_cache(settings: Any) -> None:
    """Each test gets its own cache key prefix: no throttle counter or cached row leaks."""
    prefix = f"{RUN_ID}-{next(_test_number)}"
    settings.CACHES = {
        alias: {**config, "KEY_PREFIX": f"{prefix}:{config.get('KEY_PREFIX', '')}"}
        for alias, config in settings.CACHES.items()
    }


@pytest.fixture(autouse=True)
def _generous_throttles(settings: Any) -> None:
    """Tests drive many users from 127.0.0.1; throttling tests lower the one rate they test."""
    rates = dict(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"])
    rates.update({scope: "100000/min" for scope in rates})
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    settings.LOGIN_LOCKOUT_FAILURES = 5


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def make_user(db: None) -> Callable[..., Any]:
    """Create a user directly through the service (no HTTP), password ``STRONG_PASSWORD``."""
    from cryptotrack.accounts.services import user_create

    counter = iter(range(1, 1_000_000))

    def make(**overrides: Any) -> Any:
        n = next(counter)
        fields = {
            "name": f"User {n}",
            "username": f"user{n}",
            "password": STRONG_PASSWORD,
            "email": f"user{n}@example.com",
            **overrides,
        }
        return user_create(**fields)

    return make


@pytest.fixture
def client_for(api_client: APIClient) -> Callable[[Any], APIClient]:
    """An APIClient signed in as ``user`` with a real JWT from the token endpoint."""

    def sign_in(user: Any) -> APIClient:
        client = APIClient()
        response = client.post(
            "/api/v1/auth/token",
            {"username": user.username, "password": STRONG_PASSWORD},
            format="json",
        )
        assert response.status_code == 200, response.content
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
        return client

    return sign_in


@pytest.fixture
def user(make_user: Callable[..., Any]) -> Any:
    return make_user()


@pytest.fixture
def user_client(user: Any, client_for: Callable[[Any], APIClient]) -> Iterator[APIClient]:
    return client_for(user)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give each test a node id of its own. schemathesis 4.32 under pytest 9 names each API
    operation's case ``test_api_conforms_to_its_schema[GET /api/v1/alerts]`` but builds all
    their node ids from the bare function name; pytest-xdist (``make test`` runs two pytest
    processes) schedules by node id, so 35 of the 36 operations were silently not run."""
    for item in items:
        if not isinstance(item, pytest.Function) or item.name == item.originalname:
            continue
        if item.nodeid.endswith(f"::{item.originalname}"):
            params = item.name.removeprefix(f"{item.originalname}[").removesuffix("]")
            item._id = item._id.with_params(params)


def pytest_configure(config: pytest.Config) -> None:
    """Give this pytest run a Celery queue of its own (workers started by tests use it too)."""
    from cryptotrack.celery import app

    app.conf.task_default_queue = CELERY_QUEUE


CELERY_QUEUE = f"cryptotrack-{RUN_ID}"


@pytest.fixture
def throttle_redis(settings: Any) -> Iterator[Any]:
    """A Redis server of the test's own behind the ``default`` cache (throttle counters), for
    tests that kill it by PID; the breaker probes it again after one second."""
    from tests.support.processes import RedisServer

    with RedisServer() as redis:
        settings.CACHES = {
            **settings.CACHES,
            "default": {
                "BACKEND": "cryptotrack.core.cache.ResilientRedisCache",
                "LOCATION": redis.url,
                "KEY_PREFIX": f"{RUN_ID}-{next(_test_number)}",
                "OPTIONS": {"SOCKET_TIMEOUT": 0.25, "BREAKER_SECONDS": 1.0, "FALLBACK": "locmem"},
            },
        }
        yield redis


@pytest.fixture
def live_database_url(transactional_db: None) -> str:
    """A URL to this test's database, for subprocesses (workers, servers) started by the test."""
    from django.db import connection

    db = connection.settings_dict
    assert db["ENGINE"] == "django.db.backends.postgresql", "process tests run on PostgreSQL"
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture
def live_env(live_database_url: str, settings: Any) -> dict[str, str]:
    """Environment for our own subprocesses: same database, keys, cache prefix and queue."""
    from tests.support.processes import service_env

    return service_env(
        live_database_url,
        SECRET_KEY=settings.SECRET_KEY,
        CREDENTIALS_ENCRYPTION_KEYS=",".join(settings.CREDENTIALS_ENCRYPTION_KEYS),
        CACHE_KEY_PREFIX=settings.CACHES["live"]["KEY_PREFIX"],
        CELERY_DEFAULT_QUEUE=CELERY_QUEUE,
        REDIS_URL=settings.REDIS_URL,
    )
