"""Alert emails: one per outbox row, however often a task runs or a worker dies.

Each row moves ``pending -> sending -> sent`` through conditional UPDATEs:

* **claim**: ``pending`` (or ``sending`` whose lease ran out) becomes ``sending`` with
  ``attempts + 1`` and a lease (``due_at``) longer than any one SMTP exchange can last.
  Only one sender can win that UPDATE, so two tasks holding the same id (a redelivered
  message, the monitor's sweep, a Celery retry) never both send;
* **send** over the already open SMTP connection, with a ``Message-ID`` fixed per row;
* **record**: ``sent`` (and the alert goes to sleep) right after the server's ``250``,
  only if our claim (its ``attempts`` value) still stands.

SMTP failures: a transient one (server down or refusing with 4xx, timeout) puts the row
back to ``pending`` with a backoff and the task retries; a permanent one (5xx for this
message) marks it ``failed``. Exactly-once holds except in one window: a worker killed
after the server accepted the message and before ``sent`` was committed. Then the lease
runs out and the row is sent again (at-least-once, chosen over losing the alert), with
the same ``Message-ID``, so mail clients that deduplicate show it once.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from email.utils import parseaddr

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from cryptotrack.alerts.models import Alert, AlertNotification
from cryptotrack.core import metrics
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

State = AlertNotification.State
Enqueue = Callable[[list[int]], None]


@dataclass
class DeliveryOutcome:
    """What one delivery run did; ``retry_ids`` are to be tried again after ``retry_in`` s."""

    sent: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)
    retry_ids: list[int] = field(default_factory=list)
    retry_in: float = 0.0


def enqueue_delivery(notification_ids: list[int]) -> None:
    """Queue one ``send_alert_notifications`` task for these rows."""
    from cryptotrack.alerts.tasks import send_alert_notifications

    send_alert_notifications.delay(notification_ids)


def lease_seconds() -> float:
    """How long a claim holds: longer than the slowest possible SMTP exchange (connect,
    EHLO, MAIL, RCPT, DATA, body, QUIT, each bounded by ``EMAIL_TIMEOUT``)."""
    return float(settings.EMAIL_TIMEOUT) * 8 + 5


def retry_delay(attempts: int) -> float:
    """Backoff after the ``attempts``-th failed try: full jitter below 1, 2, 4, ... s, up to
    5 min (the project's one backoff formula, shared with the upstream clients)."""
    return backoff_delay(attempts, base_delay=RETRY_BASE_SECONDS, max_delay=RETRY_MAX_SECONDS)


def deliver_notifications(notification_ids: Sequence[int]) -> DeliveryOutcome:
    """Send the email of each row we can claim, in order, over one SMTP connection.

    Rows already sent, cancelled, failed or claimed by a live sender are skipped. On a
    transient SMTP failure the run stops: the failed row goes back to ``pending`` and it
    and the rest are returned in ``retry_ids`` (with ``retry_in``) for the caller's retry.
    """
    outcome = DeliveryOutcome()
    ids = list(dict.fromkeys(notification_ids))
    connection = get_connection(fail_silently=False)
    opened = False
    try:
        for index, notification_id in enumerate(ids):
            note = _claim(notification_id)
            if note is None:
                outcome.skipped.append(notification_id)
                continue
            alert = note.alert
            if alert.status == Alert.Status.DELETED:
                _finish(note, State.CANCELLED, "the alert was deleted before the email left")
                outcome.cancelled.append(note.pk)
                continue
            if not alert.user.email:
                _finish(note, State.FAILED, "the account has no email address")
                outcome.failed.append(note.pk)
                continue
            try:
                if not opened:
                    connection.open()
                    opened = True
                connection.send_messages([compose_email(note)])
            except (smtplib.SMTPException, OSError) as exc:
                error = f"{type(exc).__name__}: {exc}"[:500]
                if _is_permanent(exc):
                    logger.error("Alert email %s refused for good: %s", note.pk, error)
                    _finish(note, State.FAILED, error)
                    outcome.failed.append(note.pk)
                    continue
                if note.attempts >= MAX_ATTEMPTS:
                    logger.error(
                        "Alert email %s given up after %d attempts: %s",
                        note.pk,
                        note.attempts,
                        error,
                    )
                    _finish(note, State.FAILED, error)
                    outcome.failed.append(note.pk)
                    outcome.retry_ids, outcome.retry_in = ids[index + 1 :], RETRY_BASE_SECONDS
                    return outcome
                delay = retry_delay(note.attempts)
                logger.warning(
                    "Alert email %s failed (attempt %d), retrying in %.1f s: %s",
                    note.pk,
                    note.attempts,
                    delay,
                    error,
                )
                metrics.ALERT_EMAILS.labels(outcome="retried").inc()
                _release(note, delay, error)
                outcome.retry_ids, outcome.retry_in = ids[index:], delay
                return outcome
            if _record_sent(note):
                outcome.sent.append(note.pk)
            else:
                outcome.skipped.append(note.pk)
    finally:
        if opened:
            try:
                connection.close()
            except (smtplib.SMTPException, OSError):
                logger.debug("SMTP connection did not close cleanly", exc_info=True)
        _count(outcome)
    return outcome


def _count(outcome: DeliveryOutcome) -> None:
    """Emails by outcome (Prometheus); ``retried`` is counted where a row is released."""
    for name, ids in (
        ("sent", outcome.sent),
        ("failed", outcome.failed),
        ("cancelled", outcome.cancelled),
    ):
        if ids:
            metrics.ALERT_EMAILS.labels(outcome=name).inc(len(ids))


def requeue_stalled(*, enqueue: Enqueue, limit: int = SWEEP_LIMIT) -> int:
    """Queue again the rows whose task was lost (``pending`` well past ``due_at``) or whose
    sender died (``sending`` past its lease); return how many. Run by every monitor check.

    A row is pushed ``grace`` into the future as it is queued, so a stopped worker fleet
    does not collect one more task per row at every check.
    """
    now = timezone.now()
    grace = timedelta(seconds=2 * settings.ALERTS_INTERVAL_SECONDS)
    stalled = Q(state=State.PENDING, due_at__lte=now - grace) | Q(
        state=State.SENDING, due_at__lte=now
    )
    ids = list(
        AlertNotification.objects.filter(stalled)
        .order_by("due_at", "id")
        .values_list("id", flat=True)[:limit]
    )
    if not ids:
        return 0
    # A dead sender's claim is void: back to pending (its attempt stays counted), or failed
    # once it has used up its attempts.
    AlertNotification.objects.filter(
        pk__in=ids, state=State.SENDING, due_at__lte=now, attempts__gte=MAX_ATTEMPTS
    ).update(state=State.FAILED, last_error="sender lost after the last attempt")
    AlertNotification.objects.filter(pk__in=ids).filter(stalled).update(
        state=State.PENDING, due_at=now + grace
    )
    requeued = list(
        AlertNotification.objects.filter(pk__in=ids, state=State.PENDING)
        .order_by("id")
        .values_list("id", flat=True)
    )
    for start in range(0, len(requeued), DELIVERY_BATCH_SIZE):
        enqueue(requeued[start : start + DELIVERY_BATCH_SIZE])
    if requeued:
        logger.warning("Re-queued %d stalled alert emails", len(requeued))
    return len(requeued)


def compose_email(note: AlertNotification) -> EmailMessage:
    """The email of one crossing, to the alert owner's current address."""
    alert = note.alert
    user = alert.user
    currency = note.currency.upper()
    verb = "at or above" if note.direction == Alert.Direction.ABOVE else "at or below"
    target = _plain(note.target_price)
    price = _plain(note.triggered_price)
    subject = f"Price alert: {note.coin} is {verb} {target} {currency} (now {price} {currency})"
    when = note.triggered_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    body = "\n".join(
        [
            f"Hello {user.name or user.username},",
            "",
            f"Your price alert #{alert.pk} fired: {note.coin} is {verb} your target.",
            "",
            f"  Coin:       {note.coin}",
            f"  Target:     {target} {currency} ({note.direction})",
            f"  Price:      {price} {currency}",
            f"  Checked at: {when}",
            "",
            "The alert now sleeps and will not email you again until you activate it:",
            f"  POST /api/v1/alerts/{alert.pk}/activate",
            "",
            "-- cryptotrack",
        ]
    )
    return EmailMessage(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
        headers={
            "Message-ID": message_id(note),
            "X-Cryptotrack-Alert": str(alert.pk),
            "X-Cryptotrack-Notification": str(note.pk),
        },
    )


def message_id(note: AlertNotification) -> str:
    """The same ``Message-ID`` on every attempt for a row: a resend can be recognised."""
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "cryptotrack"
    return f"<alert-{note.alert_id}-notification-{note.pk}@{domain}>"


def _claim(notification_id: int) -> AlertNotification | None:
    now = timezone.now()
    claimed = (
        AlertNotification.objects.filter(pk=notification_id)
        .filter(Q(state=State.PENDING) | Q(state=State.SENDING, due_at__lte=now))
        .update(
            state=State.SENDING,
            attempts=F("attempts") + 1,
            due_at=now + timedelta(seconds=lease_seconds()),
        )
    )
    if not claimed:
        return None
    return AlertNotification.objects.select_related("alert__user").get(pk=notification_id)


def _record_sent(note: AlertNotification) -> bool:
    """Record the send unless another sender has claimed the row since (then say so)."""
    now = timezone.now()
    with transaction.atomic():
        recorded = AlertNotification.objects.filter(
            pk=note.pk,
            attempts=note.attempts,
            state__in=[State.SENDING, State.PENDING],
        ).update(state=State.SENT, sent_at=now, due_at=now, last_error="")
        if not recorded:
            logger.error(
                "Alert email %s was sent after its claim ran out: it may arrive twice", note.pk
            )
            return False
        Alert.objects.filter(pk=note.alert_id).update(last_notified_at=now, updated_at=now)
        # Only this crossing puts the alert to sleep: not an alert re-armed (or deleted) since.
        Alert.objects.filter(
            pk=note.alert_id, status=Alert.Status.TRIGGERED, triggered_at=note.triggered_at
        ).update(status=Alert.Status.SLEEPING)
    return True


def _release(note: AlertNotification, delay: float, error: str) -> None:
    AlertNotification.objects.filter(
        pk=note.pk, attempts=note.attempts, state=State.SENDING
    ).update(
        state=State.PENDING, due_at=timezone.now() + timedelta(seconds=delay), last_error=error
    )


def _finish(note: AlertNotification, state: str, error: str) -> None:
    AlertNotification.objects.filter(
        pk=note.pk, attempts=note.attempts, state=State.SENDING
    ).update(state=state, due_at=timezone.now(), last_error=error)


def _is_permanent(exc: Exception) -> bool:
    """A 5xx about this message (recipient, sender or content refused) will not get better."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(code >= 500 for code in codes)
    if isinstance(exc, smtplib.SMTPSenderRefused | smtplib.SMTPDataError):
        return exc.smtp_code >= 500
    return False


def _plain(value: object) -> str:
    """A decimal without exponent or trailing zeros: ``70000``, ``0.00001234``."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
