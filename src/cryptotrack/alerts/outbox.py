"""The outbox state machine: one message per row, however often a task runs or a worker dies.

Every outbox (price alert notifications, position alert firings, channel deliveries) is a
model built on ``models.OutboxRow`` and described by an ``Outbox``: how its rows are sent
(a ``Sender``: one SMTP connection for the email outboxes, ``notify.senders`` for the
deliveries to notification channels), when a row is moot (its alert deleted), what
happens once it is sent, and its retry policy. Each row moves ``pending -> sending ->
sent`` through conditional UPDATEs:

* **claim**: ``pending`` (or ``sending`` whose lease ran out) becomes ``sending`` with
  ``attempts + 1`` and a lease (``due_at``) longer than any one SMTP exchange can last.
  Only one sender can win that UPDATE, so two tasks holding the same id (a redelivered
  message, the monitor's sweep, a Celery retry) never both send;
* **send** through the outbox's sender, which says how it went (an ``Attempt``: delivered,
  retry or failed); an email keeps a ``Message-ID`` fixed per row, a delivery its
  ``delivery_id``;
* **record**: ``sent`` (and the outbox's ``on_sent``) right after the server's ``250``,
  only if our claim (its ``attempts`` value) still stands.

A ``retry`` (SMTP server down or refusing with 4xx, timeout; a 5xx/429 from a receiver)
puts the row back to ``pending`` with a backoff and the task retries; ``failed`` (a 5xx
from SMTP for this message, a final 4xx) marks it ``failed``. Exactly-once holds except
in one window: a worker killed after the server accepted the message and before ``sent``
was committed. Then the lease runs out and the row is sent again (at-least-once, chosen
over losing the alert), with the same ``Message-ID`` (or delivery id), so receivers that
deduplicate show it once.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parseaddr
from functools import partial
from typing import Any, Protocol

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from cryptotrack.alerts.models import OutboxRow, OutboxState
from cryptotrack.exchanges.retry import backoff_delay
from cryptotrack.notify.outcome import Attempt, Verdict, smtp_failure

logger = logging.getLogger(__name__)

# Emails per task: one task carries many, each still its own message and its own claim.
DELIVERY_BATCH_SIZE = 50
# Attempts per row before it is given up: with the backoff below (full jitter: half its
# ceiling on average, 1, 2, 4 ... s then 300 s), about an hour of outage on average.
MAX_ATTEMPTS = 30
RETRY_BASE_SECONDS = 1.0
RETRY_MAX_SECONDS = 300.0
# Rows re-queued per monitor run by the sweep.
SWEEP_LIMIT = 10_000

State = OutboxState
Enqueue = Callable[[list[int]], None]


class Sender(Protocol):
    """Sends one claimed row and says how it went; closed once at the end of a run."""

    def send(self, row: Any) -> Attempt: ...

    def close(self) -> None: ...


def _attempts_used_up(now: datetime) -> Q:
    return Q(attempts__gte=MAX_ATTEMPTS)


def _gave_enough_attempts(row: Any) -> bool:
    return bool(row.attempts >= MAX_ATTEMPTS)


def _backoff_after(row: Any, attempt: Attempt) -> float:
    return retry_delay(row.attempts)


def _nothing(*args: Any) -> None:
    return None


@dataclass(frozen=True)
class Outbox:
    """One outbox: its row model, its sender and what is particular to its rows.

    ``related``: what ``select_related`` loads with a claimed row. ``moot``: why the row
    must not be sent any more (``None``: send it). ``open_sender``: a sender for one run.
    ``on_sent``: called in the transaction that records the send, with the row and the
    time; ``on_failed``: called when a row is given up; ``on_attempt``: called after every
    send with what it did. ``counter``: the Prometheus counter of rows by ``outcome``.

    The retry policy: ``give_up`` (the claimed row has had its last try), ``next_try`` (s
    until the next try after a ``retry``), ``exhausted`` (the same as ``give_up``, as a
    filter, for the sweep) and ``stop_on_retry`` (a ``retry`` ends the run and the rest is
    retried with the row, as when an SMTP server is down; otherwise only that row is).
    """

    name: str
    model: type[OutboxRow]
    related: tuple[str, ...]
    moot: Callable[[Any], str | None]
    open_sender: Callable[[], Sender]
    counter: Any
    noun: str = "email"
    on_sent: Callable[[Any, datetime], None] = _nothing
    on_failed: Callable[[Any], None] = _nothing
    on_attempt: Callable[[Any, Attempt], None] = _nothing
    give_up: Callable[[Any], bool] = _gave_enough_attempts
    next_try: Callable[[Any, Attempt], float] = _backoff_after
    exhausted: Callable[[datetime], Q] = _attempts_used_up
    lease: Callable[[], float] = lambda: lease_seconds()
    stop_on_retry: bool = True


class SmtpSender:
    """The email outboxes' sender: one SMTP connection per run, opened at the first email."""

    def __init__(self, compose: Callable[[Any], EmailMessage]) -> None:
        self.compose = compose
        self.connection = get_connection(fail_silently=False)
        self.opened = False

    def send(self, row: Any) -> Attempt:
        email = self.compose(row)
        if not any(email.to):
            return Attempt(Verdict.FAILED, error="the account has no email address")
        try:
            if not self.opened:
                self.connection.open()
                self.opened = True
            self.connection.send_messages([email])
        except (smtplib.SMTPException, OSError) as exc:
            return smtp_failure(exc)
        return Attempt(Verdict.DELIVERED, status=250)

    def close(self) -> None:
        if not self.opened:
            return
        try:
            self.connection.close()
        except (smtplib.SMTPException, OSError):
            logger.debug("SMTP connection did not close cleanly", exc_info=True)


@dataclass
class DeliveryOutcome:
    """What one delivery run did; ``retry_ids`` are to be tried again after ``retry_in`` s."""

    sent: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)
    retry_ids: list[int] = field(default_factory=list)
    retry_in: float = 0.0
    # Outboxes that do not stop on a retry: each row to try again, and in how many s.
    later: list[tuple[int, float]] = field(default_factory=list)


def lease_seconds() -> float:
    """How long a claim holds: longer than the slowest possible SMTP exchange (connect,
    EHLO, MAIL, RCPT, DATA, body, QUIT, each bounded by ``EMAIL_TIMEOUT``)."""
    return float(settings.EMAIL_TIMEOUT) * 8 + 5


def retry_delay(attempts: int) -> float:
    """Backoff after the ``attempts``-th failed try: full jitter below 1, 2, 4, ... s, up to
    5 min (the project's one backoff formula, shared with the upstream clients)."""
    return backoff_delay(attempts, base_delay=RETRY_BASE_SECONDS, max_delay=RETRY_MAX_SECONDS)


def batches(ids: Sequence[int]) -> list[list[int]]:
    """Row ids in task-sized batches."""
    size = DELIVERY_BATCH_SIZE
    return [list(ids[i : i + size]) for i in range(0, len(ids), size)]


def enqueue_on_commit(ids: Sequence[int], enqueue: Enqueue) -> int:
    """Queue these rows in batches once the current transaction commits (a task never
    looks for a row that is not there yet); return the number of batches."""
    chunks = batches(ids)
    for batch in chunks:
        transaction.on_commit(partial(enqueue, batch), robust=True)
    return len(chunks)


def message_id(*, kind: str, alert_id: int, row_id: int) -> str:
    """The same ``Message-ID`` on every attempt for a row: a resend can be recognised."""
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "cryptotrack"
    return f"<{kind}-{alert_id}-notification-{row_id}@{domain}>"


def deliver(outbox: Outbox, row_ids: Sequence[int]) -> DeliveryOutcome:
    """Send each row we can claim, in order, through one sender.

    Rows already sent, cancelled, failed or claimed by a live sender are skipped. After a
    ``retry`` the row goes back to ``pending``; with ``stop_on_retry`` the run stops and it
    and the rest are returned in ``retry_ids`` (with ``retry_in``), otherwise the row alone
    is returned in ``later`` and the run goes on.
    """
    outcome = DeliveryOutcome()
    ids = list(dict.fromkeys(row_ids))
    sender = outbox.open_sender()
    try:
        for index, row_id in enumerate(ids):
            row = _claim(outbox, row_id)
            if row is None:
                outcome.skipped.append(row_id)
                continue
            if (why := outbox.moot(row)) is not None:
                _finish(outbox, row, State.CANCELLED, why)
                outcome.cancelled.append(row.pk)
                continue
            attempt = sender.send(row)
            outbox.on_attempt(row, attempt)
            if attempt.delivered:
                (outcome.sent if _record_sent(outbox, row) else outcome.skipped).append(row.pk)
            elif _failed_send(outbox, row, attempt, outcome, rest=ids[index:]):
                return outcome
    finally:
        sender.close()
        _count(outbox, outcome)
    return outcome


def _failed_send(
    outbox: Outbox, row: Any, attempt: Attempt, outcome: DeliveryOutcome, *, rest: list[int]
) -> bool:
    """Record a failed send; True when the run must stop (``outcome`` says what to retry)."""
    what = f"{outbox.name} {outbox.noun} {row.pk}"
    if attempt.verdict == Verdict.FAILED:
        logger.error("%s refused for good: %s", what, attempt.error)
        _give_up(outbox, row, attempt.error, outcome)
        return False
    if outbox.give_up(row):
        logger.error("%s given up after %d attempts: %s", what, row.attempts, attempt.error)
        _give_up(outbox, row, attempt.error, outcome)
        if not outbox.stop_on_retry:
            return False
        outcome.retry_ids, outcome.retry_in = rest[1:], RETRY_BASE_SECONDS
        return True
    delay = outbox.next_try(row, attempt)
    logger.warning(
        "%s failed (attempt %d), retrying in %.1f s: %s", what, row.attempts, delay, attempt.error
    )
    outbox.counter.labels(outcome="retried").inc()
    _release(outbox, row, delay, attempt.error)
    if not outbox.stop_on_retry:
        outcome.later.append((row.pk, delay))
        return False
    outcome.retry_ids, outcome.retry_in = rest, delay
    return True


def _give_up(outbox: Outbox, row: Any, error: str, outcome: DeliveryOutcome) -> None:
    with transaction.atomic():
        if _finish(outbox, row, State.FAILED, error):
            outbox.on_failed(row)
    outcome.failed.append(row.pk)


def _count(outbox: Outbox, outcome: DeliveryOutcome) -> None:
    """Rows by outcome (Prometheus); ``retried`` is counted where a row is released."""
    for name, ids in (
        ("sent", outcome.sent),
        ("failed", outcome.failed),
        ("cancelled", outcome.cancelled),
    ):
        if ids:
            outbox.counter.labels(outcome=name).inc(len(ids))


def requeue_stalled(outbox: Outbox, *, enqueue: Enqueue, limit: int = SWEEP_LIMIT) -> int:
    """Queue again the rows whose task was lost (``pending`` well past ``due_at``) or whose
    sender died (``sending`` past its lease); return how many. Run by every monitor check.

    A row is pushed ``grace`` into the future as it is queued, so a stopped worker fleet
    does not collect one more task per row at every check.
    """
    rows = _rows(outbox)
    now = timezone.now()
    grace = timedelta(seconds=2 * settings.ALERTS_INTERVAL_SECONDS)
    stalled = Q(state=State.PENDING, due_at__lte=now - grace) | Q(
        state=State.SENDING, due_at__lte=now
    )
    ids = list(rows.filter(stalled).order_by("due_at", "id").values_list("id", flat=True)[:limit])
    if not ids:
        return 0
    # A dead sender's claim is void: back to pending (its attempt stays counted), or failed
    # once it has used up its attempts.
    rows.filter(outbox.exhausted(now), pk__in=ids, state=State.SENDING, due_at__lte=now).update(
        state=State.FAILED, last_error="sender lost after the last attempt"
    )
    rows.filter(pk__in=ids).filter(stalled).update(state=State.PENDING, due_at=now + grace)
    requeued = list(
        rows.filter(pk__in=ids, state=State.PENDING).order_by("id").values_list("id", flat=True)
    )
    for batch in batches(requeued):
        enqueue(batch)
    if requeued:
        logger.warning("Re-queued %d stalled %s %ss", len(requeued), outbox.name, outbox.noun)
    return len(requeued)


def _rows(outbox: Outbox) -> Any:
    """The outbox model's manager (typed loosely: the abstract base knows no ``id``)."""
    return outbox.model._default_manager


def _claim(outbox: Outbox, row_id: int) -> Any:
    rows = _rows(outbox)
    now = timezone.now()
    claimed = (
        rows.filter(pk=row_id)
        .filter(Q(state=State.PENDING) | Q(state=State.SENDING, due_at__lte=now))
        .update(
            state=State.SENDING,
            attempts=F("attempts") + 1,
            due_at=now + timedelta(seconds=outbox.lease()),
        )
    )
    if not claimed:
        return None
    return rows.select_related(*outbox.related).get(pk=row_id)


def _record_sent(outbox: Outbox, row: Any) -> bool:
    """Record the send unless another sender has claimed the row since (then say so)."""
    now = timezone.now()
    with transaction.atomic():
        recorded = (
            _rows(outbox)
            .filter(
                pk=row.pk,
                attempts=row.attempts,
                state__in=[State.SENDING, State.PENDING],
            )
            .update(state=State.SENT, sent_at=now, due_at=now, last_error="")
        )
        if not recorded:
            logger.error(
                "%s %s %s was sent after its claim ran out: it may arrive twice",
                outbox.name,
                outbox.noun,
                row.pk,
            )
            return False
        outbox.on_sent(row, now)
    return True


def _release(outbox: Outbox, row: Any, delay: float, error: str) -> None:
    _rows(outbox).filter(pk=row.pk, attempts=row.attempts, state=State.SENDING).update(
        state=State.PENDING, due_at=timezone.now() + timedelta(seconds=delay), last_error=error
    )


def _finish(outbox: Outbox, row: Any, state: str, error: str) -> bool:
    """End the row in ``state`` if our claim still stands; say whether it did."""
    return bool(
        _rows(outbox)
        .filter(pk=row.pk, attempts=row.attempts, state=State.SENDING)
        .update(state=state, due_at=timezone.now(), last_error=error)
    )


def plain(value: object) -> str:
    """A decimal without exponent or trailing zeros: ``70000``, ``0.00001234``."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
