"""CURVE between the real producer Sender and the analyzer: listed keys get in, others do not."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import zmq

from analyzer.service.server import AnalyzerService
from producer.transport import Sender
from tests.support.producers import sending

D = 8


def _keys() -> tuple[str, str]:
    public, secret = zmq.curve_keypair()
    return public.decode(), secret.decode()


def _send(service: AnalyzerService, run: str, **keys: str | None) -> Sender:
    return sending(service.endpoint, run, np.random.default_rng(0).normal(size=(5, D)), **keys)


def test_only_listed_producers_are_admitted(
    make_service: Callable[..., AnalyzerService], run_id: str
) -> None:
    server_public, server_secret = _keys()
    client_public, client_secret = _keys()
    stranger_public, stranger_secret = _keys()
    service = make_service(curve_secret_key=server_secret, curve_clients=[client_public])
    admitted = _send(service, f"{run_id}-ok", server_key=server_public,
                     public_key=client_public, secret_key=client_secret)  # fmt: skip
    refused = _send(service, f"{run_id}-stranger", server_key=server_public,
                    public_key=stranger_public, secret_key=stranger_secret)  # fmt: skip
    plain = _send(service, f"{run_id}-plain")
    admitted.close(timeout=10.0)
    assert admitted.pending == 0
    time.sleep(0.5)
    for sender in (refused, plain):
        assert sender.pending > 0
        sender.close(timeout=0.1)
    assert service.store.get_run(f"{run_id}-ok") is not None
    assert service.store.get_run(f"{run_id}-stranger") is None
    assert service.store.get_run(f"{run_id}-plain") is None
    assert [r.index for r in service.store.metrics(f"{run_id}-ok", "all", 3)] == [3, 4]
