"""Balances of each exchange account: spot accounts and the futures account overview,
refreshed with the positions poll (at most every ``BALANCES_REFRESH_SECONDS``), cached in
Redis with the database as the fallback, served by ``GET /api/v1/balances``."""
