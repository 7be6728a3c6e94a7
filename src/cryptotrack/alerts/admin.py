"""Admin views of price and position alerts and their outboxes (read-mostly, for support)."""

from django.contrib import admin

from cryptotrack.alerts.models import Alert, AlertNotification, PositionAlert, PositionAlertFiring


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin[Alert]):
    list_display = ["id", "user", "coin", "currency", "direction", "target_price", "status"]
    list_filter = ["status", "direction", "currency"]
    search_fields = ["coin", "user__username"]
    raw_id_fields = ["user"]


@admin.register(AlertNotification)
class AlertNotificationAdmin(admin.ModelAdmin[AlertNotification]):
    list_display = ["id", "alert", "state", "attempts", "triggered_at", "sent_at"]
    list_filter = ["state"]
    raw_id_fields = ["alert"]
    readonly_fields = ["created_at"]


@admin.register(PositionAlert)
class PositionAlertAdmin(admin.ModelAdmin[PositionAlert]):
    list_display = ["id", "user", "kind", "account", "symbol", "threshold", "direction", "status"]
    list_filter = ["status", "kind"]
    search_fields = ["symbol", "user__username"]
    raw_id_fields = ["user", "account"]


@admin.register(PositionAlertFiring)
class PositionAlertFiringAdmin(admin.ModelAdmin[PositionAlertFiring]):
    list_display = ["id", "alert", "symbol", "side", "kind", "value", "state", "fired_at"]
    list_filter = ["state", "kind"]
    raw_id_fields = ["alert", "account", "event"]
    readonly_fields = ["created_at"]
