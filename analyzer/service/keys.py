"""Every Redis key the project uses, and the order in which the analyzer writes them.

Per-run keys share the hash tag `{run_id}`, so each multi-key script touches one cluster slot.
Global keys (no run tag) are single-key indexes, each written by its own command *after* the
atomic per-run change it mirrors, and idempotently, so a crash between the two loses nothing:

- `RUNS` (registry ZSET): `ZADD NX` after a START is applied; a START that turns out to be a
  duplicate (the producer resends until acknowledged) adds it again, so a crash after the apply
  and before the ZADD is repaired by the resend. The acknowledgement follows the ZADD. A run the
  sweep removes (no data within the TTL, `remove_empty.lua`) leaves it by a ZREM after its keys
  are deleted, and is added back when its meta exists again by then (a START re-created it); a
  crash between the two leaves a member with no meta, which every reader skips.
- `ALERTS` (global STREAM the api's webhook dispatcher consumes): the per-run script appends each
  alert to the run's stream and to the run's `outbox` LIST in the same atomic step; afterwards the
  analyzer XADDs the outbox entries to `ALERTS` and removes them from the outbox. A crash between
  leaves them in the outbox and the next change of that run or the next sweep publishes them. The
  global stream is therefore at-least-once; consumers deduplicate by `Alert.id`.
- `DUE` (deadline index ZSET, run -> when the sweep next looks at it): after each apply, `ZADD LT`
  the earlier of the run's first deadline and its heartbeat timeout, so an entry is never later
  than what it mirrors (a crash before the ZADD is repaired by the resend, whose duplicate does
  it again). The sweep visits the runs whose time has come, then writes the next time from what it
  read and lowers it again (`ZADD LT`) to the run's first deadline read afterwards, so a deadline
  added meanwhile is not overwritten; a run with nothing left to wait for leaves the index.
"""

PREFIX = "se"
RUNS = f"{PREFIX}:runs"
DUE = f"{PREFIX}:due"
ALERTS = f"{PREFIX}:alerts"
WEBHOOKS = f"{PREFIX}:webhooks"
API_TOKENS = f"{PREFIX}:api:tokens"  # HASH SHA-256 of a token -> its public record (api-owned)
RULES = f"{PREFIX}:rules"  # HASH rule id -> user rule JSON (written by the api, read by analyzers)
SILENCES = f"{PREFIX}:silences"  # HASH silence id -> silence JSON (api-owned)
ACKS = f"{PREFIX}:acks"  # HASH alert id -> acknowledgement JSON (api-owned)


def glob_literal(text: str) -> str:
    """`text` escaped for a SCAN MATCH pattern, so a run or subscription id matches only itself."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def _run(run_id: str, *parts: object) -> str:
    return ":".join([PREFIX, "{" + run_id + "}", *map(str, parts)])


def meta(run_id: str) -> str:
    """HASH of the run's registry entry: state, project, config, timestamps, per-rank counters,
    and `empty` until the first sketch or scalars (see `lua/apply.lua`)."""
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
    """HASH of one series' state: version `v`, `frontier`, `last`, and per stride s its rolling
    Gram, update flags, anchor and detector states (fields named by `strided`, see `series`)."""
    return _run(run_id, "series", group)


def owner(run_id: str) -> str:
    """STRING: the name of the analyzer holding the run's lease, expiring with it."""
    return _run(run_id, "owner")


def deadlines(run_id: str) -> str:
    """ZSET of timeouts scored by deadline: `part|<group>|<index>|<owners>`, `gap|<group>`."""
    return _run(run_id, "deadlines")


def strided(name: str, stride: int) -> str:
    """The name of a stride-s series' key or field: `name` for stride 1 (the names from before
    strides existed), `name/s` otherwise."""
    return name if stride == 1 else f"{name}/{stride}"


def metrics(run_id: str, group: str, window: int, stride: int = 1) -> str:
    """ZSET of metric records (JSON) scored by step, trimmed to the retention limit:
    `...:metrics:<group>:<W>` for stride 1, `...:metrics:<group>:<W>/<s>` for stride s."""
    return _run(run_id, "metrics", group, strided(str(window), stride))


def metrics_match(run_id: str) -> str:
    """A SCAN MATCH pattern for every metrics ZSET of the run (the run id taken literally)."""
    return glob_literal(_run(run_id, "metrics", "")) + "*"


def metrics_series(run_id: str, key: str) -> tuple[str, int, int] | None:
    """The (group, W, stride) of one of the run's metrics keys, or None for any other key."""
    prefix = _run(run_id, "metrics", "")
    if not key.startswith(prefix):
        return None
    group, _, tail = key[len(prefix) :].rpartition(":")
    window, _, stride = tail.partition("/")
    if not (group and window.isdecimal() and (stride or "1").isdecimal()):
        return None
    named = (group, int(window), int(stride or "1"))
    return named if metrics(run_id, *named) == key else None  # the one spelling of each series


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


def rule_state(run_id: str) -> str:
    """HASH of the run's user-rule states: `<rule id>` or `<rule id>|<group>|<W>|<stride>` ->
    state JSON (see `analyzer.core.user_rules`)."""
    return _run(run_id, "rule-state")


def deliveries(webhook_id: str) -> str:
    """LIST of delivery attempts of one webhook subscription (api-owned)."""
    return f"{PREFIX}:webhook:{webhook_id}:deliveries"


def webhook_message(webhook_id: str, message_id: str) -> str:
    """STRING: the alert a webhook message carried, kept for redelivery until it expires."""
    return f"{PREFIX}:webhook:{webhook_id}:msg:{message_id}"


def webhook_cooldown(run_id: str, rule: str) -> str:
    """STRING: the webhook cooldown mark of one (rule, run); it expires with the cooldown."""
    return _run(run_id, "webhook-cooldown", rule)
