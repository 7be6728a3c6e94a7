from django.contrib import admin

from cryptotrack.quotes.models import Quote, UpstreamBudget


@admin.register(Quote)
class QuoteAdmin(admin.ModelAdmin[Quote]):
    list_display = [
        "from_currency",
        "to_currency",
        "rate",
        "bid",
        "ask",
        "fetched_at",
        "source",
        "trigger",
    ]
    list_filter = ["source", "trigger", "from_currency", "to_currency"]
    date_hierarchy = "fetched_at"


@admin.register(UpstreamBudget)
class UpstreamBudgetAdmin(admin.ModelAdmin[UpstreamBudget]):
    list_display = ["provider", "day", "calls", "blocked_until"]
