"""The SSRF guard: which addresses are refused, the allow-list, resolution of names."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest
from pydantic import ValidationError

from api.allow_list import AllowList
from api.config import ApiSettings
from api.webhooks.ssrf import TargetRefused, check_literal, refusal, vet

NOBODY = AllowList()

REFUSED = [
    "127.0.0.1",
    "127.8.9.10",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "224.0.0.1",
    "255.255.255.255",
    "::1",
    "fe80::1",
    "fc00::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::",
]


@pytest.mark.parametrize("address", REFUSED)
def test_private_loopback_and_link_local_addresses_are_refused(address: str) -> None:
    assert refusal(ipaddress.ip_address(address), NOBODY)


@pytest.mark.parametrize("address", ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert refusal(ipaddress.ip_address(address), NOBODY) is None


def test_allow_listed_networks_pass_and_nothing_else() -> None:
    allow = AllowList.parse(["127.0.0.0/8", " 10.0.0.0/24 ", "::1"])
    for address in ("127.0.0.1", "10.0.0.7", "::1", "::ffff:127.0.0.1"):
        assert refusal(ipaddress.ip_address(address), allow) is None
    for address in ("10.0.1.7", "192.168.1.1", "169.254.169.254"):
        assert refusal(ipaddress.ip_address(address), allow)


@pytest.mark.parametrize("entry", ["10.0.0.0/33", "not a host", "a/b"])
def test_the_allow_list_rejects_garbage(entry: str) -> None:
    with pytest.raises(ValueError):
        AllowList.parse([entry])


def test_literal_hosts_are_checked_without_dns() -> None:
    with pytest.raises(TargetRefused, match=r"169\.254\.169\.254"):
        check_literal("169.254.169.254", NOBODY)
    with pytest.raises(TargetRefused):
        check_literal("[::1]", NOBODY)
    check_literal("127.0.0.1", AllowList.parse(["127.0.0.1/32"]))
    check_literal("receiver.example", NOBODY)


def test_names_are_resolved_and_every_address_checked() -> None:
    with pytest.raises(TargetRefused, match="not a public address"):
        asyncio.run(vet("localhost", 80, NOBODY))
    address = asyncio.run(vet("localhost", 80, AllowList.parse(["127.0.0.0/8", "::1"])))
    assert address.is_loopback
    assert asyncio.run(vet("localhost", 80, AllowList.parse(["localhost"]))).is_loopback


def test_settings_take_a_comma_separated_allow_list_and_reject_garbage(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SPECTRAL_EDGE_WEBHOOK_ALLOW", "10.0.0.0/8, alertmanager.lan")
    assert ApiSettings().webhook_allow == ["10.0.0.0/8", "alertmanager.lan"]
    assert ApiSettings().webhook_cooldown == 300.0
    with pytest.raises(ValidationError, match="not a CIDR"):
        ApiSettings(webhook_allow=["10.0.0.0/33"])
