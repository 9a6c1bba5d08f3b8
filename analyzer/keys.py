"""Every Redis key the project uses. All keys of one run share the hash tag `{run_id}`.

Global keys (no run tag) are single-key indexes: the run registry, the alert stream the webhook
dispatcher consumes, and the webhook subscriptions the api owns.
"""

PREFIX = "se"
RUNS = f"{PREFIX}:runs"
ALERTS = f"{PREFIX}:alerts"
WEBHOOKS = f"{PREFIX}:webhooks"


def _run(run_id: str, *parts: object) -> str:
    return ":".join([PREFIX, "{" + run_id + "}", *map(str, parts)])


def meta(run_id: str) -> str:
    """HASH of the run's registry entry: state, project, config, timestamps."""
    return _run(run_id, "meta")


def seen(run_id: str, rank: int) -> str:
    """SET of sequence numbers already applied for one (run, rank) stream."""
    return _run(run_id, "seen", rank)


def snapshots(run_id: str, group: str) -> str:
    """HASH snapshot index -> float64 sketch bytes (complete sketches)."""
    return _run(run_id, "snap", group)


def partials(run_id: str, group: str, index: int) -> str:
    """HASH rank -> float64 partial sketch bytes, until all shard owners of a snapshot arrived."""
    return _run(run_id, "part", group, index)


def steps(run_id: str, group: str) -> str:
    """HASH snapshot index -> optimizer step."""
    return _run(run_id, "step", group)


def windows(run_id: str, group: str, window: int) -> str:
    """HASH window-end index -> step, set once per computed window (the exactly-once marker)."""
    return _run(run_id, "win", group, window)


def metrics(run_id: str, group: str, window: int) -> str:
    """ZSET of metric records (JSON) scored by step."""
    return _run(run_id, "metrics", group, window)


def detector(run_id: str, group: str, window: int) -> str:
    """STRING: serialised alert-detector state for one series."""
    return _run(run_id, "detector", group, window)


def scalars(run_id: str) -> str:
    """ZSET of logged scalars (JSON `{step, values}`) scored by step."""
    return _run(run_id, "scalars")


def run_alerts(run_id: str) -> str:
    """STREAM of the run's alert events."""
    return _run(run_id, "alerts")


def deliveries(webhook_id: str) -> str:
    """LIST of delivery attempts of one webhook subscription (api-owned)."""
    return f"{PREFIX}:webhook:{webhook_id}:deliveries"
