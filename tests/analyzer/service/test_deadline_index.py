"""The deadline index `se:due`: each apply brings a run's next look forward, the sweep visits only
the runs whose time has come and writes their next look. A private server: the sweep reads the
whole index."""

from __future__ import annotations

import numpy as np

from analyzer.service import keys
from analyzer.service.config import AnalyzerSettings
from analyzer.service.embedded_redis import EmbeddedRedis
from analyzer.service.ingest import Ingestor
from analyzer.service.prometheus import Counters
from analyzer.service.store import Store, connect
from producer.wire import Kind, Message

D = 4


def test_runs_are_looked_at_when_due_and_crash_on_time() -> None:
    with EmbeddedRedis() as server:
        client = connect(server.url)
        settings = AnalyzerSettings(windows=[2], heartbeat_timeout=60.0, gap_timeout=30.0,
                                    empty_run_ttl=3600.0, lease=0.0)  # fmt: skip
        ingest = Ingestor(Store(client), settings, Counters())

        def due(run: str) -> float | None:
            return client.zscore(keys.DUE, run)

        ingest.handle_batch([Message(Kind.START, "quiet", 0, body={"d": D})], 0.0)
        ingest.handle_batch([Message(Kind.START, "busy", 0, body={"d": D})], 0.0)
        assert due("quiet") == due("busy") == 60.0  # the heartbeat timeout comes first
        ingest.handle_batch([Message(Kind.HEARTBEAT, "busy", 1)], 50.0)
        assert due("busy") == 60.0  # brought forward only, never pushed back by a write
        assert ingest.sweep(59.0) == [] and due("busy") == 60.0  # nothing due yet
        assert ingest.sweep(61.0) == ["quiet"]  # silent 61 s: crashed
        assert due("busy") == 110.0  # visited, alive: looked at again at its own timeout
        assert due("quiet") == 3600.0  # crashed: only its empty-run TTL is left

        gap = Message(Kind.SKETCH, "busy", 2, index=1, d=D, payload=np.ones(D))
        ingest.handle_batch([gap], 70.0)  # snapshot 0 missing: a gap deadline at 70 + 30
        assert due("busy") == 100.0
        assert ingest.sweep(101.0) == [] and ingest.counters.value("gaps") == 1
        assert due("busy") == 130.0  # the skipped gap is gone; the heartbeat timeout is next
        client.close()
