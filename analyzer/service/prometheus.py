"""The analyzer's Prometheus metrics, and the budget that bounds how often it logs rejections.

Each service owns a `CollectorRegistry` (several services may share a process, e.g. in tests);
`Counters.serve(port)` exposes it over HTTP. Counter names and their one label:

    received                      se_analyzer_received_total
    applied{kind}, duplicate{kind} se_analyzer_applied_total, se_analyzer_duplicates_total
    not_owner{kind}               se_analyzer_not_owner_total (another analyzer holds the run)
    rejected{reason}              se_analyzer_rejected_total (project_full, rate_limited: limits)
    windows                       se_analyzer_windows_computed_total
    assembly_timeouts, gaps, late se_analyzer_assembly_timeouts_total, _gaps_total, _late_total
    alerts{type}, crashed         se_analyzer_alerts_total, se_analyzer_runs_crashed_total
    runs_removed                  se_analyzer_runs_removed_total (no data within the TTL)
    ack_dropped, sweep_failed, cas_retries, redis_errors, rules_unreadable
                                  (se_analyzer_<name>_total)

Gauges: `lag` (se_analyzer_processing_lag_seconds: receipt of a batch's oldest message to its
acknowledgement) and `batch` (se_analyzer_batch_size: messages in the last batch).
"""

from __future__ import annotations

import threading
from collections import Counter as Tally
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

_COUNTERS: dict[str, tuple[str, str, str | None]] = {
    "received": ("received", "Messages received on the socket.", None),
    "applied": ("applied", "Messages applied for the first time.", "kind"),
    "duplicate": ("duplicates", "Messages already applied before (acknowledged again).", "kind"),
    "not_owner": ("not_owner", "Messages for runs another analyzer holds (told to wait).", "kind"),
    "rejected": ("rejected", "Messages refused, by reason.", "reason"),
    "windows": ("windows_computed", "Window records computed and stored.", None),
    "assembly_timeouts": ("assembly_timeouts", "Snapshots assembled incomplete.", None),
    "gaps": ("gaps", "Missing snapshots skipped after the gap timeout.", None),
    "late": ("late", "Sketches for snapshots the series had passed.", None),
    "alerts": ("alerts", "Alert events raised, by type.", "type"),
    "crashed": ("runs_crashed", "Runs marked crashed on heartbeat timeout.", None),
    "runs_removed": ("runs_removed", "Runs removed because no data reached them in the TTL.", None),
    "ack_dropped": ("ack_dropped", "Acknowledgements the socket could not send.", None),
    "sweep_failed": ("sweep_failed", "Sweeps that raised.", None),
    "cas_retries": ("cas_retries", "Series updates retried after another writer.", None),
    "redis_errors": ("redis_errors", "Batches not acknowledged because Redis failed.", None),
    "rules_unreadable": ("rules_unreadable", "Stored user rules that did not validate.", None),
}
_GAUGES = {
    "lag": ("processing_lag_seconds", "Receipt of a batch's oldest message to its ack."),
    "batch": ("batch_size", "Messages in the last batch."),
    "rate_identities": ("rate_identities", "Producer identities the new-run rate limit tracks."),
}


class Counters:
    """Thread-safe counters keyed by (name, label value), mirrored into Prometheus metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._lock = threading.Lock()
        self._counts: Tally[tuple[str, str]] = Tally()
        self._counters = {
            name: Counter(
                f"se_analyzer_{metric}", doc, [label] if label else [], registry=self.registry
            )
            for name, (metric, doc, label) in _COUNTERS.items()
        }
        self._gauges = {
            name: Gauge(f"se_analyzer_{metric}", doc, registry=self.registry)
            for name, (metric, doc) in _GAUGES.items()
        }
        self._server: WSGIServer | None = None

    def inc(self, name: str, reason: str = "", amount: int = 1) -> None:
        """Add `amount` to a counter (`reason` is its label value, "" when it has none)."""
        counter = self._counters[name]
        (counter.labels(reason) if _COUNTERS[name][2] else counter).inc(amount)
        with self._lock:
            self._counts[name, reason] += amount

    def set(self, name: str, value: float) -> None:
        """Set a gauge."""
        self._gauges[name].set(value)

    def value(self, name: str, reason: str = "") -> int:
        """One counter's value (0 when never incremented)."""
        with self._lock:
            return self._counts[name, reason]

    def snapshot(self) -> dict[str, dict[str, int]]:
        """All counters as {name: {label value: count}}."""
        with self._lock:
            items = list(self._counts.items())
        result: dict[str, dict[str, int]] = {}
        for (name, reason), count in items:
            result.setdefault(name, {})[reason] = count
        return result

    def serve(self, port: int, host: str = "127.0.0.1") -> int:
        """Expose the metrics at http://host:port/metrics (port 0: any free one); the port."""
        self._server, _ = start_http_server(port, host, registry=self.registry)
        return int(self._server.server_port)

    def close(self) -> None:
        """Stop the HTTP exposition, if it runs."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class LogBudget:
    """Token bucket: at most `burst` log lines at once, refilled at `rate` per second."""

    def __init__(self, rate: float = 1.0, burst: int = 10) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._last: float | None = None

    def allow(self, now: float) -> bool:
        """Whether a line may be logged at time `now` (monotonic seconds); spends a token if so."""
        if self._last is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True
