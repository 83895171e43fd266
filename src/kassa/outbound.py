"""Outbound HTTP that cannot be pointed at the host's own cloud metadata or link-local network.

Every request Kassa makes to a URL someone configured (gateway callouts today, webhooks
later) goes through :func:`client`. The checks:

- the scheme is ``http`` or ``https``;
- each new connection resolves the host name, checks **every** address it resolves to and
  then connects to one of those checked addresses itself, so a second DNS answer (rebinding)
  cannot swap the destination between the check and the connect;
- link-local (169.254.0.0/16, fe80::/10), cloud metadata (fd00:ec2::254, 100.100.100.200),
  unspecified, multicast and reserved addresses are always refused, including when they are
  spelled inside an IPv6 address (IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo);
- loopback and private addresses are allowed unless the policy says otherwise
  (``KASSA_OUTBOUND_ALLOW_PRIVATE=0``): self-hosted gateways often live on the same network.

Proxies from the environment are not used (the proxy would resolve the name, not us) and
redirects are never followed. A refusal is raised as :class:`DestinationRefused`, a subclass
of ``httpx.ConnectError``: code that treats every transport error as "unreachable" stays
correct, and code that wants to say why can catch it first.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
SCHEMES = frozenset({"http", "https"})
_LINK_LOCAL = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"))
_METADATA = frozenset(
    {
        ipaddress.ip_address("fd00:ec2::254"),  # AWS instance metadata over IPv6
        ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud instance metadata
    }
)
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")


class DestinationRefused(httpx.ConnectError):
    """The URL or one of the addresses its host resolves to may not be called."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"destination refused: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class Policy:
    allow_private: bool = True
    """Loopback, private (RFC 1918, fc00::/7) and shared (100.64.0.0/10) addresses."""


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries and may be routed to, if any."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    low = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if any(address in net for net in _NAT64):
        return low
    if address in _IPV4_COMPATIBLE and int(address) > 1:
        return low
    return None


def address_refusal(address: IPAddress, policy: Policy) -> str | None:
    """Why ``address`` may not be called (``None`` when it may)."""
    inner = embedded_ipv4(address)
    if inner is not None:
        reason = address_refusal(inner, policy)
        return None if reason is None else f"{reason} ({address})"
    if address in _METADATA:
        return "cloud metadata address"
    if any(address in net for net in _LINK_LOCAL) or address.is_link_local:
        return "link-local address"
    if address.is_unspecified or address in _THIS_NETWORK:
        return "unspecified address"
    if address.is_multicast:
        return "multicast address"
    if address.is_loopback:
        return None if policy.allow_private else "loopback address"
    if address.is_reserved:
        return "reserved address"
    site_local = isinstance(address, ipaddress.IPv6Address) and address.is_site_local
    if (site_local or not address.is_global) and not policy.allow_private:
        return "private address"
    return None


def url_refusal(url: str | httpx.URL) -> str | None:
    """Why ``url`` may not be called before any lookup: its scheme or a missing host."""
    try:
        parsed = httpx.URL(url) if isinstance(url, str) else url
    except (httpx.InvalidURL, TypeError, ValueError):
        return "invalid URL"
    if parsed.scheme not in SCHEMES:
        return "only http and https URLs may be called"
    if not parsed.host:
        return "the URL has no host"
    return None


def _parse(raw: str) -> IPAddress:
    return ipaddress.ip_address(raw.split("%", 1)[0])


async def resolve(host: str, port: int, policy: Policy, timeout: float | None) -> list[str]:
    """Every address ``host`` resolves to, each checked; raises if any one is refused.

    Refusing the whole name when one address is bad (rather than skipping that address)
    keeps a name that mixes a public and a metadata address from working half the time.
    """
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout
        )
    except TimeoutError:
        raise httpcore.ConnectTimeout(f"resolving {host} timed out") from None
    except (OSError, UnicodeError) as exc:
        raise httpcore.ConnectError(f"cannot resolve {host}") from exc
    addresses: list[str] = []
    for info in infos:
        raw = str(info[4][0])
        reason = address_refusal(_parse(raw), policy)
        if reason is not None:
            raise DestinationRefused(reason)
        if raw not in addresses:
            addresses.append(raw)
    if not addresses:
        raise httpcore.ConnectError(f"cannot resolve {host}")
    return addresses


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that connects only to addresses it has checked."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await resolve(host, port, self.policy, timeout)
        error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise DestinationRefused("unix sockets may not be called")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport with its connection pool built on :class:`GuardedBackend`."""

    def __init__(self, policy: Policy, limits: httpx.Limits | None = None) -> None:
        limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20)
        super().__init__(trust_env=False, limits=limits)
        # httpx offers no argument for the network backend: replace the pool it built with
        # an identical one on ours (same TLS defaults, same limits, never a proxy).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),  # honours SSL_CERT_FILE for private CAs
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(policy),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        reason = url_refusal(request.url)
        if reason is not None:
            raise DestinationRefused(reason)
        return await super().handle_async_request(request)


def client(policy: Policy, timeout: float, **kwargs: Any) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` for configured URLs: checked destinations, no proxies, no
    redirects."""
    return httpx.AsyncClient(
        transport=GuardedTransport(policy),
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        trust_env=False,
        **kwargs,
    )
