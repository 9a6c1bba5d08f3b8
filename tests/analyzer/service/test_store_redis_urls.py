"""Redis URLs as deployed, against real private servers: TLS (`rediss://` with a CA file), a TLS
Redis Cluster, an ACL user with a password; clear refusals that never show the password."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from analyzer.errors import AnalyzerError
from analyzer.service.config import AnalyzerSettings
from analyzer.service.server import AnalyzerService
from analyzer.service.store import connect, redact
from producer import wire
from producer.wire import Ack, Kind, Message
from tests.support.certificates import Authority
from tests.support.cluster import RedisProcess, running
from tests.support.secured_redis import (
    ACL_PASSWORD,
    ACL_USER,
    acl_server,
    password_server,
    tls_binary,
    tls_cluster,
    tls_server,
)

D = 8


@pytest.fixture(scope="module")
def binary() -> str:
    """A redis-server built with TLS (the tests skip without one)."""
    found = tls_binary()
    if found is None:
        pytest.skip("no redis-server with TLS on PATH")
    return found


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    """The test CA that signs the servers' certificates."""
    return Authority(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def tls(
    binary: str, authority: Authority, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RedisProcess]:
    """A TLS-only server whose certificate the test CA signed."""
    with running(tls_server(binary, authority, tmp_path_factory.mktemp("tls"))) as server:
        yield server


@pytest.fixture(scope="module")
def acl(binary: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    """A server whose only user is an ACL user with a password."""
    with running(acl_server(binary, tmp_path_factory.mktemp("acl"))) as server:
        yield server


def _analyzer(url: str, cluster: bool = False) -> AnalyzerService:
    return AnalyzerService(AnalyzerSettings(redis_url=url, redis_cluster=cluster, windows=[3]))


def _stores_windows(service: AnalyzerService, run_id: str) -> list[int]:
    """Send a START and six sketches through `process`; the window ends Redis then holds."""
    body = {"project": "urls", "every": 10, "d": D, "seed": 0, "method": "countsketch"}
    messages = [Message(Kind.START, run_id, 0, body=body)] + [
        Message(Kind.SKETCH, run_id, 1 + i, step=10 * i, index=i, d=D, payload=x)
        for i, x in enumerate(np.random.default_rng(0).normal(size=(6, D)))
    ]
    acks = service.process([[b"p", *wire.encode(m)] for m in messages])
    assert acks == {b"p": Ack(list(range(7)))}
    return [record.index for record in service.store.metrics(run_id, "all", 3)]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://user:pa%40ss@h:6379/0", "redis://user:***@h:6379/0"),
        ("redis://:secret@h/0", "redis://:***@h/0"),
        (
            "rediss://h/0?ssl_ca_certs=/etc/ca.crt&password=x",
            "rediss://h/0?ssl_ca_certs=/etc/ca.crt&password=***",
        ),
        ("redis://h:6379/0", "redis://h:6379/0"),
        ("redis://user@h/0", "redis://user@h/0"),
    ],
)
def test_redact_hides_every_password(url: str, shown: str) -> None:
    assert redact(url) == shown


def test_the_analyzer_stores_windows_over_tls(tls: RedisProcess) -> None:
    service = _analyzer(tls.url)
    service.start()
    try:
        assert _stores_windows(service, "tls-run") == [3, 4, 5]
    finally:
        service.stop()
        service.client.close()


def test_a_certificate_from_another_ca_is_refused(
    tls: RedisProcess, authority: Authority, tmp_path: Path
) -> None:
    url = tls.url.replace(str(authority.ca), str(Authority(tmp_path).ca))
    with pytest.raises(AnalyzerError, match="CERTIFICATE_VERIFY_FAILED") as refused:
        _analyzer(url).start()
    assert "check ?ssl_ca_certs=" in str(refused.value)


def test_a_plain_url_on_the_tls_port_says_to_use_rediss(tls: RedisProcess) -> None:
    with pytest.raises(AnalyzerError, match="use rediss://") as refused:
        _analyzer(f"redis://127.0.0.1:{tls.port}/0").start()
    assert f"cannot reach Redis at redis://127.0.0.1:{tls.port}/0" in str(refused.value)


def test_the_analyzer_stores_windows_in_a_tls_cluster(binary: str, authority: Authority) -> None:
    with tls_cluster(binary, authority) as cluster:
        assert connect(cluster.url, cluster=True).ping()
        service = _analyzer(cluster.url, cluster=True)
        assert _stores_windows(service, "cluster-run") == [3, 4, 5]
        service.client.close()


def test_an_acl_user_with_its_password_is_served(acl: RedisProcess) -> None:
    service = _analyzer(acl.url)
    assert _stores_windows(service, "acl-run") == [3, 4, 5]
    service.client.close()


def test_a_requirepass_password_alone_is_served(binary: str, tmp_path: Path) -> None:
    with running(password_server(binary, tmp_path)) as server:
        service = _analyzer(server.url)
        assert _stores_windows(service, "password-run") == [3, 4, 5]
        service.client.close()


@pytest.mark.parametrize("credentials", [f"{ACL_USER}:wrong-pass@", ""])
def test_a_refused_login_names_the_url_without_its_password(
    acl: RedisProcess, credentials: str
) -> None:
    url = f"redis://{credentials}127.0.0.1:{acl.port}/0"
    with pytest.raises(AnalyzerError, match="cannot reach Redis at") as refused:
        _analyzer(url).start()
    message = str(refused.value)
    assert "wrong-pass" not in message and ACL_PASSWORD not in message
    if credentials:
        assert f"redis://{ACL_USER}:***@127.0.0.1:{acl.port}/0" in message
    else:
        assert message.endswith("(the server requires a password: redis://user:password@host)")
