from django.contrib import admin
from django.http import HttpRequest

from cryptotrack.positions.models import (
    Position,
    PositionEvent,
    PositionSnapshot,
    TrackingSubscription,
)


@admin.register(TrackingSubscription)
class TrackingSubscriptionAdmin(admin.ModelAdmin[TrackingSubscription]):
    list_display = [
        "user",
        "account",
        "state",
        "next_poll_at",
        "last_success_at",
        "consecutive_failures",
        "last_error_kind",
    ]
    list_filter = ["state", "last_error_kind"]
    list_select_related = ["user", "account"]
    search_fields = ["user__username", "account__label"]
    raw_id_fields = ["user", "account"]
    readonly_fields = ["last_slot", "last_polled_at", "last_success_at", "created_at", "updated_at"]


@admin.register(Position)
class PositionAdmin(admin.ModelAdmin[Position]):
    list_display = ["user", "account", "symbol", "side", "size", "mark_price", "unrealised_pnl"]
    list_filter = ["side", "margin_mode"]
    list_select_related = ["user", "account"]
    raw_id_fields = ["user", "account"]
    search_fields = ["user__username", "symbol"]


@admin.register(PositionSnapshot)
class PositionSnapshotAdmin(admin.ModelAdmin[PositionSnapshot]):
    list_display = ["user", "account_label", "symbol", "side", "size", "closed", "taken_at"]
    list_filter = ["closed"]
    list_select_related = ["user"]
    raw_id_fields = ["user", "account"]
    search_fields = ["user__username", "symbol"]


@admin.register(PositionEvent)
class PositionEventAdmin(admin.ModelAdmin[PositionEvent]):
    """Read-only: events are derived from polls, never edited."""

    list_display = ["user", "account_label", "symbol", "kind", "side", "size_after", "at"]
    list_filter = ["kind", "side"]
    list_select_related = ["user"]
    raw_id_fields = ["user", "account"]
    search_fields = ["user__username", "symbol"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: PositionEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: PositionEvent | None = None) -> bool:
        return False
