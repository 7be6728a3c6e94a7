from django.contrib import admin

from cryptotrack.positions.models import Position, PositionSnapshot, TrackingSubscription


@admin.register(TrackingSubscription)
class TrackingSubscriptionAdmin(admin.ModelAdmin[TrackingSubscription]):
    list_display = [
        "user",
        "state",
        "next_poll_at",
        "last_success_at",
        "consecutive_failures",
        "last_error_kind",
    ]
    list_filter = ["state", "last_error_kind"]
    search_fields = ["user__username"]
    readonly_fields = ["last_slot", "last_polled_at", "last_success_at", "created_at", "updated_at"]


@admin.register(Position)
class PositionAdmin(admin.ModelAdmin[Position]):
    list_display = ["user", "symbol", "side", "size", "mark_price", "unrealised_pnl", "updated_at"]
    list_filter = ["side", "margin_mode"]
    search_fields = ["user__username", "symbol"]


@admin.register(PositionSnapshot)
class PositionSnapshotAdmin(admin.ModelAdmin[PositionSnapshot]):
    list_display = ["user", "symbol", "side", "size", "mark_price", "closed", "taken_at"]
    list_filter = ["closed"]
    search_fields = ["user__username", "symbol"]
