"""How a producer socket connects: a DEALER with bounded queues, a CURVE client when keyed.

Shared by the sender thread and `sync`. Sending outside loopback without CURVE is allowed but
logged, since sketches then cross the network in plain text.
"""

from __future__ import annotations

import logging
from typing import Any

import zmq

from producer.config import ProducerConfig

logger = logging.getLogger(__name__)


def connect_dealer(
    context: zmq.Context[Any], config: ProducerConfig, hwm: int, endpoint: str | None = None
) -> zmq.Socket[bytes]:
    """A DEALER connected to `endpoint` (by default the first of `config.endpoints`), a CURVE
    client when `server_key` is set."""
    socket: zmq.Socket[bytes] = context.socket(zmq.DEALER)
    socket.setsockopt(zmq.LINGER, config.linger_ms)
    socket.setsockopt(zmq.SNDHWM, hwm)
    socket.setsockopt(zmq.IMMEDIATE, 1)
    socket.setsockopt(zmq.RECONNECT_IVL_MAX, 5000)
    warn_if_plaintext(config)
    if config.server_key is not None:
        public, secret = config.public_key, config.secret_key
        if public is None or secret is None:
            public_bytes, secret_bytes = zmq.curve_keypair()
        else:
            public_bytes, secret_bytes = public.encode(), secret.encode()
        socket.curve_serverkey = config.server_key.encode()
        socket.curve_publickey = public_bytes
        socket.curve_secretkey = secret_bytes
    try:
        socket.connect(endpoint or config.endpoints[0])
    except zmq.ZMQError:
        socket.close(linger=0)
        raise
    return socket


def warn_if_plaintext(config: ProducerConfig) -> bool:
    """Log a warning (and return True) when sketches would leave the machine unencrypted."""
    remote = [e for e in config.endpoints if not _loopback(e)]
    if config.server_key is not None or not remote:
        return False
    logger.warning("spectral-edge sends to %s without CURVE (no server_key)", ", ".join(remote))
    return True


def _loopback(endpoint: str) -> bool:
    """Whether an endpoint stays on this machine (ipc, inproc or a loopback TCP host)."""
    scheme, _, rest = endpoint.partition("://")
    host = rest.rsplit(":", 1)[0].strip("[]")
    return scheme != "tcp" or host in ("127.0.0.1", "localhost", "::1")
