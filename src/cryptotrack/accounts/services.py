"""What the accounts app does: sign up, store and check exchange credentials.

Plain functions with keyword-only arguments; views call them, they call models.
"""

from __future__ import annotations

import asyncio
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from cryptotrack.accounts.models import DEFAULT_LABEL, ExchangeAccount, User
from cryptotrack.accounts.signals import (
    exchange_account_deleting,
    exchange_account_renamed,
    exchange_credentials_checked,
)
from cryptotrack.audit.services import Kind, Origin, record_audit_event
from cryptotrack.core import crypto
from cryptotrack.core.exceptions import ApplicationError, NotFound
from cryptotrack.exchanges import kucoin


def key_hint(api_key: str) -> str:
    """The last four characters of a key: enough to recognise it, useless to an attacker."""
    return api_key[-4:]


@transaction.atomic
def user_create(*, name: str, username: str, password: str, email: str = "") -> User:
    """Create a user with a hashed (Argon2) password that passed Django's validators."""
    user = User(name=name, username=username, email=email)
    validate_password(password, user=user)
    user.set_password(password)
    user.full_clean(exclude=["password"])
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        # A concurrent signup took the name or email between full_clean and the insert.
        if User.objects.filter(username__iexact=username).exists():
            raise ValidationError({"username": ["This username is taken."]}) from None
        if email and User.objects.filter(email__iexact=email).exists():
            raise ValidationError({"email": ["This email is taken."]}) from None
        raise
    return user


def signup(
    *,
    name: str,
    username: str,
    password: str,
    email: str = "",
    kucoin_credentials: kucoin.KucoinCredentials | None = None,
    origin: Origin | None = None,
) -> User:
    """Create the user and, when given, store their KuCoin credentials and check them.

    The check never blocks signup: a rejected or unreachable key is stored all the same
    and its status says so. Both steps go to the audit log with ``origin``.
    """
    with transaction.atomic():
        user = user_create(name=name, username=username, password=password, email=email)
        record_audit_event(user=user, kind=Kind.SIGNUP, origin=origin)
        stored = (
            _store(user=user, credentials=kucoin_credentials)
            if kucoin_credentials is not None
            else None
        )
    if stored is not None:
        _check_and_audit(*stored, origin=origin)
    return user


def exchange_account_audit_details(account: ExchangeAccount) -> dict[str, str]:
    """What the audit log says of an exchange account: never a secret, only its hint."""
    return {
        "exchange": account.exchange,
        "label": account.label,
        "api_key_hint": f"…{account.api_key_hint}",
        "status": account.status,
    }


def _check_and_audit(
    account: ExchangeAccount, created: bool, *, origin: Origin | None
) -> ExchangeAccount:
    """Check the stored key, then audit the change with the verdict (recorded even if the
    check itself fails: the credentials are stored either way)."""
    try:
        account = exchange_account_check(account=account)
    finally:
        record_audit_event(
            user=account.user_id,
            kind=Kind.EXCHANGE_ACCOUNT_ADDED if created else Kind.EXCHANGE_ACCOUNT_UPDATED,
            origin=origin,
            **exchange_account_audit_details(account),
        )
    return account


class ExchangeCredentialsRejected(ApplicationError):
    """KuCoin refused the key (or it lacks a permission tracking needs): nothing was stored."""

    code = "invalid_credentials"


_REJECTED = {ExchangeAccount.Status.INVALID, ExchangeAccount.Status.INSUFFICIENT_PERMISSION}
_LABEL_TAKEN = "You already have an exchange account with this label."


def _encrypted(credentials: kucoin.KucoinCredentials) -> dict[str, str]:
    return {
        "api_key_encrypted": crypto.encrypt(credentials.api_key),
        "api_secret_encrypted": crypto.encrypt(credentials.api_secret),
        "api_passphrase_encrypted": crypto.encrypt(credentials.api_passphrase),
        "api_key_hint": key_hint(credentials.api_key),
    }


def _verdict(assessment: kucoin.KeyAssessment | None) -> dict[str, Any]:
    if assessment is None:
        return {
            "status": ExchangeAccount.Status.UNVERIFIED,
            "status_message": "Not checked yet.",
            "warnings": [],
            "permissions": [],
            "checked_at": None,
        }
    return {
        "status": assessment.status,
        "status_message": assessment.message,
        "warnings": list(assessment.warnings),
        "permissions": list(assessment.permissions),
        "checked_at": timezone.now(),
    }


def _save_label_checked(account: ExchangeAccount) -> None:
    """Save; a label another request took meanwhile (the database's unique index decides,
    ignoring case) is a 400 on ``label``, never a 500."""
    try:
        with transaction.atomic():
            account.save()
    except IntegrityError:
        if (
            ExchangeAccount.objects.filter(user_id=account.user_id, label__iexact=account.label)
            .exclude(pk=account.pk)
            .exists()
        ):
            raise ValidationError({"label": [_LABEL_TAKEN]}) from None
        raise


def exchange_account_store(
    *, user: User, credentials: kucoin.KucoinCredentials, label: str = DEFAULT_LABEL
) -> ExchangeAccount:
    """Store (or replace) the credentials of the user's account ``label`` (any case),
    encrypted, status ``unverified``. Signup and ``PUT /me/kucoin`` use ``default``."""
    return _store(user=user, credentials=credentials, label=label)[0]


def _store(
    *, user: User, credentials: kucoin.KucoinCredentials, label: str = DEFAULT_LABEL
) -> tuple[ExchangeAccount, bool]:
    """:func:`exchange_account_store`, and whether the account was created by it."""
    with transaction.atomic():
        account = (
            ExchangeAccount.objects.select_for_update()
            .filter(user=user, label__iexact=label)
            .first()
        )
        created = account is None
        if account is None:
            account = ExchangeAccount(
                user=user, label=label, exchange=ExchangeAccount.Exchange.KUCOIN
            )
        for field, value in {**_encrypted(credentials), **_verdict(None)}.items():
            setattr(account, field, value)
        try:
            _save_label_checked(account)
        except ValidationError:
            # A concurrent first store created it: replace that one instead.
            created = False
            account = ExchangeAccount.objects.select_for_update().get(
                user=user, label__iexact=label
            )
            for field, value in {**_encrypted(credentials), **_verdict(None)}.items():
                setattr(account, field, value)
            account.save()
    return account, created


def exchange_account_replace(
    *, user: User, credentials: kucoin.KucoinCredentials, origin: Origin | None = None
) -> ExchangeAccount:
    """Replace the credentials of the user's ``default`` account (created if missing) and
    check the new ones (``PUT /me/kucoin``). Audited as an account added (first key) or
    updated, with the check's verdict."""
    account, created = _store(user=user, credentials=credentials)
    return _check_and_audit(account, created, origin=origin)


def _assess_or_reject(credentials: kucoin.KucoinCredentials) -> kucoin.KeyAssessment:
    """KuCoin's verdict on a key; a rejected key raises (unreachable KuCoin does not: the
    key is stored ``unverified``, as at signup, and checked again by tracking)."""
    assessment = credentials_assess(credentials)
    if assessment.status in _REJECTED:
        raise ExchangeCredentialsRejected(
            assessment.message,
            code="invalid_credentials" if assessment.status == "invalid" else assessment.status,
            extra={"errors": {"api_key": [assessment.message]}},
        )
    return assessment


def exchange_account_create(
    *,
    user: User,
    label: str,
    credentials: kucoin.KucoinCredentials,
    origin: Origin | None = None,
) -> ExchangeAccount:
    """Add an exchange account: checked with KuCoin first, stored only when not rejected."""
    if ExchangeAccount.objects.filter(user=user, label__iexact=label).exists():
        raise ValidationError({"label": [_LABEL_TAKEN]})
    assessment = _assess_or_reject(credentials)
    account = ExchangeAccount(
        user=user,
        label=label,
        exchange=ExchangeAccount.Exchange.KUCOIN,
        **_encrypted(credentials),
        **_verdict(assessment),
    )
    _save_label_checked(account)
    record_audit_event(
        user=user,
        kind=Kind.EXCHANGE_ACCOUNT_ADDED,
        origin=origin,
        **exchange_account_audit_details(account),
    )
    return account


def exchange_account_update(
    *,
    account: ExchangeAccount,
    label: str | None = None,
    credentials: kucoin.KucoinCredentials | None = None,
    origin: Origin | None = None,
) -> ExchangeAccount:
    """Rename the account and/or replace its key (checked first, as on create). A paused
    tracking resumes when the new key is valid; a rename shows in the next positions read."""
    if (
        label is not None
        and ExchangeAccount.objects.filter(user_id=account.user_id, label__iexact=label)
        .exclude(pk=account.pk)
        .exists()
    ):
        raise ValidationError({"label": [_LABEL_TAKEN]})
    assessment = _assess_or_reject(credentials) if credentials is not None else None
    with transaction.atomic():
        # The row lock orders this against a poll recording this account (see
        # positions.storage): whichever commits second wrote the cache second.
        locked = ExchangeAccount.objects.select_for_update(no_key=True).get(pk=account.pk)
        renamed = label is not None and label != locked.label
        if label is not None:
            locked.label = label
        if credentials is not None:
            for field, value in {**_encrypted(credentials), **_verdict(assessment)}.items():
                setattr(locked, field, value)
        _save_label_checked(locked)
        if renamed:
            exchange_account_renamed.send(sender=ExchangeAccount, account=locked)
    record_audit_event(
        user=locked.user_id,
        kind=Kind.EXCHANGE_ACCOUNT_UPDATED,
        origin=origin,
        **exchange_account_audit_details(locked),
        **({"renamed_from": account.label} if renamed else {}),
        key_replaced=credentials is not None,
    )
    if credentials is not None:
        exchange_credentials_checked.send(sender=ExchangeAccount, account=locked)
    return locked


@transaction.atomic
def exchange_account_delete(
    *, account: ExchangeAccount, purge: bool = False, origin: Origin | None = None
) -> None:
    """Delete the account: its tracking and current positions go with it; its history
    stays (unlinked, keeping the label) unless ``purge``."""
    details = exchange_account_audit_details(account)
    exchange_account_deleting.send(sender=ExchangeAccount, account=account, purge=purge)
    account.delete()
    record_audit_event(
        user=account.user_id,
        kind=Kind.EXCHANGE_ACCOUNT_DELETED,
        origin=origin,
        **details,
        history_purged=purge,
    )


def exchange_account_list(*, user: User) -> QuerySet[ExchangeAccount]:
    """The user's exchange accounts, newest first."""
    return ExchangeAccount.objects.filter(user=user).order_by("-created_at", "-id")


def exchange_account_get(*, user: User, account_id: int) -> ExchangeAccount:
    """One of the user's accounts; another user's (or none) is answered as not found."""
    account = ExchangeAccount.objects.filter(user=user, pk=account_id).first()
    if account is None:
        raise NotFound("No such exchange account.")
    return account


def exchange_account_credentials(*, account: ExchangeAccount) -> kucoin.KucoinCredentials:
    """Decrypt the account's credentials for one request. Never store or log the result."""
    return kucoin.KucoinCredentials(
        api_key=crypto.decrypt(account.api_key_encrypted),
        api_secret=crypto.decrypt(account.api_secret_encrypted),
        api_passphrase=crypto.decrypt(account.api_passphrase_encrypted),
    )


def credentials_assess(credentials: kucoin.KucoinCredentials) -> kucoin.KeyAssessment:
    """KuCoin's verdict on a key (``valid``, ``invalid``, ``unverified``...); never raises."""
    return asyncio.run(_check_kucoin(credentials))


def exchange_account_check(*, account: ExchangeAccount) -> ExchangeAccount:
    """Ask KuCoin about the key, record the verdict, and tell listeners (tracking)."""
    result = credentials_assess(exchange_account_credentials(account=account))
    account.status = result.status
    account.status_message = result.message
    account.warnings = list(result.warnings)
    account.permissions = list(result.permissions)
    account.checked_at = timezone.now()
    account.save(
        update_fields=[
            "status",
            "status_message",
            "warnings",
            "permissions",
            "checked_at",
            "updated_at",
        ]
    )
    exchange_credentials_checked.send(sender=ExchangeAccount, account=account)
    return account


async def _check_kucoin(credentials: kucoin.KucoinCredentials) -> kucoin.KeyAssessment:
    async with kucoin.KucoinClient(
        spot_url=settings.KUCOIN_SPOT_URL,
        futures_url=settings.KUCOIN_FUTURES_URL,
        timeout=settings.KUCOIN_CHECK_TIMEOUT_SECONDS,
        max_attempts=1,
    ) as client:
        return await client.check_credentials(credentials)
