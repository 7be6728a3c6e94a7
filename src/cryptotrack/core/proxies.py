"""Who the client is: the connecting address, or what a proxy we trust says it is.

``X-Forwarded-For`` is whatever the client wrote, plus one address per proxy on the way;
only the addresses appended by our own proxies (``TRUSTED_PROXIES``) can be believed. So
the client is the connecting address unless that is a trusted proxy; then it is the
right-most address in ``X-Forwarded-For`` that is not a trusted proxy itself. This is
the rule uvicorn's ``--forwarded-allow-ips`` applies too (the Procfile passes it the same
list), so both agree whether or not uvicorn already rewrote the address.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Any

from django.conf import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def is_trusted_proxy(host: str) -> bool:
    """True when ``host`` (an IP address) is one of ``settings.TRUSTED_PROXIES``."""
    networks = _networks(tuple(settings.TRUSTED_PROXIES))
    if not networks or not host:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in networks)


def client_ip(request: Any) -> str:
    """The client's address, believing ``X-Forwarded-For`` only from trusted proxies."""
    meta = request.META
    remote = str(meta.get("REMOTE_ADDR") or "")
    if not is_trusted_proxy(remote):
        return remote
    hops = [hop.strip() for hop in str(meta.get("HTTP_X_FORWARDED_FOR", "")).split(",")]
    hops = [hop for hop in hops if hop]
    for hop in reversed(hops):
        if not is_trusted_proxy(hop):
            return hop
    # Every hop is a proxy of ours: the request started inside; its first address counts.
    return hops[0] if hops else remote
