"""CURVE on the analyzer's ROUTER socket: encryption under the server key, and ZAP authentication
of producers by their public keys (any producer that knows the server key when no list is given).

Keys are Z85 text (40 characters), as `zmq.curve_keypair()` makes them.
"""

from __future__ import annotations

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator


class Allowlist:
    """ZAP credentials provider: admits the listed client public keys only."""

    def __init__(self, clients: list[str]) -> None:
        self.clients = {key.encode() for key in clients}

    def callback(self, domain: str, key: bytes) -> bool:
        """Whether the client with this Z85 public key may connect."""
        return key in self.clients


def secure(
    context: zmq.Context[zmq.Socket[bytes]],
    sock: zmq.Socket[bytes],
    secret_key: str,
    clients: list[str],
) -> ThreadAuthenticator:
    """Make `sock` (not yet bound) a CURVE server; returns the running authenticator to stop."""
    auth = ThreadAuthenticator(context)
    auth.start()
    if clients:
        auth.configure_curve_callback("*", credentials_provider=Allowlist(clients))
    else:
        auth.configure_curve(domain="*", location=zmq.auth.CURVE_ALLOW_ANY)
    secret = secret_key.encode()
    sock.curve_secretkey = secret
    sock.curve_publickey = zmq.curve_public(secret)
    sock.curve_server = True
    return auth
