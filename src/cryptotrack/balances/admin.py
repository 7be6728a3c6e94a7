from django.contrib import admin

from cryptotrack.balances.models import BalanceRefresh, FuturesOverview, SpotBalance


@admin.register(BalanceRefresh)
class BalanceRefreshAdmin(admin.ModelAdmin[BalanceRefresh]):
    list_display = [
        "account",
        "refreshed_at",
        "next_refresh_at",
        "consecutive_failures",
        "last_error_kind",
    ]
    list_filter = ["last_error_kind"]
    list_select_related = ["account__user"]
    search_fields = ["account__user__username"]
    readonly_fields = ["refreshed_at", "last_attempt_at", "last_error_at"]


@admin.register(SpotBalance)
class SpotBalanceAdmin(admin.ModelAdmin[SpotBalance]):
    list_display = ["account", "currency", "type", "balance", "available", "holds"]
    list_filter = ["type"]
    list_select_related = ["account__user"]
    search_fields = ["account__user__username", "currency"]


@admin.register(FuturesOverview)
class FuturesOverviewAdmin(admin.ModelAdmin[FuturesOverview]):
    list_display = ["account", "currency", "account_equity", "available_balance", "risk_ratio"]
    list_select_related = ["account__user"]
    search_fields = ["account__user__username"]
