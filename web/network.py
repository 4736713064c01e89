"""Who is at the other end, and which names this server answers to.

Forwarded headers (``X-Forwarded-For``, ``X-Forwarded-Proto``) are believed only from the reverse
proxies listed in ``MONITOR_TRUSTED_PROXIES``; from any other peer they are ignored, so a client
cannot claim another address (to dodge a rate limit) or pose as this machine. A request that a
trusted proxy relays without saying for whom has no known client address: it is never "local".

The ``Host`` allow-list defends against DNS rebinding: a page on a hostile site whose name is
made to resolve to 127.0.0.1 would otherwise reach a dashboard bound to loopback.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from urllib.parse import urlsplit

from aiohttp import web

__all__ = ["Network", "is_loopback", "is_loopback_host", "parse_ip"]

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def parse_ip(text: str | None) -> IPAddress | None:
    """An address from a peer or header value (IPv4-mapped IPv6 unwrapped), or None."""
    raw = (text or "").strip().strip("[]").split("%", 1)[0]
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_loopback(address: IPAddress | None) -> bool:
    return address is not None and address.is_loopback


def is_loopback_host(host: str) -> bool:
    """A bind address or host name that only this machine reaches (``localhost`` or loopback)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Network:
    """The trusted proxies and the allowed ``Host`` names of one server."""

    def __init__(
        self,
        trusted_proxies: Iterable[str] = (),
        *,
        bind_host: str = "127.0.0.1",
        public_urls: Iterable[str] = (),
    ) -> None:
        self.trusted = tuple(ipaddress.ip_network(n, strict=False) for n in trusted_proxies)
        names = {urlsplit(u).hostname for u in public_urls if u}
        names.discard(None)
        if names:
            self.hosts: frozenset[str] | None = frozenset({*_LOOPBACK_NAMES, *map(str, names)})
        elif is_loopback_host(bind_host):
            self.hosts = frozenset({*_LOOPBACK_NAMES, bind_host.lower()})
        else:
            self.hosts = None  # bound publicly with no public URL named: any name (API key needed)

    def _trusted(self, address: IPAddress | None) -> bool:
        return address is not None and any(address in net for net in self.trusted)

    def client(self, request: web.BaseRequest) -> IPAddress | None:
        """The client's address: the peer, or what trusted proxies say it is (None: unknown)."""
        peer = parse_ip(request.remote)
        if not self._trusted(peer):
            return peer
        hops = [h for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
        for hop in reversed(hops):  # the nearest untrusted hop is the client
            address = parse_ip(hop)
            if address is None:
                return None
            if not self._trusted(address):
                return address
        return None  # relayed by a trusted proxy that did not say for whom

    def client_key(self, request: web.BaseRequest) -> str:
        """The client's address as a rate-limit key (``unknown`` when it cannot be told)."""
        address = self.client(request)
        return str(address) if address is not None else "unknown"

    def is_local(self, request: web.BaseRequest) -> bool:
        """A client on this machine: a loopback address, reached without an untrusted proxy."""
        if not self._trusted(parse_ip(request.remote)) and any(
            h in request.headers for h in ("X-Forwarded-For", "Forwarded", "X-Real-IP")
        ):
            return False  # an undeclared proxy relayed it: the real client is unknown
        return is_loopback(self.client(request))

    def is_https(self, request: web.BaseRequest) -> bool:
        """Did the browser use TLS (here, or at a trusted proxy that says so)?"""
        if request.secure:
            return True
        if self._trusted(parse_ip(request.remote)):
            proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
            return proto == "https"
        return False

    def host_allowed(self, request: web.BaseRequest) -> bool:
        """Is the ``Host`` header one of this server's names (DNS rebinding defence)?"""
        if self.hosts is None:
            return True
        host = request.host.lower()
        if host.startswith("["):
            name = host[: host.find("]") + 1]
        else:
            name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        return name in self.hosts
