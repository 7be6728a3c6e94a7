"""The one public shape of a quote: list items, ``latest``, the POST answer, WebSocket frames."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from cryptotrack.core.csv_export import CsvExport
from cryptotrack.quotes.models import Quote


class QuoteOutput(serializers.ModelSerializer[Quote]):
    """Decimals as strings (8 places, as Alpha Vantage gives them); times ISO 8601 in UTC."""

    class Meta:
        model = Quote
        ref_name = "Quote"  # the OpenAPI component
        fields = [
            "from_currency",
            "to_currency",
            "rate",
            "bid",
            "ask",
            "fetched_at",
            "refreshed_at",
            "source",
        ]
        extra_kwargs = {
            "source": {"help_text": "The provider that gave the rate."},
            "fetched_at": {"help_text": "When cryptotrack received the quote."},
            "refreshed_at": {
                "help_text": "The provider's time of the rate (Alpha Vantage's "
                "`Last Refreshed`; the time of the live ticker otherwise)."
            },
        }


def quote_payload(quote: Quote) -> dict[str, Any]:
    """``quote`` as the JSON object of the API (plain dict, ready for a cache or a frame)."""
    return dict(QuoteOutput(quote).data)


QUOTES_CSV = CsvExport(
    columns=[(name, name) for name in QuoteOutput.Meta.fields],
    time_field="fetched_at",
    filename="quotes",
)
