from django.contrib import admin

from cryptotrack.notify.models import Channel


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin[Channel]):
    """Channels without their secrets (only the hint is shown)."""

    list_display = ["id", "user", "kind", "name", "verified_at", "flagged_at", "created_at"]
    list_filter = ["kind"]
    search_fields = ["name", "user__username"]
    exclude = ["secret_encrypted", "previous_secret_encrypted"]
    readonly_fields = ["secret_hint", "verified_at", "consecutive_failures", "flagged_at"]
