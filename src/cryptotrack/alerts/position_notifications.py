"""Position alert emails: the ``PositionAlertFiring`` outbox on the shared state machine.

Delivery (claim, send, record, retries, the sweep of stalled rows) is ``alerts.outbox``;
this module says what the email of a firing says. A firing of a deleted alert is not
sent; a paused alert's firings made before the pause still are (they happened).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from decimal import Decimal

from django.conf import settings
from django.core.mail import EmailMessage

from cryptotrack.alerts import outbox
from cryptotrack.alerts.models import PositionAlert, PositionAlertFiring
from cryptotrack.alerts.outbox import SWEEP_LIMIT, DeliveryOutcome, Enqueue, plain
from cryptotrack.core import metrics

Kind = PositionAlert.Kind


def deliver_firings(firing_ids: Sequence[int]) -> DeliveryOutcome:
    """Send these firings' emails (see ``outbox.deliver``)."""
    return outbox.deliver(POSITION_ALERTS, firing_ids)


def requeue_stalled(*, enqueue: Enqueue, limit: int = SWEEP_LIMIT) -> int:
    """Queue again the position alert emails whose task or sender was lost."""
    return outbox.requeue_stalled(POSITION_ALERTS, enqueue=enqueue, limit=limit)


def what_fired(firing: PositionAlertFiring) -> str:
    """One line: what happened to the position, e.g. ``is 4.2% from liquidation``."""
    if firing.kind == Kind.EVENT:
        return f"was {firing.event_kind.replace('_', ' ')}"
    currency = firing.settle_currency
    verb = "at or above" if firing.direction == PositionAlert.Direction.ABOVE else "at or below"
    value, threshold = _readable(firing.value), plain(firing.threshold)
    if firing.kind == Kind.LIQUIDATION_DISTANCE:
        return f"is {value}% from liquidation (threshold {threshold}%)"
    if firing.kind == Kind.PNL_PERCENT:
        return f"has an unrealised PnL of {value}% (ROE), {verb} {threshold}%"
    return f"has an unrealised PnL of {value} {currency}, {verb} {threshold} {currency}"


def _readable(value: object) -> str:
    """A value in a sentence: two decimals are plenty (the firings list has them all)."""
    return "" if value is None else plain(Decimal(str(value)).quantize(Decimal("0.01")))


def compose_email(firing: PositionAlertFiring) -> EmailMessage:
    """The email of one firing, to the alert owner's current address."""
    alert = firing.alert
    user = alert.user
    position = f"{firing.symbol} {firing.side}"
    label = firing.account_label or "(deleted account)"
    subject = f"Position alert: {position} on {label} {what_fired(firing)}"
    liquidation = (
        plain(firing.liquidation_price) if firing.liquidation_price is not None else "none"
    )
    when = firing.fired_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    lines = [
        f"Hello {user.name or user.username},",
        "",
        f"Your position alert #{alert.pk} fired: {position} {what_fired(firing)}.",
        "",
        f"  Account:           {label}",
        f"  Position:          {firing.symbol}, {firing.side}, size {plain(firing.size)}",
        f"  Mark price:        {plain(firing.mark_price)}",
        f"  Liquidation price: {liquidation}",
    ]
    if firing.value is not None:
        lines.append(f"  Value:             {plain(firing.value)}")
        lines.append(f"  Threshold:         {plain(firing.threshold)}")
    if firing.unrealised_pnl is not None:
        lines.append(
            f"  Unrealised PnL:    {plain(firing.unrealised_pnl)} {firing.settle_currency}"
        )
    lines += [f"  At:                {when}", "", *_what_next(firing), "", "-- cryptotrack"]
    return EmailMessage(
        subject=subject,
        body="\n".join(lines),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
        headers={
            "Message-ID": outbox.message_id(
                kind="position-alert", alert_id=firing.alert_id, row_id=firing.pk
            ),
            "X-Cryptotrack-Position-Alert": str(alert.pk),
            "X-Cryptotrack-Firing": str(firing.pk),
        },
    )


def _what_next(firing: PositionAlertFiring) -> list[str]:
    path = f"/api/v1/position-alerts/{firing.alert_id}"
    if firing.kind == Kind.EVENT:
        again = "The alert stays active and emails you at each matching position event."
    else:
        again = (
            "The alert stays active: for this position it fires again only after the value "
            "moves back past the threshold by its hysteresis and crosses it again."
        )
    return [
        again,
        f'  Pause it:  PATCH {path} with {{"status": "paused"}}',
        f"  Delete it: DELETE {path}",
    ]


def _moot(firing: PositionAlertFiring) -> str | None:
    if firing.alert.status == PositionAlert.Status.DELETED:
        return "the alert was deleted before the email left"
    return None


POSITION_ALERTS = outbox.Outbox(
    name="Position alert",
    model=PositionAlertFiring,
    related=("alert__user",),
    moot=_moot,
    open_sender=lambda: outbox.SmtpSender(compose_email),
    counter=metrics.POSITION_ALERT_EMAILS,
)
