"""Many position snapshots at once, in SQL (``generate_series``): for tests and benchmarks
that need tens of thousands to millions of history rows of one user."""

from __future__ import annotations

from typing import Any


def insert_history(
    cursor: Any, *, user_id: int, count: int, account_id: int | None = None, label: str = ""
) -> None:
    """``count`` snapshots of ``user_id`` (of ``account_id``, labelled ``label``), ten
    seconds apart going back from now: row ``n`` has ``mark_price`` 60000 + n % 1000 and
    ``unrealised_pnl`` n % 100. ``cursor``: a DB-API cursor (Django's or psycopg's)."""
    cursor.execute(
        """
        INSERT INTO positions_positionsnapshot
            (user_id, account_id, account_label, symbol, side, size, entry_price, mark_price,
             liquidation_price, leverage, unrealised_pnl, realised_pnl, closed, taken_at)
        SELECT %s, %s, %s, 'XBTUSDTM', 'long', 1, 60000, 60000 + n %% 1000, 50000, 5, n %% 100,
               0, false, now() - make_interval(secs => n * 10)
        FROM generate_series(1, %s) AS n
        """,
        [user_id, account_id, label, count],
    )
