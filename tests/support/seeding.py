"""Writing analyzer state directly, for tests that need it without a producer in front.

`apply_message` runs `apply.lua` for one message and returns its raw reply (tests pin the script's
contract with it); `handle_message` is one message through the real `Ingestor`; `write_record`
puts a window record where the analyzer keeps it, for api tests that need series to read.
"""

from __future__ import annotations

from typing import Any

from analyzer.errors import RejectedError
from analyzer.records import WindowRecord
from analyzer.service import keys
from analyzer.service.ingest import Ingestor
from analyzer.service.reader import Client
from analyzer.service.scripts import ACCEPTED, Limits, Outcome, apply_calls
from analyzer.service.store import Store
from producer.wire import Kind, Message


def apply_message(
    store: Store, message: Message, now: float, limits: Limits | None = None
) -> tuple[int, Any]:
    """`apply.lua` for one message, then the run registered as the analyzer does: (code, extra)."""
    (code, extra, _earliest), *_ = store.run(apply_calls([message], now, limits or Limits()))
    if message.kind is Kind.START and code in (0, 1):
        store.register({message.run: float(extra)})
    return int(code), extra


def handle_message(ingestor: Ingestor, message: Message, now: float) -> bool:
    """One message through the ingestor: True if applied, False if not; refusals raise."""
    outcome = ingestor.handle_batch([message], now)[0].outcome
    if outcome not in ACCEPTED:
        raise RejectedError(outcome, message.run)
    return outcome == Outcome.APPLIED


def write_record(client: Client, record: WindowRecord) -> bool:
    """Store a window record in its series' metrics ZSET; False when that exact record was there."""
    key = keys.metrics(record.run_id, record.group, record.window, record.stride)
    return bool(client.zadd(key, {record.model_dump_json(): record.step}))
