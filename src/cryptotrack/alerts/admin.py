"""Admin views of alerts and their notification outbox (read-mostly, for support)."""

from django.contrib import admin

from cryptotrack.alerts.models import Alert, AlertNotification


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
