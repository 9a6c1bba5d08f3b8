"""The bridge's loop: new window records and alerts of every run, from the api into the sinks.

What was sent is remembered per run (last step of each series, newest alert entry, finished) in
a JSON state file, rewritten whenever a run's cursor moves, so a restarted bridge goes on where it
stopped; an interrupted pass can send its last batch twice (at least once), never skip one.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from analyzer.records import flat_record
from api.bridge.sink import RunView, Sink, point, series_prefix
from api.client import Client

log = logging.getLogger(__name__)


def entry_order(entry_id: str) -> tuple[int, int]:
    """A Redis stream entry id `ms-seq` as a sortable pair."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


class Mirror:
    """Mirror every run the api lists into `sinks`, remembering progress in `state_path`."""

    def __init__(self, client: Client, sinks: list[Sink], state_path: Path) -> None:
        self.client, self.sinks, self.state_path = client, sinks, state_path
        self.state: dict[str, dict[str, Any]] = (
            json.loads(state_path.read_text(encoding="utf-8")) if state_path.exists() else {}
        )

    def run_forever(self, interval: float, stop: threading.Event) -> None:
        """A pass every `interval` s until `stop` is set; a failed pass is logged, not fatal."""
        while not stop.is_set():
            try:
                self.sync()
            except Exception:
                log.exception("bridge pass failed; retrying in %.0f s", interval)
            stop.wait(interval)

    def sync(self) -> int:
        """One pass over every run; returns how many records and alerts it sent."""
        sent = 0
        for doc in self.client.runs(pandas=False):
            cursor = self.state.setdefault(doc["run_id"], {"series": {}, "alert": None})
            if cursor.get("finished"):
                continue
            moved = self._sync_run(RunView.of(doc), cursor)
            if moved or cursor.get("finished"):
                self._save()
            sent += moved
        return sent

    def close(self) -> None:
        """Close every sink."""
        for sink in self.sinks:
            sink.close()

    def _sync_run(self, run: RunView, cursor: dict[str, Any]) -> int:
        sent = 0
        for series in self.client.series(run.run_id):
            group, window, stride = series["group"], series["window"], series["stride"]
            prefix = series_prefix(group, window, stride)
            after = cursor["series"].get(prefix, -1)
            if series["latest_step"] is None or series["latest_step"] <= after:
                continue
            records = self.client.metrics(
                run.run_id, window, group, stride, start_step=after + 1, pandas=False
            )
            points = [point(flat_record(r), prefix) for r in records]
            for sink in self.sinks:
                sink.metrics(run, points)
            cursor["series"][prefix] = points[-1][0] if points else after
            sent += len(points)
        sent += self._sync_alerts(run, cursor)
        if run.state != "running":
            for sink in self.sinks:
                sink.finish(run)
            cursor["finished"] = True
        return sent

    def _sync_alerts(self, run: RunView, cursor: dict[str, Any]) -> int:
        newest = entry_order(cursor["alert"]) if cursor["alert"] else (-1, -1)
        fresh = [
            a
            for a in reversed(self.client.alerts(run.run_id, pandas=False))
            if entry_order(a["entry_id"]) > newest
        ]
        if fresh:
            for sink in self.sinks:
                sink.alerts(run, fresh)
            cursor["alert"] = fresh[-1]["entry_id"]
        return len(fresh)

    def _save(self) -> None:
        temporary = self.state_path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.state), encoding="utf-8")
        os.replace(temporary, self.state_path)
