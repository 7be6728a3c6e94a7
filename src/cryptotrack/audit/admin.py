"""The audit log in the admin: read only (nobody edits history), filtered and searchable."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from cryptotrack.audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin[AuditEvent]):
    list_display = ["at", "user", "kind", "ip_address", "user_agent"]
    list_filter = ["kind", ("at", admin.DateFieldListFilter)]
    search_fields = ["user__username", "ip_address"]
    list_select_related = ["user"]
    date_hierarchy = "at"
    fields = ("at", "user", "kind", "ip_address", "user_agent", "details")
    readonly_fields = fields

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False
