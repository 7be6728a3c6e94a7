"""Polling one batch of subscriptions: claim their slots, ask KuCoin concurrently, record.

Runs inside a Celery worker child. The async part runs on one event loop per worker
process, with one KuCoin client (and its connection pool) on it, both kept for the life
of the process and made in it (after the fork: a loop or a pool never crosses one), so
a batch does not pay for a new loop, new connections and TLS handshakes. Credentials
are decrypted here, for this batch only, and go nowhere but into the signed requests.
Results are recorded as they arrive (every ``FLUSH_SECONDS``), so one slow or failing
user never holds back the others' positions.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from cryptotrack.accounts.services import exchange_account_credentials
from cryptotrack.balances.refresh import refresh_due_balances
from cryptotrack.core import metrics
from cryptotrack.exchanges import kucoin
from cryptotrack.exchanges.errors import UpstreamError, UpstreamInvalidCredentials
from cryptotrack.positions.dispatch import Batch
from cryptotrack.positions.models import TrackingSubscription
from cryptotrack.positions.storage import PollOutcome, record_poll_outcomes

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 1.0


@dataclass(frozen=True)
class PollJob:
    subscription_id: int
    user_id: int
    account_id: int
    symbols: tuple[str, ...]
    credentials: kucoin.KucoinCredentials | None
    baseline: bool = False


@dataclass(frozen=True)
class BatchSummary:
    claimed: int
    polled: int
    failed: int
    skipped: int


def claim_slots(slots: dict[int, datetime]) -> list[int]:
    """Mark each subscription's slot as polled; return those not already polled in it.

    This is what makes a redelivered (or duplicated) batch harmless: the second copy
    finds ``last_slot`` already at the slot and skips the row.
    """
    if not slots:
        return []
    if connection.vendor == "postgresql":
        # Two array parameters, not a placeholder pair per row: the same short query text
        # for any batch (see core/lookups.py for why that matters).
        with connection.cursor() as cursor:
            cursor.execute(
                """
                UPDATE positions_trackingsubscription AS s SET last_slot = v.slot
                FROM unnest(%s::bigint[], %s::timestamptz[]) AS v(id, slot)
                WHERE s.id = v.id AND s.state = 'active'
                  AND (s.last_slot IS NULL OR s.last_slot < v.slot)
                RETURNING s.id
                """,
                [list(slots), list(slots.values())],
            )
            return [row[0] for row in cursor.fetchall()]
    claimed = []
    with transaction.atomic():
        for subscription_id, slot in slots.items():
            updated = (
                TrackingSubscription.objects.filter(
                    id=subscription_id, state=TrackingSubscription.State.ACTIVE
                )
                .exclude(last_slot__gte=slot)
                .update(last_slot=slot)
            )
            if updated:
                claimed.append(subscription_id)
    return claimed


def _jobs(subscription_ids: list[int]) -> list[PollJob]:
    """One job per active subscription, i.e. per exchange account, with its credentials."""
    subscriptions = (
        TrackingSubscription.objects.filter(
            id__any_of=subscription_ids, state=TrackingSubscription.State.ACTIVE
        )
        .select_related("account")
        .only(  # what a job holds, and no more (each batch reads a thousand of these)
            "user",
            "account__api_key_encrypted",
            "account__api_secret_encrypted",
            "account__api_passphrase_encrypted",
            "symbols",
            "events_baseline_pending",
        )
    )
    return [
        PollJob(
            subscription_id=subscription.id,
            user_id=subscription.user_id,
            account_id=subscription.account_id,
            symbols=tuple(subscription.symbols or ()),
            credentials=exchange_account_credentials(account=subscription.account),
            baseline=subscription.events_baseline_pending,
        )
        for subscription in subscriptions
    ]


class WorkerLoop:
    """The event loop and KuCoin client of one worker process (see the module docstring)."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.runner = asyncio.Runner()
        self._client: kucoin.KucoinClient | None = None
        self._client_settings: tuple[object, ...] = ()
        atexit.register(self.close)

    def close(self) -> None:
        """Close the client's connections, then the loop (at the process's exit)."""
        if self.pid != os.getpid():
            return  # a forked child's inherited copy: the parent's to close
        if self._client is not None:
            self.runner.run(self._client.aclose())
            self._client = None
        self.runner.close()

    def client(self) -> kucoin.KucoinClient:
        """The process's client; a new one only when its settings changed (tests do)."""
        wanted = (
            settings.KUCOIN_SPOT_URL,
            settings.KUCOIN_FUTURES_URL,
            settings.KUCOIN_TIMEOUT_SECONDS,
            settings.POSITIONS_POLL_CONCURRENCY,
        )
        if self._client is None or wanted != self._client_settings:
            if self._client is not None:
                self.runner.run(self._client.aclose())
            self._client = kucoin.KucoinClient(
                spot_url=settings.KUCOIN_SPOT_URL,
                futures_url=settings.KUCOIN_FUTURES_URL,
                timeout=settings.KUCOIN_TIMEOUT_SECONDS,
                max_attempts=2,
                max_connections=settings.POSITIONS_POLL_CONCURRENCY,
            )
            self._client_settings = wanted
        return self._client


_worker_loop: WorkerLoop | None = None


def worker_loop() -> WorkerLoop:
    """This process's loop and client, made on first use in this process."""
    global _worker_loop
    if _worker_loop is None or _worker_loop.pid != os.getpid():
        _worker_loop = WorkerLoop()
    return _worker_loop


def poll_batch(*, batch: Batch) -> BatchSummary:
    """Poll every subscription of ``batch`` not yet polled in its slot, and record it all."""
    slots = {int(subscription_id): datetime.fromisoformat(slot) for subscription_id, slot in batch}
    claimed = claim_slots(slots)
    jobs = _jobs(claimed)
    started = time.monotonic()
    if jobs:
        loop = worker_loop()
        outcomes = loop.runner.run(_poll_and_record(jobs, client=loop.client()))
    else:
        outcomes = []
    failed = sum(1 for o in outcomes if o.error is not None)
    _count(outcomes, slots)
    if outcomes:
        lateness = max((o.started_at - slots[o.subscription_id]).total_seconds() for o in outcomes)
        logger.info(
            "polled %d subscription(s) in %.0f ms: %d failed, %d already polled, late <= %.1f s",
            len(jobs),
            (time.monotonic() - started) * 1000,
            failed,
            len(batch) - len(claimed),
            lateness,
        )
    return BatchSummary(
        claimed=len(batch), polled=len(jobs), failed=failed, skipped=len(batch) - len(claimed)
    )


async def _poll_and_record(
    jobs: list[PollJob], *, client: kucoin.KucoinClient
) -> list[PollOutcome]:
    record = sync_to_async(_record, thread_sensitive=True)
    outcomes: list[PollOutcome] = []
    limit = asyncio.Semaphore(settings.POSITIONS_POLL_CONCURRENCY)
    # The recording thread lives as long as the loop: its connection is reused from batch
    # to batch, unless it broke or outlived CONN_MAX_AGE.
    await sync_to_async(close_old_connections, thread_sensitive=True)()

    async def poll(job: PollJob) -> PollOutcome:
        async with limit:
            started_at = timezone.now()
            if job.credentials is None:
                error: UpstreamError = UpstreamInvalidCredentials(
                    "No KuCoin credentials are stored for this account."
                )
                return _outcome(job, started_at, error=error)
            try:
                positions = await client.futures_positions(job.credentials)
            except UpstreamError as exc:
                metrics.record_upstream_failure("kucoin", exc.kind)
                return _outcome(job, started_at, error=exc)
            return _outcome(job, started_at, positions=positions)

    pending = {asyncio.ensure_future(poll(job)) for job in jobs}
    balances: list[asyncio.Future[Any]] = []
    try:
        while pending:
            done, pending = await asyncio.wait(pending, timeout=FLUSH_SECONDS)
            if done:
                flushed = [task.result() for task in done]
                await record(flushed)
                outcomes += flushed
                # Balances of the accounts just polled, when due; never fails the poll.
                polled = _polled_accounts(flushed, jobs)
                balances.append(asyncio.ensure_future(refresh_due_balances(client, polled)))
        await asyncio.gather(*balances)
    finally:
        # The loop outlives this batch: leave nothing of it running there.
        for task in pending:
            task.cancel()
        for refresh in balances:
            refresh.cancel()
    return outcomes


def _polled_accounts(
    outcomes: list[PollOutcome], jobs: list[PollJob]
) -> list[tuple[int, kucoin.KucoinCredentials]]:
    """(account id, credentials) of the outcomes whose positions poll succeeded."""
    succeeded = {o.subscription_id for o in outcomes if o.error is None}
    return [
        (job.account_id, job.credentials)
        for job in jobs
        if job.subscription_id in succeeded and job.credentials is not None
    ]


def _count(outcomes: list[PollOutcome], slots: dict[int, datetime]) -> None:
    """Polls by outcome (success or the failure's kind) and their lateness (Prometheus)."""
    for outcome in outcomes:
        error = outcome.error
        metrics.POLLS.labels(outcome="success" if error is None else error.kind).inc()
        late = (outcome.started_at - slots[outcome.subscription_id]).total_seconds()
        metrics.POLL_LATENESS.observe(max(0.0, late))


def _record(outcomes: list[PollOutcome]) -> None:
    record_poll_outcomes(outcomes, now=timezone.now())


def _outcome(
    job: PollJob,
    started_at: datetime,
    *,
    positions: list[kucoin.FuturesPosition] | None = None,
    error: UpstreamError | None = None,
) -> PollOutcome:
    return PollOutcome(
        subscription_id=job.subscription_id,
        user_id=job.user_id,
        account_id=job.account_id,
        symbols=job.symbols,
        started_at=started_at,
        positions=positions,
        error=error,
        baseline=job.baseline,
    )
