"""The outbox state machine: one email per row, however often a task runs or a worker dies.

Every outbox (price alert notifications, position alert firings) is a model built on
``models.OutboxRow`` and described by an ``Outbox``: what the row's email says, when it
is moot (its alert deleted), what happens once it is sent. Each row moves
``pending -> sending -> sent`` through conditional UPDATEs:

* **claim**: ``pending`` (or ``sending`` whose lease ran out) becomes ``sending`` with
  ``attempts + 1`` and a lease (``due_at``) longer than any one SMTP exchange can last.
  Only one sender can win that UPDATE, so two tasks holding the same id (a redelivered
  message, the monitor's sweep, a Celery retry) never both send;
* **send** over the already open SMTP connection, with a ``Message-ID`` fixed per row;
* **record**: ``sent`` (and the outbox's ``on_sent``) right after the server's ``250``,
  only if our claim (its ``attempts`` value) still stands.

SMTP failures: a transient one (server down or refusing with 4xx, timeout) puts the row
back to ``pending`` with a backoff and the task retries; a permanent one (5xx for this
message) marks it ``failed``. Exactly-once holds except in one window: a worker killed
after the server accepted the message and before ``sent`` was committed. Then the lease
runs out and the row is sent again (at-least-once, chosen over losing the alert), with
the same ``Message-ID``, so mail clients that deduplicate show it once.

The notification-channels issue adds senders per channel kind on this same machine.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from cryptotrack.alerts.models import OutboxRow, OutboxState
from cryptotrack.exchanges.retry import backoff_delay

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


@dataclass(frozen=True)
class Outbox:
    """One outbox: its row model and what is particular to its emails.

    ``related``: what ``select_related`` loads with a claimed row (its alert's user at
    least). ``owner``: the user the row's email goes to. ``moot``: why the row must not be
    sent any more (``None``: send it). ``compose``: the email. ``on_sent``: called in the
    transaction that records the send, with the row and the time. ``counter``: the
    Prometheus counter of emails by ``outcome``.
    """

    name: str
    model: type[OutboxRow]
    related: tuple[str, ...]
    owner: Callable[[Any], Any]
    moot: Callable[[Any], str | None]
    compose: Callable[[Any], EmailMessage]
    counter: Any
    on_sent: Callable[[Any, datetime], None] = lambda row, now: None


@dataclass
class DeliveryOutcome:
    """What one delivery run did; ``retry_ids`` are to be tried again after ``retry_in`` s."""

    sent: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)
    retry_ids: list[int] = field(default_factory=list)
    retry_in: float = 0.0


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


def message_id(*, kind: str, alert_id: int, row_id: int) -> str:
    """The same ``Message-ID`` on every attempt for a row: a resend can be recognised."""
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "cryptotrack"
    return f"<{kind}-{alert_id}-notification-{row_id}@{domain}>"


def deliver(outbox: Outbox, row_ids: Sequence[int]) -> DeliveryOutcome:
    """Send the email of each row we can claim, in order, over one SMTP connection.

    Rows already sent, cancelled, failed or claimed by a live sender are skipped. On a
    transient SMTP failure the run stops: the failed row goes back to ``pending`` and it
    and the rest are returned in ``retry_ids`` (with ``retry_in``) for the caller's retry.
    """
    outcome = DeliveryOutcome()
    ids = list(dict.fromkeys(row_ids))
    connection = get_connection(fail_silently=False)
    opened = False
    try:
        for index, row_id in enumerate(ids):
            row = _claim(outbox, row_id)
            if row is None:
                outcome.skipped.append(row_id)
                continue
            if (reason := _unsendable(outbox, row)) is not None:
                state, error = reason
                _finish(outbox, row, state, error)
                (outcome.cancelled if state == State.CANCELLED else outcome.failed).append(row.pk)
                continue
            try:
                if not opened:
                    connection.open()
                    opened = True
                connection.send_messages([outbox.compose(row)])
            except (smtplib.SMTPException, OSError) as exc:
                if _failed_send(outbox, row, exc, outcome, rest=ids[index:]):
                    return outcome
                continue
            (outcome.sent if _record_sent(outbox, row) else outcome.skipped).append(row.pk)
    finally:
        if opened:
            try:
                connection.close()
            except (smtplib.SMTPException, OSError):
                logger.debug("SMTP connection did not close cleanly", exc_info=True)
        _count(outbox, outcome)
    return outcome


def _unsendable(outbox: Outbox, row: Any) -> tuple[str, str] | None:
    if (why := outbox.moot(row)) is not None:
        return State.CANCELLED, why
    if not outbox.owner(row).email:
        return State.FAILED, "the account has no email address"
    return None


def _failed_send(
    outbox: Outbox, row: Any, exc: Exception, outcome: DeliveryOutcome, *, rest: list[int]
) -> bool:
    """Record a failed send; True when the run must stop (``outcome`` says what to retry)."""
    error = f"{type(exc).__name__}: {exc}"[:500]
    if _is_permanent(exc):
        logger.error("%s email %s refused for good: %s", outbox.name, row.pk, error)
        _finish(outbox, row, State.FAILED, error)
        outcome.failed.append(row.pk)
        return False
    if row.attempts >= MAX_ATTEMPTS:
        logger.error(
            "%s email %s given up after %d attempts: %s",
            outbox.name,
            row.pk,
            row.attempts,
            error,
        )
        _finish(outbox, row, State.FAILED, error)
        outcome.failed.append(row.pk)
        outcome.retry_ids, outcome.retry_in = rest[1:], RETRY_BASE_SECONDS
        return True
    delay = retry_delay(row.attempts)
    logger.warning(
        "%s email %s failed (attempt %d), retrying in %.1f s: %s",
        outbox.name,
        row.pk,
        row.attempts,
        delay,
        error,
    )
    outbox.counter.labels(outcome="retried").inc()
    _release(outbox, row, delay, error)
    outcome.retry_ids, outcome.retry_in = rest, delay
    return True


def _count(outbox: Outbox, outcome: DeliveryOutcome) -> None:
    """Emails by outcome (Prometheus); ``retried`` is counted where a row is released."""
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
    rows.filter(
        pk__in=ids, state=State.SENDING, due_at__lte=now, attempts__gte=MAX_ATTEMPTS
    ).update(state=State.FAILED, last_error="sender lost after the last attempt")
    rows.filter(pk__in=ids).filter(stalled).update(state=State.PENDING, due_at=now + grace)
    requeued = list(
        rows.filter(pk__in=ids, state=State.PENDING).order_by("id").values_list("id", flat=True)
    )
    for batch in batches(requeued):
        enqueue(batch)
    if requeued:
        logger.warning("Re-queued %d stalled %s emails", len(requeued), outbox.name)
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
            due_at=now + timedelta(seconds=lease_seconds()),
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
                "%s email %s was sent after its claim ran out: it may arrive twice",
                outbox.name,
                row.pk,
            )
            return False
        outbox.on_sent(row, now)
    return True


def _release(outbox: Outbox, row: Any, delay: float, error: str) -> None:
    _rows(outbox).filter(pk=row.pk, attempts=row.attempts, state=State.SENDING).update(
        state=State.PENDING, due_at=timezone.now() + timedelta(seconds=delay), last_error=error
    )


def _finish(outbox: Outbox, row: Any, state: str, error: str) -> None:
    _rows(outbox).filter(pk=row.pk, attempts=row.attempts, state=State.SENDING).update(
        state=state, due_at=timezone.now(), last_error=error
    )


def _is_permanent(exc: Exception) -> bool:
    """A 5xx about this message (recipient, sender or content refused) will not get better."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(code >= 500 for code in codes)
    if isinstance(exc, smtplib.SMTPSenderRefused | smtplib.SMTPDataError):
        return exc.smtp_code >= 500
    return False


def plain(value: object) -> str:
    """A decimal without exponent or trailing zeros: ``70000``, ``0.00001234``."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
