"""What the accounts app does: sign up, store and check exchange credentials.

Plain functions with keyword-only arguments; views call them, they call models.
"""

from __future__ import annotations

import asyncio

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from cryptotrack.accounts.models import ExchangeAccount, User
from cryptotrack.accounts.signals import exchange_credentials_checked
from cryptotrack.audit.services import Kind, Origin, record_audit_event
from cryptotrack.core import crypto
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
        "label": "default",  # one account per exchange until accounts get labels
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


def exchange_account_store(*, user: User, credentials: kucoin.KucoinCredentials) -> ExchangeAccount:
    """Store (or replace) the user's KuCoin credentials, encrypted, status ``unverified``."""
    return _store(user=user, credentials=credentials)[0]


def _store(*, user: User, credentials: kucoin.KucoinCredentials) -> tuple[ExchangeAccount, bool]:
    return ExchangeAccount.objects.update_or_create(
        user=user,
        exchange=ExchangeAccount.Exchange.KUCOIN,
        defaults={
            "api_key_encrypted": crypto.encrypt(credentials.api_key),
            "api_secret_encrypted": crypto.encrypt(credentials.api_secret),
            "api_passphrase_encrypted": crypto.encrypt(credentials.api_passphrase),
            "api_key_hint": key_hint(credentials.api_key),
            "status": ExchangeAccount.Status.UNVERIFIED,
            "status_message": "Not checked yet.",
            "warnings": [],
            "permissions": [],
            "checked_at": None,
        },
    )


def exchange_account_replace(
    *, user: User, credentials: kucoin.KucoinCredentials, origin: Origin | None = None
) -> ExchangeAccount:
    """Replace the user's KuCoin credentials and check the new ones (``PUT /me/kucoin``).

    Audited as an account added (first key) or updated, with the check's verdict.
    """
    account, created = _store(user=user, credentials=credentials)
    return _check_and_audit(account, created, origin=origin)


def exchange_account_credentials(*, account: ExchangeAccount) -> kucoin.KucoinCredentials:
    """Decrypt the account's credentials for one request. Never store or log the result."""
    return kucoin.KucoinCredentials(
        api_key=crypto.decrypt(account.api_key_encrypted),
        api_secret=crypto.decrypt(account.api_secret_encrypted),
        api_passphrase=crypto.decrypt(account.api_passphrase_encrypted),
    )


def exchange_account_check(*, account: ExchangeAccount) -> ExchangeAccount:
    """Ask KuCoin about the key, record the verdict, and tell listeners (tracking)."""
    result = asyncio.run(_check_kucoin(exchange_account_credentials(account=account)))
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
