"""``/ws/rates``: the latest quote on connect, then every new quote, one bare object a frame.

Public, like the rates themselves. ``?from_currency=&to_currency=`` (both or neither)
narrows the stream to one pair; without them every pair is sent, and the frame on connect
is the newest quote of any pair. How new quotes get here from other processes: see
:mod:`cryptotrack.quotes.live`.
"""

from __future__ import annotations

from collections import deque
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from cryptotrack.quotes import live, selectors
from cryptotrack.quotes.pairs import Pair, is_currency_code

# Close code for a bad query string (4000-4999 are the application's own).
CLOSE_BAD_REQUEST = 4400


def _latest_entry(pair: Pair | None) -> dict[str, Any] | None:
    if pair is not None:
        return selectors.latest_quote(pair=pair)
    quote = selectors.newest_quote()
    return selectors.latest_entry(quote) if quote is not None else None


class RatesConsumer(AsyncJsonWebsocketConsumer):
    """One subscriber of the live rates (see the module docstring)."""

    pair: Pair | None
    watcher: live.QuoteWatcher | None = None

    async def connect(self) -> None:
        try:
            self.pair = self._requested_pair()
        except ValueError:
            await self.close(code=CLOSE_BAD_REQUEST)
            return
        # Ids already sent: a quote can come both from its writer and from the watcher.
        self.sent: deque[int] = deque(maxlen=256)
        await self.accept()
        await self.channel_layer.group_add(live.GROUP, self.channel_name)
        self.watcher = live.watcher_for(self.channel_layer)
        if self.watcher is not None:
            await self.watcher.subscribe()
        entry = await database_sync_to_async(_latest_entry)(self.pair)
        if entry is not None:
            await self._send_quote(entry["id"], entry["quote"])

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(live.GROUP, self.channel_name)
        if self.watcher is not None:
            await self.watcher.unsubscribe()
            self.watcher = None

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """Clients have nothing to say; whatever they send is ignored."""

    async def quote_stored(self, event: dict[str, Any]) -> None:
        """Group message ``quote.stored``: forward it unless filtered out or already sent."""
        quote = event["quote"]
        if self.pair is not None and (quote["from_currency"], quote["to_currency"]) != self.pair:
            return
        await self._send_quote(event["id"], quote)

    async def _send_quote(self, quote_id: int, quote: dict[str, Any]) -> None:
        if quote_id in self.sent:
            return
        self.sent.append(quote_id)
        await self.send_json(quote)

    def _requested_pair(self) -> Pair | None:
        """The pair asked for, None for every pair; ValueError for a bad query string."""
        params = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        from_code = (params.get("from_currency") or [""])[0]
        to_code = (params.get("to_currency") or [""])[0]
        if not from_code and not to_code:
            return None
        if not (is_currency_code(from_code) and is_currency_code(to_code)):
            raise ValueError("from_currency and to_currency must both be currency codes")
        return Pair(from_code, to_code)
