"""Fetching and storing quotes: forced, scheduled and at start-up, within the free tier.

The heart is :func:`refresh_quote`. Whoever wants a quote of a pair says how old a quote
may be (``fresh_after``). Per pair, one process at a time holds a lease (a conditional
``UPDATE`` on :class:`~cryptotrack.quotes.models.PairFetch`, so it works across web servers
and workers, on PostgreSQL and SQLite, with no transaction held open during the HTTP call)
and makes the upstream call; everybody else waits — woken by the holder's notification
(:mod:`~cryptotrack.quotes.waiting`), not by polling — and then takes the quote it
stored, or, if it failed, the same error. N simultaneous ``POST /api/v1/quotes`` therefore make
ONE call to Alpha Vantage and answer the same stored quote; a scheduled tick that meets a
forced refresh in flight takes its result too.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from cryptotrack.core import metrics
from cryptotrack.core.exceptions import ApplicationError, ServiceUnavailable, UpstreamFailed
from cryptotrack.exchanges.alphavantage import ExchangeRate
from cryptotrack.exchanges.errors import UpstreamError, UpstreamRateLimited
from cryptotrack.quotes import budget, coingecko, live, selectors, upstream
from cryptotrack.quotes.models import PairFetch, Quote
from cryptotrack.quotes.pairs import Pair, configured_pairs, unlisted_codes
from cryptotrack.quotes.waiting import FetchWaiter, announce_fetch_done

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Refreshed:
    """A quote of the pair recent enough for the caller; ``fetched`` if this call stored it;
    ``warning`` says why it is not Alpha Vantage's when it comes from the fallback."""

    quote: Quote
    fetched: bool
    warning: str | None = None


def record_quote(
    *,
    pair: Pair,
    rate: Decimal,
    refreshed_at: datetime,
    trigger: str,
    source: str,
    bid: Decimal | None = None,
    ask: Decimal | None = None,
) -> Quote:
    """Store a rate as a quote, refresh the latest-quote cache, tell the subscribers."""
    quote = Quote.objects.create(
        from_currency=pair.from_currency,
        to_currency=pair.to_currency,
        rate=rate,
        bid=bid,
        ask=ask,
        refreshed_at=refreshed_at,
        fetched_at=timezone.now(),
        trigger=trigger,
        source=source,
    )
    selectors.cache_latest(quote)
    live.announce(quote)
    metrics.QUOTES_FETCHED.labels(source=trigger).inc()
    return quote


def refresh_quote(
    *, pair: Pair, trigger: str, fresh_after: datetime, forced_by: int | None = None
) -> Refreshed:
    """A quote of ``pair`` fetched at or after ``fresh_after``; fetch one only if none exists.

    A code that is not on Alpha Vantage's currency lists is refused first (400
    ``unknown_currency``): no lease, no call. If another process is fetching the pair right
    now, wait for it and return its quote (or raise its error, when it failed after this
    call began). Otherwise take the lease, reserve one call of today's quota — for a refresh
    ``forced_by`` a user, within that user's share and the part not kept for the schedule —
    and ask Alpha Vantage. Raises ServiceUnavailable (503: quota spent, rate limited),
    UpstreamFailed (502: any other upstream failure) or a 429 (the user's share is spent).
    """
    _refuse_unlisted_codes(pair)
    started_at = timezone.now()
    lease_seconds = settings.ALPHAVANTAGE_TIMEOUT_SECONDS + 5
    deadline = time.monotonic() + 2 * lease_seconds
    PairFetch.objects.get_or_create(from_currency=pair.from_currency, to_currency=pair.to_currency)
    token = uuid.uuid4().hex
    with FetchWaiter(pair) as waiter:
        while True:
            if (outcome := _outcome_since(pair, fresh_after, started_at)) is not None:
                return outcome
            if _acquire_lease(pair, token, seconds=lease_seconds):
                break
            if (remaining := deadline - time.monotonic()) <= 0:
                raise ServiceUnavailable(
                    f"Another fetch of {pair} is taking too long; try again shortly.",
                    retry_after=5,
                    code="fetch_in_progress",
                )
            waiter.wait(remaining)

    # Only what Alpha Vantage answered is the pair's outcome, shared with the waiters; a
    # refusal of our own budget (this user's share, the schedule's reserve) is this caller's
    # alone: the next waiter takes the lease and asks the budget for itself.
    failure: ApplicationError | None = None
    try:
        # The holder before us may have finished between our last look and our lease.
        if (outcome := _outcome_since(pair, fresh_after, started_at)) is not None:
            return outcome
        _reserve_call(forced_by=forced_by)
        try:
            rate = _fetch(pair)
        except ApplicationError as exc:
            failure = exc
            raise
        quote = record_quote(
            pair=Pair(rate.from_currency.upper(), rate.to_currency.upper()),
            rate=rate.rate,
            bid=rate.bid,
            ask=rate.ask,
            refreshed_at=rate.last_refreshed,
            trigger=trigger,
            source=Quote.Source.ALPHAVANTAGE,
        )
        return Refreshed(quote=quote, fetched=True)
    finally:
        _release_lease(pair, token, failure)


def force_refresh(*, pair: Pair, user_id: int) -> Refreshed:
    """``POST /api/v1/quotes``: a quote fetched after this request arrived (see refresh_quote);
    an upstream call it makes counts against ``user_id``'s daily share.

    When Alpha Vantage cannot answer — our quota spent, its rate limit, any upstream failure,
    no key — the rate comes from CoinGecko instead, with a ``warning`` saying why; the
    Alpha Vantage error is raised only when CoinGecko cannot price the pair either. A
    refusal that is the caller's (a bad pair, their spent share) is raised as it is.
    """
    try:
        return refresh_quote(
            pair=pair, trigger=Quote.Trigger.FORCED, fresh_after=timezone.now(), forced_by=user_id
        )
    except (ServiceUnavailable, UpstreamFailed) as exc:
        fallback = _fallback_quote(pair, because=exc)
        if fallback is None:
            raise
        return fallback


def fetch_configured_pairs(*, trigger: str) -> list[Refreshed]:
    """Fetch every pair of ``QUOTES_PAIRS`` unless a recent enough quote exists.

    At start-up a quote younger than ``QUOTES_INTERVAL_SECONDS`` is enough (a restart does
    not spend a call); on a scheduled tick one younger than half of it is (a redelivered or
    doubled tick, or a forced refresh just before, spends none either). A failing pair is
    logged and does not stop the others.
    """
    interval = timedelta(seconds=settings.QUOTES_INTERVAL_SECONDS)
    max_age = interval if trigger == Quote.Trigger.STARTUP else interval / 2
    results: list[Refreshed] = []
    for pair in configured_pairs():
        try:
            result = refresh_quote(pair=pair, trigger=trigger, fresh_after=timezone.now() - max_age)
        except ApplicationError as exc:
            logger.warning("%s fetch of %s failed: %s (%s)", trigger, pair, exc.message, exc.code)
            continue
        if result.fetched:
            logger.info("%s fetch of %s: %s", trigger, pair, result.quote.rate)
        else:
            logger.info("%s fetch of %s skipped: a recent quote exists", trigger, pair)
        results.append(result)
    return results


# -- internals -------------------------------------------------------------------------


def _fallback_quote(pair: Pair, *, because: ApplicationError) -> Refreshed | None:
    """A CoinGecko quote of ``pair`` stored now, or None when CoinGecko cannot give one."""
    if not coingecko.priceable(pair):
        return None
    try:
        rate = coingecko.fetch_rates([pair]).get(pair)
    except UpstreamError as exc:
        logger.warning("fallback CoinGecko %s failed too: %s (%s)", pair, exc.message, exc.kind)
        return None
    if rate is None:
        return None
    now = timezone.now()
    quote = record_quote(
        pair=pair,
        rate=rate,
        refreshed_at=now,
        trigger=Quote.Trigger.FORCED,
        source=Quote.Source.COINGECKO,
    )
    warning = (
        f"Alpha Vantage could not answer ({because.code}: {because.message}); "
        "this rate is CoinGecko's."
    )
    return Refreshed(quote=quote, fetched=True, warning=warning)


def _refuse_unlisted_codes(pair: Pair) -> None:
    unlisted = unlisted_codes(pair)
    if unlisted:
        fields = {"from_currency": pair.from_currency, "to_currency": pair.to_currency}
        raise ApplicationError(
            f"Alpha Vantage lists no currency {' or '.join(unlisted)} (its physical and "
            f"digital currency lists): no {pair} rate exists.",
            code="unknown_currency",
            extra={
                "errors": {
                    field: [f"{code} is not on Alpha Vantage's currency lists."]
                    for field, code in fields.items()
                    if code in unlisted
                }
            },
        )


def _reserve_call(*, forced_by: int | None) -> None:
    """Count the call we are about to make against today's quota (and the user's share)."""
    if not upstream.api_key_configured():
        raise upstream.not_configured_error()
    if forced_by is None:
        budget.reserve_call(provider=budget.ALPHAVANTAGE, quota=settings.ALPHAVANTAGE_DAILY_QUOTA)
        return
    budget.reserve_forced_call(
        provider=budget.ALPHAVANTAGE,
        user_id=forced_by,
        quota=settings.ALPHAVANTAGE_DAILY_QUOTA,
        schedule_reserve=settings.QUOTES_SCHEDULE_RESERVED_CALLS,
        user_share=settings.QUOTES_USER_DAILY_FORCED,
    )


def _fetch(pair: Pair) -> ExchangeRate:
    """One upstream call (already counted); failures as our HTTP errors."""
    try:
        return upstream.fetch_exchange_rate(pair)
    except UpstreamError as exc:
        metrics.record_upstream_failure("alphavantage", exc.kind)
        if isinstance(exc, UpstreamRateLimited):
            wait = exc.retry_after if exc.retry_after is not None else 60
            budget.block_until(
                provider=budget.ALPHAVANTAGE, until=timezone.now() + timedelta(seconds=wait)
            )
        logger.warning("Alpha Vantage %s failed: %s (%s)", pair, exc.message, exc.kind)
        raise upstream.as_application_error(exc, pair=pair) from exc
    except Exception as exc:
        # A failure the client does not type (a malformed ALPHAVANTAGE_URL, a bug): still
        # the upstream call that failed, answered 502 with the cause in the log, never 500.
        logger.exception("Alpha Vantage %s failed unexpectedly", pair)
        metrics.record_upstream_failure("alphavantage", "error")
        raise UpstreamFailed(
            f"The call to Alpha Vantage failed ({type(exc).__name__}).", code="upstream_error"
        ) from exc


def _pair_filter(pair: Pair) -> Q:
    return Q(from_currency=pair.from_currency, to_currency=pair.to_currency)


def _outcome_since(pair: Pair, fresh_after: datetime, started_at: datetime) -> Refreshed | None:
    """A quote fresh enough, or the error of a fetch that failed after we started waiting."""
    # Only Alpha Vantage's quotes: they are the record the schedule keeps.
    quote = (
        Quote.objects.filter(
            _pair_filter(pair), source=Quote.Source.ALPHAVANTAGE, fetched_at__gte=fresh_after
        )
        .order_by("-fetched_at", "-id")
        .first()
    )
    if quote is not None:
        return Refreshed(quote=quote, fetched=False)
    row = PairFetch.objects.filter(_pair_filter(pair), failed_at__gte=started_at).first()
    if row is not None and row.failure:
        raise _error_from_record(row.failure)
    return None


def _acquire_lease(pair: Pair, token: str, *, seconds: float) -> bool:
    now = timezone.now()
    # One conditional UPDATE: on PostgreSQL a racer blocks on the row, then re-checks the
    # condition against the winner's row and updates nothing; SQLite serialises writers.
    acquired = PairFetch.objects.filter(
        _pair_filter(pair), Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)
    ).update(lease_token=token, lease_expires_at=now + timedelta(seconds=seconds))
    return acquired == 1


def _release_lease(pair: Pair, token: str, failure: ApplicationError | None) -> None:
    PairFetch.objects.filter(_pair_filter(pair), lease_token=token).update(
        lease_token="",
        lease_expires_at=None,
        failed_at=timezone.now() if failure is not None else None,
        failure=_error_record(failure) if failure is not None else None,
    )
    announce_fetch_done(pair)


def _error_record(error: ApplicationError) -> dict[str, Any]:
    return {
        "status": error.status,
        "code": error.code,
        "detail": error.message,
        "retry_after": getattr(error, "retry_after", None),
    }


def _error_from_record(record: dict[str, Any]) -> ApplicationError:
    status = record.get("status")
    if status == ServiceUnavailable.status:
        return ServiceUnavailable(
            record["detail"], retry_after=int(record.get("retry_after") or 5), code=record["code"]
        )
    if status == UpstreamFailed.status:
        return UpstreamFailed(record["detail"], code=record["code"])
    # A 4xx (an unknown pair): the waiters asked for the same pair, so theirs is wrong too.
    return ApplicationError(record["detail"], code=record["code"], status=status)
