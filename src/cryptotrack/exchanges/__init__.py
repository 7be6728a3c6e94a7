"""Clients for the upstream APIs (KuCoin, Alpha Vantage, CoinGecko).

Pure I/O: nothing in this package imports Django settings, models or the cache.
Callers pass base URLs and credentials in; every failure leaves as one of the typed
errors in :mod:`cryptotrack.exchanges.errors`.
"""
