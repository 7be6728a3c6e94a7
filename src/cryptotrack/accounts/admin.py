"""Admin for users, exchange accounts (never their secrets) and API keys (never the key)."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from cryptotrack.accounts.models import ApiKey, ExchangeAccount, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "name", "email", "is_active", "date_joined"]
    search_fields = ["username", "name", "email"]
    fieldsets = (
        *(DjangoUserAdmin.fieldsets or ()),
        ("Profile", {"fields": ("name",)}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "name", "password1", "password2")}),
    )


# The encrypted fields are left out entirely: not even ciphertext in the admin.
_ACCOUNT_FIELDS = (
    "user",
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
    list_display = ["user", "exchange", "api_key_hint", "status", "checked_at"]
    list_filter = ["exchange", "status"]
    search_fields = ["user__username"]
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
