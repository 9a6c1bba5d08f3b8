"""The SSRF guard: webhook targets must resolve to public addresses unless allow-listed.

Every address a target host resolves to is checked with `ipaddress`: loopback, private, link-local,
shared, reserved, multicast and unspecified addresses are refused (IPv4-mapped IPv6 addresses are
judged as the IPv4 address they carry). An allow-list of CIDR networks and host names, from the
settings, lets private receivers in (an Alertmanager on the LAN, the tests' loopback receivers).
The dispatcher connects to the vetted address itself, so a second DNS answer cannot swap it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass, field

from api.errors import ApiError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TargetRefused(ApiError):
    """A webhook URL whose host is (or resolves to) a refused address."""

    def __init__(self, message: str) -> None:
        super().__init__(400, "INVALID_PARAMETER_VALUE", message)


@dataclass(frozen=True)
class AllowList:
    """CIDR networks and host names that may be private webhook targets."""

    networks: tuple[Network, ...] = ()
    hosts: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def parse(cls, entries: list[str]) -> AllowList:
        """Entries are CIDRs or single addresses (`10.0.0.0/8`, `::1`) or host names."""
        networks: list[Network] = []
        hosts: set[str] = set()
        for entry in (e.strip() for e in entries):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                if "/" in entry or not entry.replace("-", "").replace(".", "").isalnum():
                    raise ValueError(f"not a CIDR, address or host name: {entry!r}") from None
                hosts.add(entry.lower().rstrip("."))
        return cls(tuple(networks), frozenset(hosts))

    def allows(self, address: Address) -> bool:
        """Whether an address lies in an allow-listed network."""
        return any(address in network for network in self.networks)


def refusal(address: Address, allow: AllowList) -> str | None:
    """Why a resolved address is refused, or None when it may be contacted."""
    judged = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    judged = judged or address
    if allow.allows(address) or allow.allows(judged):
        return None
    if judged.is_global and not judged.is_multicast:
        return None
    return f"{address} is not a public address and is not allow-listed"


def check_literal(host: str, allow: AllowList) -> None:
    """Refuse a host that is a literal refused address (no DNS); names pass until resolved."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return
    if host.lower() not in allow.hosts and (reason := refusal(address, allow)):
        raise TargetRefused(reason)


async def vet(host: str, port: int, allow: AllowList) -> Address:
    """Resolve a target host and check every address; the first one to connect to."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise TargetRefused(f"cannot resolve {host!r}: {exc}") from exc
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not addresses:
        raise TargetRefused(f"{host!r} resolves to no address")
    if host.lower().rstrip(".") not in allow.hosts:
        for address in addresses:
            if reason := refusal(address, allow):
                raise TargetRefused(f"{host}: {reason}")
    return addresses[0]
