"""Every Redis key the project uses, and the order in which the analyzer writes them.

Per-run keys share the hash tag `{run_id}`, so each multi-key script touches one cluster slot.
Global keys (no run tag) are single-key indexes, each written by its own command *after* the
atomic per-run change it mirrors, and idempotently, so a crash between the two loses nothing:

- `RUNS` (registry ZSET): `ZADD NX` after a START is applied; a START that turns out to be a
  duplicate (the producer resends until acknowledged) adds it again, so a crash after the apply
  and before the ZADD is repaired by the resend. The acknowledgement follows the ZADD.
- `ALERTS` (global STREAM the api's webhook dispatcher consumes): the per-run script appends each
  alert to the run's stream and to the run's `outbox` LIST in the same atomic step; afterwards the
  analyzer XADDs the outbox entries to `ALERTS` and removes them from the outbox. A crash between
  leaves them in the outbox and the next change of that run or the next sweep publishes them. The
  global stream is therefore at-least-once; consumers deduplicate by `Alert.id`.
"""

PREFIX = "se"
RUNS = f"{PREFIX}:runs"
ALERTS = f"{PREFIX}:alerts"
WEBHOOKS = f"{PREFIX}:webhooks"
API_TOKENS = f"{PREFIX}:api:tokens"  # HASH SHA-256 of a token -> its public record (api-owned)


def glob_literal(text: str) -> str:
    """`text` escaped for a SCAN MATCH pattern, so a run or subscription id matches only itself."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def _run(run_id: str, *parts: object) -> str:
    return ":".join([PREFIX, "{" + run_id + "}", *map(str, parts)])


def meta(run_id: str) -> str:
    """HASH of the run's registry entry: state, project, config, timestamps, per-rank counters."""
    return _run(run_id, "meta")


def seen(run_id: str, rank: int) -> str:
    """SET of applied sequence numbers above the rank's watermark (meta field `low:<rank>`)."""
    return _run(run_id, "seen", rank)


def snapshots(run_id: str, group: str) -> str:
    """HASH snapshot index -> snapshot blob (header + float64 sketch), until the series uses it."""
    return _run(run_id, "snap", group)


def partials(run_id: str, group: str, index: int) -> str:
    """HASH rank -> partial snapshot blob, until all shard owners arrived or the timeout."""
    return _run(run_id, "part", group, index)


def series(run_id: str, group: str) -> str:
    """HASH of one series' state: version `v`, `frontier`, rolling Gram and detector states."""
    return _run(run_id, "series", group)


def deadlines(run_id: str) -> str:
    """ZSET of timeouts scored by deadline: `part|<group>|<index>|<owners>`, `gap|<group>`."""
    return _run(run_id, "deadlines")


def metrics(run_id: str, group: str, window: int) -> str:
    """ZSET of metric records (JSON) scored by step, trimmed to the retention limit."""
    return _run(run_id, "metrics", group, window)


def metrics_match(run_id: str) -> str:
    """A SCAN MATCH pattern for every metrics ZSET of the run (the run id taken literally)."""
    return glob_literal(_run(run_id, "metrics", "")) + "*"


def metrics_series(run_id: str, key: str) -> tuple[str, int] | None:
    """The (group, W) of one of the run's metrics keys, or None for any other key."""
    prefix = _run(run_id, "metrics", "")
    if not key.startswith(prefix):
        return None
    group, _, window = key[len(prefix) :].rpartition(":")
    return (group, int(window)) if group and window.isdigit() else None


def scalars(run_id: str) -> str:
    """ZSET of logged scalars (JSON `{step, values}`) scored by step, trimmed to retention."""
    return _run(run_id, "scalars")


def run_alerts(run_id: str) -> str:
    """STREAM of the run's alert events (capped at the retention limit)."""
    return _run(run_id, "alerts")


def outbox(run_id: str) -> str:
    """LIST of the run's alerts not yet copied to the global `ALERTS` stream."""
    return _run(run_id, "outbox")


def scalar_detectors(run_id: str) -> str:
    """HASH of the run's scalar-detector state: version `v` and `state` bytes."""
    return _run(run_id, "scalar-detectors")


def deliveries(webhook_id: str) -> str:
    """LIST of delivery attempts of one webhook subscription (api-owned)."""
    return f"{PREFIX}:webhook:{webhook_id}:deliveries"


def webhook_message(webhook_id: str, message_id: str) -> str:
    """STRING: the alert a webhook message carried, kept for redelivery until it expires."""
    return f"{PREFIX}:webhook:{webhook_id}:msg:{message_id}"


def webhook_cooldown(run_id: str, rule: str) -> str:
    """STRING: the webhook cooldown mark of one (rule, run); it expires with the cooldown."""
    return _run(run_id, "webhook-cooldown", rule)
