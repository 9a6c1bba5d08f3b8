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

from api.allow_list import Address, AllowList
from api.errors import ApiError


class TargetRefused(ApiError):
    """A webhook URL whose host is (or resolves to) a refused address."""

    def __init__(self, message: str) -> None:
        super().__init__(400, "INVALID_PARAMETER_VALUE", message)


def refusal(address: Address, allow: AllowList) -> str | None:
    """Why a resolved address is refused, or None when it may be contacted."""
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    judged: Address = mapped or address
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
