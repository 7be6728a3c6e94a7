"""Admin for users, exchange accounts (never their secrets) and API keys (never the key).

The admin's login form takes the API's sign-in path: the same per-IP throttle as
``POST /api/v1/auth/token`` and the same lockout counter, so the admin is no side door
for guessing passwords.
"""

from typing import Any

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse

from cryptotrack.accounts.models import ApiKey, ExchangeAccount, User
from cryptotrack.accounts.signin import LoginLocked, sign_in_from_form
from cryptotrack.audit.services import request_origin
from cryptotrack.core.throttling import FormThrottled


class ThrottledAdminAuthenticationForm(AdminAuthenticationForm):
    """The admin login form, checked like an API sign-in (throttle, then lockout)."""

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is None or not password:
            return self.cleaned_data
        if self.request is None:  # the admin's LoginView always passes it
            raise self.get_invalid_login_error()
        try:
            self.user_cache = sign_in_from_form(
                request=self.request, username=username, password=password, via="admin"
            )
        except (FormThrottled, LoginLocked) as exc:
            raise ValidationError(exc.message, code=exc.code) from exc
        if self.user_cache is None:
            raise self.get_invalid_login_error()
        self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


admin.site.login_form = ThrottledAdminAuthenticationForm


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "name", "email", "is_active", "date_joined"]
    search_fields = ["username", "name", "email"]
    fieldsets = (
        *(DjangoUserAdmin.fieldsets or ()),
        ("Profile", {"fields": ("name", "email_sign_in")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "name", "password1", "password2")}),
    )

    def user_change_password(
        self, request: HttpRequest, id: str, form_url: str = ""
    ) -> HttpResponse:
        # The audit log notices the change as a save; this tells it who asked, from where.
        with request_origin(request, via="admin"):
            return super().user_change_password(request, id, form_url)


# The encrypted fields are left out entirely: not even ciphertext in the admin.
_ACCOUNT_FIELDS = (
    "user",
    "label",
    "exchange",
    "api_key_hint",
    "status",
    "status_message",
    "warnings",
    "permissions",
    "checked_at",
)


@admin.register(ExchangeAccount)
class ExchangeAccountAdmin(admin.ModelAdmin[ExchangeAccount]):
    list_display = ["user", "label", "exchange", "api_key_hint", "status", "checked_at"]
    list_filter = ["exchange", "status"]
    list_select_related = ["user"]
    search_fields = ["user__username", "label"]
    fields = _ACCOUNT_FIELDS
    readonly_fields = _ACCOUNT_FIELDS

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin[ApiKey]):
    list_display = ["user", "name", "prefix", "created_at", "last_used_at", "revoked_at"]
    fields = ["user", "name", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["user", "name", "prefix", "created_at", "last_used_at"]

    def has_add_permission(self, request: object) -> bool:
        return False
