"""Getting every new quote to the WebSocket subscribers, whichever process stored it.

Two paths, one message (``{"type": "quote.stored", "id", "quote"}`` to the group
:data:`GROUP`); consumers drop an id they already sent, so both paths may deliver:

* :func:`announce` — the process that stores a quote sends it to the channel layer. With
  Redis (production) that reaches every ASGI process at once.
* :class:`QuoteWatcher` — with the in-memory layer (the embedded default: no Redis) a
  message sent by the Celery worker reaches nobody, because that layer lives inside one
  process. So each ASGI process that has subscribers polls the quotes table every
  :data:`POLL_SECONDS` for ids above the last one it saw and sends those rows to its own
  in-memory group. It runs only while somebody listens, and only with the in-memory layer:
  with Redis, N ASGI processes polling would each re-send every quote N times.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import BaseChannelLayer, get_channel_layer

from cryptotrack.core.live_watch import DatabaseWatcher, WatcherPerLoop
from cryptotrack.quotes import selectors
from cryptotrack.quotes.models import Quote
from cryptotrack.quotes.serializers import quote_payload

logger = logging.getLogger(__name__)

GROUP = "quotes"
MESSAGE_TYPE = "quote.stored"
POLL_SECONDS = 0.5


def quote_message(quote: Quote) -> dict[str, Any]:
    return {"type": MESSAGE_TYPE, "id": quote.pk, "quote": quote_payload(quote)}


def announce(quote: Quote) -> None:
    """Send a just-stored quote to the subscribers; a channel layer failure is only logged.

    The quote is stored whatever happens here: a Redis outage must not fail a refresh, and
    the watcher (in-memory mode) or the next connect (latest quote) catches up.
    """
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(GROUP, quote_message(quote))
    except Exception as exc:
        logger.warning("could not announce quote %s: %r", quote.pk, exc)


class QuoteWatcher(DatabaseWatcher):
    """Polls the quotes table for this process while it has subscribers (see module doc)."""

    name = "live quotes watcher"

    def __init__(self, layer: BaseChannelLayer, *, poll_seconds: float = POLL_SECONDS) -> None:
        super().__init__(layer, poll_seconds=poll_seconds)
        self.subscribers = 0
        self.last_id = 0

    async def subscribe(self) -> None:
        """One more listener; starts polling from the newest id when it is the first."""
        self.subscribers += 1
        if not self.running:
            self.last_id = await database_sync_to_async(selectors.last_quote_id)()
            self.start()

    async def unsubscribe(self) -> None:
        """One listener fewer; stops polling when none is left."""
        self.subscribers = max(0, self.subscribers - 1)
        if self.subscribers == 0:
            await self.stop()

    async def poll_once(self) -> int:
        """Send every quote stored since the last poll; return how many."""
        quotes = await database_sync_to_async(selectors.quotes_after)(last_id=self.last_id)
        for quote in quotes:
            await self.layer.group_send(GROUP, quote_message(quote))
            self.last_id = quote.pk
        return len(quotes)


_watchers = WatcherPerLoop(QuoteWatcher)


def watcher_for(layer: BaseChannelLayer | None) -> QuoteWatcher | None:
    """This event loop's watcher when ``layer`` is process-local, else None (Redis delivers)."""
    return _watchers.get(layer)
