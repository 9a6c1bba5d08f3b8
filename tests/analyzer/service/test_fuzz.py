"""Fuzzing the decoder and the ingest path: 10^5 hostile messages (random bytes, mutated frames,
hypothesis-built headers) interleaved with a valid stream. The service stays up, counts every
rejection by reason, and the valid messages still produce exactly their records."""

from __future__ import annotations

import time
from collections.abc import Callable

import msgpack
import numpy as np
import pytest
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer.service.server import AnalyzerService
from producer import wire
from tests.support.producers import deliver, walk_stream

MakeService = Callable[..., AnalyzerService]
TOTAL, BATCH, D, N = 100_000, 500, 8, 200
FIELDS = ["v", "kind", "run", "seq", "rank", "world", "step", "group", "body", "index", "owners",
          "method", "d", "seed", "dtype"]  # fmt: skip
INTS = st.integers(-(2**63), 2**64 - 1)
VALUES = st.one_of(
    st.none(), st.booleans(), INTS, st.floats(allow_nan=True),
    st.text(max_size=12), st.binary(max_size=12), st.sampled_from(["sketch", "start", "<f8"]),
    st.lists(INTS, max_size=3), st.dictionaries(st.text(max_size=4), st.floats(), max_size=2),
)  # fmt: skip
HEADERS = st.dictionaries(st.one_of(st.sampled_from(FIELDS), st.text(max_size=6)), VALUES)


def _hostile(rng: np.random.Generator, valid: list[list[bytes]]) -> list[bytes]:
    """Random bytes, or a valid message's frames with bytes flipped, cut or appended."""
    choice = rng.integers(4)
    if choice == 0:
        return [rng.bytes(int(rng.integers(0, 64))) for _ in range(int(rng.integers(0, 4)))]
    frames = [bytearray(f) for f in valid[int(rng.integers(len(valid)))]]
    part = frames[int(rng.integers(len(frames)))]
    if choice == 1 and part:
        for at in rng.integers(0, len(part), size=int(rng.integers(1, 4))):
            part[at] ^= 1 << int(rng.integers(8))
    elif choice == 2:
        del part[int(rng.integers(0, len(part) + 1)) :]
    else:
        part += rng.bytes(int(rng.integers(1, 16)))
    return [bytes(f) for f in frames]


def _handled(service: AnalyzerService) -> int:
    counts = service.counters.snapshot()
    return sum(sum(counts.get(name, {}).values()) for name in ("rejected", "applied", "duplicate"))


def _balanced(service: AnalyzerService, timeout: float = 10.0) -> None:
    """Every received message ends up counted as rejected (by reason), applied or duplicate."""
    deadline = time.monotonic() + timeout
    while _handled(service) != service.counters.value("received") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _handled(service) == service.counters.value("received")


def test_a_hundred_thousand_hostile_messages(make_service: MakeService, run_id: str) -> None:
    service = make_service()
    stream = walk_stream(run_id, N, D, seed=0)
    frames = [wire.encode(m) for m in stream]
    service.process([[b"valid", *frames[0]]])
    rng, acked, sent = np.random.default_rng(0), set(), 0
    per_batch = N // (TOTAL // BATCH) + 1
    while sent < TOTAL:
        valid = frames[1 + len(acked) : 1 + len(acked) + per_batch]
        batch = [[b"hostile", *_hostile(rng, frames)] for _ in range(BATCH - len(valid))]
        for f in valid:
            batch.insert(int(rng.integers(len(batch) + 1)), [b"valid", *f])
        acks = service.process(batch)
        acked |= set(acks[b"valid"].seqs if b"valid" in acks else [])
        sent += len(batch)
    assert acked == set(range(1, N + 1))
    rejected = service.counters.snapshot()["rejected"]
    assert sum(rejected.values()) > TOTAL // 2
    assert {"bad_header", "bad_frames", "dim_mismatch", "unknown_run"} <= rejected.keys()
    assert [r.index for r in service.store.metrics(run_id, "all", 5)] == list(range(5, N))
    _balanced(service)


@pytest.fixture
def redis_url(private_server: str) -> str:
    """Mutated frames register runs under random ids: fuzz a private server, not the shared one."""
    return private_server


@pytest.fixture
def service(make_service: MakeService) -> AnalyzerService:
    """One service shared by every hypothesis example of a test."""
    return make_service()


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(headers=st.lists(HEADERS, min_size=1, max_size=40), payload=st.binary(max_size=64))
def test_hypothesis_headers_never_break_the_service(
    service: AnalyzerService, headers: list[dict[object, object]], payload: bytes
) -> None:
    batch = [[b"h", msgpack.packb(h)] + ([payload] if i % 2 else []) for i, h in enumerate(headers)]
    service.process(batch)
    _balanced(service)


def test_garbage_over_a_real_socket(make_service: MakeService, run_id: str) -> None:
    seed = 1
    service = make_service()
    stream = walk_stream(run_id, 40, D, seed=seed)
    hostile = [wire.encode(m) for m in walk_stream(f"{run_id}-x", 1, D, seed)]
    deliver([service.endpoint], stream[:1])
    rng = np.random.default_rng(seed)
    context = zmq.Context()
    sock = context.socket(zmq.DEALER)
    sock.linger = 0
    sock.connect(service.endpoint)
    for _ in range(5_000):
        sock.send_multipart(_hostile(rng, hostile) or [b""])
    deadline = time.monotonic() + 60.0
    while service.counters.value("received") < 1 + 5_000 and time.monotonic() < deadline:
        time.sleep(0.05)
    sock.close()
    context.term()
    assert service.counters.value("received") == 1 + 5_000
    deliver([service.endpoint], stream[1:])
    assert len(service.store.metrics(run_id, "all", 5)) == 40 - 5
    _balanced(service)
    assert sum(service.counters.snapshot()["rejected"].values()) >= 4_000
