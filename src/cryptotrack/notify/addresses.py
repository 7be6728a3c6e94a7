"""Where a push may go: public addresses only, unless private ones are allowed.

A URL's host is resolved once, every address it resolves to is checked, and the request
is then sent to the checked address (``pinned``), so a DNS answer that changes between
the check and the connection (DNS rebinding) cannot steer a push to an internal service.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class RefusedAddress(ValueError):
    """The URL is not one we send to (scheme, host, or a non-public address)."""


@dataclass(frozen=True)
class Target:
    """A URL checked for sending: ``pinned_url`` has the checked IP in place of the host;
    ``host_header`` goes in the ``Host`` header, ``server_name`` in TLS's SNI (and is what
    the certificate is checked against)."""

    url: str
    pinned_url: str
    host_header: str
    server_name: str
    address: IPAddress


def is_public(address: IPAddress) -> bool:
    """Not loopback, private, link-local, multicast, reserved or unspecified (and, for
    IPv6, the same judged on an embedded IPv4 address)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def check_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL with a host; raises RefusedAddress."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise RefusedAddress("only http and https URLs are accepted")
    if not parts.hostname:
        raise RefusedAddress("the URL has no host")
    if parts.username or parts.password:
        raise RefusedAddress("credentials in the URL are not accepted")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise RefusedAddress(f"bad port: {exc}") from None
    return parts.scheme, parts.hostname, port


def resolve(url: str, *, allow_private: bool) -> Target:
    """Check ``url`` and pick the address to send to; raises RefusedAddress."""
    scheme, host, port = check_url(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise RefusedAddress(f"cannot resolve {host}: {exc}") from None
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not addresses:
        raise RefusedAddress(f"{host} resolves to no address")
    if not allow_private:
        refused = [a for a in addresses if not is_public(a)]
        if refused:
            raise RefusedAddress(
                f"{host} resolves to a non-public address ({refused[0]}); "
                "private, loopback and link-local targets are refused"
            )
    address = addresses[0]
    parts = urlsplit(url)
    literal = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{literal}:{port}"
    pinned = urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))
    return Target(
        url=url, pinned_url=pinned, host_header=parts.netloc, server_name=host, address=address
    )
