"""CSV exports stream under the real server: the Procfile's ``web`` line (uvicorn, one
process, ``cryptotrack.asgi`` with its pooled request threads), the test's PostgreSQL.

Streaming is shown without timing: the client holds the first bytes of an export while
a lock the test takes keeps the server from reading its later rows (it waits on the lock,
seen in ``pg_stat_activity``). Constant memory: the server's peak RSS after exporting
4N rows is within a bound of its peak after N (Django 5.2 alone collects a synchronous
stream whole under ASGI: 4N rows would add their whole body).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from rest_framework_simplejwt.tokens import AccessToken

from cryptotrack.accounts.services import exchange_account_store
from cryptotrack.exchanges.kucoin import KucoinCredentials
from tests.support.history_rows import insert_history
from tests.support.postgres import lock_waiters
from tests.support.processes import (
    free_port,
    memory_mib,
    process_tree,
    serves_healthz,
    wait_until,
)
from tests.support.procfile import ProcfileProcess

pytestmark = pytest.mark.slow

HISTORY = "/api/v1/positions/history"
ROWS = 80_000  # about 10 MB of CSV: more than the kernel's socket buffers can hold
SMALL, LARGE = 40_000, 160_000
# Peak RSS may grow this much from an export of SMALL rows to one of LARGE rows. Measured
# here: 0 MiB streamed; 24 MiB with Django's own StreamingHttpResponse (collected whole).
RSS_GROWTH_BOUND_MIB = 8.0
# Request threads and pooled database connections of the server: an export holds one of
# each until it ends or its client hangs up.
WEB_THREADS = 2


@dataclass
class ExportServer:
    web: ProcfileProcess
    url: str
    headers: dict[str, str]
    user_id: int
    database_url: str

    def account(self, label: str) -> int:
        from cryptotrack.accounts.models import User

        credentials = KucoinCredentials(f"key-{label}-0001", "secret-0123456789", "pass")
        user = User.objects.get(pk=self.user_id)
        return int(exchange_account_store(user=user, credentials=credentials, label=label).pk)

    def fill(self, count: int, account_id: int) -> None:
        with psycopg.connect(self.database_url, autocommit=True) as conn, conn.cursor() as cur:
            insert_history(cur, user_id=self.user_id, count=count, account_id=account_id)
            cur.execute("ANALYZE positions_positionsnapshot")

    @property
    def uvicorn_pid(self) -> int:
        return next(
            pid
            for pid in reversed(process_tree(self.web.pid))
            if b"uvicorn" in Path(f"/proc/{pid}/cmdline").read_bytes()
        )


@pytest.fixture
def export_server(
    live_env: dict[str, str], live_database_url: str, make_user: Any
) -> Iterator[ExportServer]:
    user = make_user()
    port = free_port()
    env = {
        **live_env,
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "WEB_THREADS": str(WEB_THREADS),
        "WEB_DATABASE_POOL_SIZE": str(WEB_THREADS),
        "WEB_DATABASE_POOL_TIMEOUT": "10",
        "LOG_LEVEL": "WARNING",
    }
    url = f"http://127.0.0.1:{port}"

    with ProcfileProcess("web", env=env) as web:
        wait_until(lambda: serves_healthz(web, url), timeout=60, what="the web line's /healthz")
        headers = {"Authorization": f"Bearer {AccessToken.for_user(user)}"}
        yield ExportServer(web, url, headers, user.pk, live_database_url)


def test_first_rows_reach_the_client_before_the_last_rows_are_read(
    export_server: ExportServer,
) -> None:
    export_server.fill(ROWS, export_server.account("main"))
    received: list[bytes] = []

    with (
        httpx.Client(base_url=export_server.url, timeout=120) as client,
        client.stream("GET", f"{HISTORY}?format=csv", headers=export_server.headers) as answer,
    ):
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "text/csv; charset=utf-8"
        pieces = answer.iter_raw()
        first = b""
        while first.count(b"\r\n") < 2:  # the header and at least one row
            first += next(pieces)
        assert first.startswith(b"account_id,account_label,")
        with psycopg.connect(export_server.database_url) as holder:
            # Every later chunk of the export is a query on this table: it must wait.
            holder.execute("LOCK TABLE positions_positionsnapshot IN ACCESS EXCLUSIVE MODE")
            reader = threading.Thread(target=lambda: received.extend(iter(pieces)))
            reader.start()
            waited = wait_until(
                lambda: lock_waiters(export_server.database_url) > 0 or not reader.is_alive(),
                timeout=60,
                what="the export to wait on the lock",
            )
            rows_before_release = (first + b"".join(list(received))).count(b"\r\n") - 1
            assert lock_waiters(export_server.database_url) > 0, (
                "the whole export was read before the lock was taken: nothing streamed?"
            )
            holder.rollback()
        reader.join(timeout=120)
        assert waited

    body = first + b"".join(received)
    assert body.count(b"\r\n") == 1 + ROWS
    assert 0 < rows_before_release < ROWS
    assert 1 + len(received) >= 10  # many pieces on the wire, not one body


def exported_rows(server: ExportServer, account_id: int, timeout: float = 300) -> int:
    rows = 0
    with (
        httpx.Client(base_url=server.url, timeout=timeout) as client,
        client.stream(
            "GET", f"{HISTORY}?format=csv&account={account_id}", headers=server.headers
        ) as answer,
    ):
        assert answer.status_code == 200
        for piece in answer.iter_raw():
            rows += piece.count(b"\n")  # a piece may end between \r and \n
    return rows - 1


def test_server_memory_does_not_grow_with_the_rows_exported(
    export_server: ExportServer,
) -> None:
    small, large = export_server.account("small"), export_server.account("large")
    export_server.fill(SMALL, small)
    export_server.fill(LARGE, large)
    pid = export_server.uvicorn_pid

    for _ in range(2):  # warm: imports, the connection pool, allocator arenas
        assert exported_rows(export_server, small) == SMALL
    after_small = memory_mib(pid, "VmHWM")
    assert exported_rows(export_server, large) == LARGE
    after_large = memory_mib(pid, "VmHWM")

    assert after_small > 0
    assert after_large - after_small < RSS_GROWTH_BOUND_MIB, (after_small, after_large)


def test_clients_hanging_up_mid_export_leave_no_thread_or_connection_behind(
    export_server: ExportServer,
) -> None:
    account = export_server.account("main")
    export_server.fill(ROWS, account)

    for _ in range(WEB_THREADS + 1):
        with (
            httpx.Client(base_url=export_server.url, timeout=60) as client,
            client.stream("GET", f"{HISTORY}?format=csv", headers=export_server.headers) as answer,
        ):
            assert next(answer.iter_raw()).startswith(b"account_id,")
        # Leaving the blocks hangs up with most of the export unread.

    # Were a thread or a pooled connection still held for a gone client, this would wait
    # for one in vain (the pool gives up after 10 s: a 500).
    assert exported_rows(export_server, account, timeout=60) == ROWS
    assert export_server.web.alive()
