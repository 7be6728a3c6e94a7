"""Recording the audit log, and forgetting it after ``AUDIT_RETENTION_DAYS``.

Every write here is best effort by design: an audit row that cannot be written is one
error log line, never a failed sign-in, signup or key change. Each insert runs in its own
savepoint, so a failed one leaves the caller's transaction usable; outside a transaction
it commits at once (a failed sign-in answers 401, and its row stays).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cryptotrack.audit.models import AuditEvent
from cryptotrack.core import proxies

logger = logging.getLogger(__name__)

Kind = AuditEvent.Kind
USER_AGENT_MAX = 256
# Detail names that could only hold a secret: dropped even if a caller passes one.
_SECRET_WORDS = ("password", "secret", "passphrase", "token", "plaintext")
_SECRET_NAMES = {"api_key", "key"}


@dataclass(frozen=True)
class Origin:
    """Where a request came from, as the audit log records it."""

    ip_address: str | None = None
    user_agent: str = ""

    @classmethod
    def of(cls, request: Any) -> Origin:
        """The client address under the proxy rules (``core.proxies``) and its user agent."""
        if request is None:
            return cls()
        return cls(
            ip_address=_valid_ip(proxies.client_ip(request)),
            user_agent=str(request.META.get("HTTP_USER_AGENT", ""))[:USER_AGENT_MAX],
        )


def _valid_ip(value: str) -> str | None:
    # A trusted proxy may forward garbage; the column is ``inet`` and must not make the
    # insert fail, so an unparseable address is recorded as unknown.
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


_request_origin: ContextVar[tuple[Origin, str] | None] = ContextVar(
    "cryptotrack_audit_origin", default=None
)


@contextmanager
def request_origin(request: Any, *, via: str) -> Iterator[None]:
    """Within this block, changes noticed by signal (a password) carry the request's origin.

    For the changes that reach us only as a model save (``receivers``), where the request
    is not an argument: the password change API and the admin's password form.
    """
    token = _request_origin.set((Origin.of(request), via))
    try:
        yield
    finally:
        _request_origin.reset(token)


def current_origin() -> tuple[Origin, str]:
    """The origin bound by ``request_origin``; outside one, a change with no request."""
    return _request_origin.get() or (Origin(), "system")


def _safe_details(details: Mapping[str, Any]) -> dict[str, Any]:
    safe = {}
    for name, value in details.items():
        lowered = name.lower()
        if lowered in _SECRET_NAMES or any(word in lowered for word in _SECRET_WORDS):
            logger.error("audit detail %r dropped: its name says it may be a secret", name)
            continue
        safe[name] = value
    return safe


def record_audit_event(
    *,
    user: Any,
    kind: AuditEvent.Kind,
    request: Any = None,
    origin: Origin | None = None,
    **details: Any,
) -> AuditEvent | None:
    """Record one event of ``user`` (a User or its id); never raises.

    The address and user agent come from ``origin`` or else ``request``. ``details``
    describe the change (label, key hint, key prefix, reason) and must never be secrets.
    Returns the row, or None when it could not be written (logged).
    """
    origin = origin or Origin.of(request)
    user_id = user if isinstance(user, int) else user.pk
    event = AuditEvent(
        user_id=user_id,
        kind=kind,
        at=timezone.now(),
        ip_address=origin.ip_address,
        user_agent=origin.user_agent[:USER_AGENT_MAX],
        details=_safe_details(details),
    )
    try:
        with transaction.atomic():
            event.save()
    except Exception:  # the action it records must go on: see the module docstring
        logger.exception("audit event %s of user %s not recorded", kind, user_id)
        return None
    return event


def record_audit_event_once(
    *, user: Any, kind: AuditEvent.Kind, request: Any, within: timedelta, **details: Any
) -> AuditEvent | None:
    """``record_audit_event``, unless the same kind for this user from this address was
    recorded within ``within``: an attacker repeating a refused request (a locked sign-in
    costs no password hash) gets one row per lock, not one per request.

    Two such requests at the same instant may both record: "once" is a bound on growth,
    not a guarantee.
    """
    origin = Origin.of(request)
    user_id = user if isinstance(user, int) else user.pk
    recent = AuditEvent.objects.filter(
        user_id=user_id,
        kind=kind,
        ip_address=origin.ip_address,
        at__gte=timezone.now() - within,
    )
    if recent.exists():
        return None
    return record_audit_event(user=user_id, kind=kind, origin=origin, **details)


def record_service_events(
    *, kind: AuditEvent.Kind, events: Iterable[tuple[int, Mapping[str, Any]]]
) -> None:
    """Record one event per ``(user_id, details)`` the service did on its own.

    One insert however many users (a batch of polls may pause many trackings at once);
    no address or user agent, as no request caused them. Never raises.
    """
    now = timezone.now()
    rows = [
        AuditEvent(user_id=user_id, kind=kind, at=now, details=_safe_details(details))
        for user_id, details in events
    ]
    if not rows:
        return
    try:
        with transaction.atomic():
            AuditEvent.objects.bulk_create(rows)
    except Exception:  # see record_audit_event
        logger.exception("%d audit event(s) %s not recorded", len(rows), kind)


def purge_audit_events(*, now: datetime | None = None, batch_size: int = 5000) -> int:
    """Delete events older than ``AUDIT_RETENTION_DAYS`` (0: keep all); return how many.

    In batches of ``batch_size`` rows, each its own short transaction, so a first purge
    of a large table never holds one long lock or one huge delete.
    """
    days = settings.AUDIT_RETENTION_DAYS
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    deleted = 0
    while True:
        ids = list(
            AuditEvent.objects.filter(at__lt=cutoff)
            .order_by("at")
            .values_list("id", flat=True)[:batch_size]
        )
        if not ids:
            return deleted
        count, _ = AuditEvent.objects.filter(id__in=ids).delete()
        deleted += count
        if len(ids) < batch_size:
            return deleted
