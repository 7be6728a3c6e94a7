"""PostgreSQL facts for concurrency tests."""

from __future__ import annotations

import psycopg


def lock_waiters(database_url: str) -> int:
    """How many sessions of this database wait on a lock right now."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone()
        assert row is not None
        return int(row[0])
