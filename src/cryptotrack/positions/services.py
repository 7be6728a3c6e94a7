"""What position tracking does for a user: start, stop, resume; and history retention."""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import KombuError

from cryptotrack.accounts.models import DEFAULT_LABEL, ExchangeAccount, User
from cryptotrack.audit.services import Kind, Origin, record_audit_event
from cryptotrack.core.exceptions import ApplicationError
from cryptotrack.positions import cache
from cryptotrack.positions.models import PositionEvent, PositionSnapshot, TrackingSubscription

logger = logging.getLogger(__name__)


class NoExchangeCredentials(ApplicationError):
    code = "no_credentials"


def _first_slot(*, now: datetime, interval: timedelta) -> datetime:
    # Spread subscriptions over the interval so 10,000 users do not all fall due at once;
    # the user does not wait for it: start_tracking also polls once right away.
    return now + interval * random.random()  # noqa: S311 - load spreading, not security


def default_account(*, user: User) -> ExchangeAccount | None:
    """The account ``/api/v1/tracking`` acts on: the one labelled ``default`` (any case)."""
    return ExchangeAccount.objects.filter(user=user, label__iexact=DEFAULT_LABEL).first()


def _default_account_or_raise(user: User) -> ExchangeAccount:
    account = default_account(user=user)
    if account is None:
        raise NoExchangeCredentials(
            "Add your KuCoin API credentials first (PUT /api/v1/me/kucoin).",
        )
    return account


@transaction.atomic
def start_tracking(
    *,
    user: User,
    symbols: list[str],
    account: ExchangeAccount | None = None,
    origin: Origin | None = None,
) -> tuple[TrackingSubscription, bool]:
    """Track an account's KuCoin positions (``symbols`` empty: all); return (subscription,
    created). ``account`` None: the user's ``default`` account.

    Asking again while tracking updates the symbols and answers ``created=False``. A key
    KuCoin already rejected starts ``paused`` with the reason, until it is replaced. A
    start (not a symbols update) goes to the audit log with its state.
    """
    if account is None:
        account = _default_account_or_raise(user)
    now = timezone.now()
    interval = timedelta(seconds=settings.TRACKING_INTERVAL_SECONDS)
    # Insert-if-missing, then lock: two first requests at once wait for each other here
    # instead of both inserting (one IntegrityError). A new row starts as "stopped".
    stopped = TrackingSubscription.State.STOPPED
    TrackingSubscription.objects.bulk_create(
        [
            TrackingSubscription(
                user_id=account.user_id, account=account, state=stopped, next_poll_at=now
            )
        ],
        ignore_conflicts=True,
    )
    subscription = TrackingSubscription.objects.select_for_update().get(account=account)
    created = subscription.state == TrackingSubscription.State.STOPPED
    subscription.symbols = sorted(set(symbols))
    if created:
        subscription.interval = interval
        subscription.next_poll_at = _first_slot(now=now, interval=interval)
        subscription.consecutive_failures = 0
        subscription.events_baseline_pending = True
        subscription.last_error_kind = subscription.last_error_message = ""
        subscription.last_error_at = None
        rejected = account.status in {
            ExchangeAccount.Status.INVALID,
            ExchangeAccount.Status.INSUFFICIENT_PERMISSION,
        }
        subscription.state = (
            TrackingSubscription.State.PAUSED if rejected else TrackingSubscription.State.ACTIVE
        )
        if rejected:
            subscription.last_error_kind = "invalid_credentials"
            subscription.last_error_message = account.status_message
            subscription.last_error_at = now
    subscription.save()
    if created:
        record_audit_event(
            user=user,
            kind=Kind.TRACKING_STARTED,
            origin=origin,
            account=account.label,
            symbols=subscription.symbols,
            state=subscription.state,
            reason=subscription.last_error_message,
        )
    if created:
        _drop_cached_tracking(account.user_id)
    if created and subscription.state == TrackingSubscription.State.ACTIVE:
        _poll_now(subscription, now=now)
    return subscription, created


def _drop_cached_tracking(user_id: int) -> None:
    """The user's cached positions carry each account's tracking state: after a start,
    stop, pause or resume commits, the next read refills them from the database."""
    transaction.on_commit(lambda: cache.drop_user(user_id))


def _poll_now(subscription: TrackingSubscription, *, now: datetime) -> None:
    """Poll once right away (after commit), outside the regular slots.

    The tracking is saved by then and the schedule is data: when the broker cannot take
    the task, that is one log line, and the row is made due now so the dispatcher's next
    tick (once the broker is back) polls it. The caller still gets the saved state.
    """
    from cryptotrack.positions.tasks import poll_subscriptions

    batch = [(subscription.id, now.isoformat())]

    def enqueue() -> None:
        try:
            poll_subscriptions.apply_async(
                args=(batch,), expires=settings.TRACKING_INTERVAL_SECONDS
            )
        except (KombuError, OSError) as exc:
            logger.warning(
                "first poll of tracking %s not enqueued (broker: %s); left to the dispatcher",
                subscription.id,
                exc,
            )
            due = TrackingSubscription.objects.filter(
                id=subscription.id, state=TrackingSubscription.State.ACTIVE, next_poll_at__gt=now
            ).update(next_poll_at=now)
            if due:
                subscription.next_poll_at = now

    transaction.on_commit(enqueue)


def stop_tracking(
    *, user: User, account: ExchangeAccount | None = None, origin: Origin | None = None
) -> None:
    """Cancel an account's tracking (``account`` None: the ``default`` one, if any): no
    poll starts after this (an in-flight one may still finish).

    Audited when it stopped something (a second stop changes nothing and records nothing).
    """
    if account is None:
        account = default_account(user=user)
        if account is None:
            return
    stopped = (
        TrackingSubscription.objects.filter(account=account)
        .exclude(state=TrackingSubscription.State.STOPPED)
        .update(state=TrackingSubscription.State.STOPPED, updated_at=timezone.now())
    )
    if stopped:
        _drop_cached_tracking(account.user_id)
        record_audit_event(
            user=user, kind=Kind.TRACKING_STOPPED, origin=origin, account=account.label
        )


def resume_after_credentials_check(*, account: ExchangeAccount) -> None:
    """A paused tracking resumes at once when the account's new key checks out valid."""
    if account.status != ExchangeAccount.Status.VALID:
        return
    now = timezone.now()
    resumed = TrackingSubscription.objects.filter(
        account_id=account.pk, state=TrackingSubscription.State.PAUSED
    ).update(
        state=TrackingSubscription.State.ACTIVE,
        next_poll_at=now,
        consecutive_failures=0,
        last_error_kind="",
        last_error_message="",
        last_error_at=None,
        updated_at=now,
    )
    if resumed:
        _drop_cached_tracking(account.user_id)
        logger.info("tracking of exchange account %s resumed with a valid key", account.pk)
        record_audit_event(
            user=account.user_id,
            kind=Kind.TRACKING_RESUMED,
            account=account.label,
            api_key_hint=f"…{account.api_key_hint}",
        )


def purge_position_history(*, now: datetime | None = None) -> int:
    """Delete snapshots and position events older than POSITIONS_HISTORY_RETENTION_DAYS
    (events are history: one retention for both); return how many rows."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.POSITIONS_HISTORY_RETENTION_DAYS)
    snapshots, _ = PositionSnapshot.objects.filter(taken_at__lt=cutoff).delete()
    events, _ = PositionEvent.objects.filter(at__lt=cutoff).delete()
    return snapshots + events


def forget_account(*, account: ExchangeAccount, purge: bool) -> None:
    """Before an account is deleted (its tracking and positions go by cascade): its history
    and position events keep the label it has now, or go too with ``purge``; its cache
    field goes after the commit."""
    for rows in (
        PositionSnapshot.objects.filter(account=account),
        PositionEvent.objects.filter(account=account),
    ):
        if purge:
            rows.delete()
        else:
            rows.update(account_label=account.label)
    user_id, account_id = account.user_id, account.pk
    transaction.on_commit(lambda: cache.drop_account(user_id, account_id))


def on_credentials_checked(sender: Any, *, account: ExchangeAccount, **kwargs: Any) -> None:
    resume_after_credentials_check(account=account)


def on_account_renamed(sender: Any, *, account: ExchangeAccount, **kwargs: Any) -> None:
    # The cached rows carry the old label: the next read refills them from the database.
    user_id = account.user_id
    transaction.on_commit(lambda: cache.drop_user(user_id))


def on_account_deleting(
    sender: Any, *, account: ExchangeAccount, purge: bool, **kwargs: Any
) -> None:
    forget_account(account=account, purge=purge)
