"""The webhook allow-list: CIDR networks and host names that may be private webhook targets.

A configuration value (`ApiSettings.webhook_allow` is parsed into one) that the SSRF guard,
`api.webhooks.ssrf`, consults; it lives apart so the settings need nothing from the webhooks.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


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
