"""Throwaway TLS material for tests, made with the `openssl` binary: a CA and leaf certificates.

`Authority(directory)` makes a fresh CA there; `issue(*names)` a server certificate for those DNS
names or IP addresses, signed by it (`client=True`: one for TLS client authentication too, as
Redis Cluster nodes need on their bus). Clients trust `authority.ca` and nothing else.
"""

from __future__ import annotations

import ipaddress
import ssl
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

LEAF_EXTENSIONS = """\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = {usage}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = {names}
"""


@dataclass(frozen=True)
class Leaf:
    """A leaf certificate and its private key (PEM files)."""

    certfile: Path
    keyfile: Path


class Authority:
    """A self-signed CA in `directory`, valid for a day, that issues leaf certificates."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ca, self.ca_key = directory / "ca.pem", directory / "ca.key"
        _openssl("req", "-x509", *_new_key(self.ca_key), "-days", "1",
                 "-subj", "/CN=spectral-edge test CA",
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", self.ca)  # fmt: skip

    def issue(self, *names: str, client: bool = False) -> Leaf:
        """A server certificate for `names` (subject alternative names; the first is the common
        name), for client authentication too when `client`."""
        stem = self.directory / f"leaf-{uuid.uuid4().hex[:8]}"
        leaf = Leaf(stem.with_suffix(".pem"), stem.with_suffix(".key"))
        request, extensions = stem.with_suffix(".csr"), stem.with_suffix(".ext")
        usage = "serverAuth, clientAuth" if client else "serverAuth"
        extensions.write_text(LEAF_EXTENSIONS.format(usage=usage, names=",".join(map(_san, names))))
        _openssl("req", *_new_key(leaf.keyfile), "-subj", f"/CN={names[0]}", "-out", request)
        _openssl("x509", "-req", "-in", request, "-CA", self.ca, "-CAkey", self.ca_key,
                 "-set_serial", str(uuid.uuid4().int >> 64), "-days", "1",
                 "-extfile", extensions, "-out", leaf.certfile)  # fmt: skip
        return leaf

    def client_context(self) -> ssl.SSLContext:
        """A client context that verifies servers (and their host names) against this CA only."""
        return ssl.create_default_context(cafile=self.ca)


def server_context(leaf: Leaf) -> ssl.SSLContext:
    """A server context presenting `leaf`."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(leaf.certfile, leaf.keyfile)
    return context


def _new_key(keyfile: Path) -> list[str | Path]:
    return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", keyfile]  # fmt: skip


def _san(name: str) -> str:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return f"DNS:{name}"
    return f"IP:{name}"


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True, timeout=30)
