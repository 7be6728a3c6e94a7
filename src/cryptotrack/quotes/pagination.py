"""The quotes list: pages, or a keyset cursor on ``(fetched_at, id)`` for deep reading."""

from cryptotrack.core.keyset_pagination import KeysetPagination


class QuotePagination(KeysetPagination):
    """See ``core.keyset_pagination``; the ``quote_newest_idx`` index serves both modes."""

    time_field = "fetched_at"
