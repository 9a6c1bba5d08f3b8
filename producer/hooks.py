"""`watch(model, optimizer)`: sketch the parameters every `every` optimizer steps and send them.

Snapshot 0 is taken at `watch()`; after optimizer step n, when n % every == 0, snapshot n // every
is sent as one SKETCH message per parameter group. The layout (`producer.snapshot`) decides which
ranks sketch and send; rank 0 alone announces the run (START, FINISH) and sends scalars.
`Watch.advance(step)` drives the same snapshots from framework callbacks instead of a hook.
Nothing raises into the training loop: a bad setting or any error inside the producer is logged
once and turns the watch (or just its sketching) into a no-op.
"""

from __future__ import annotations

import atexit
import logging
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from producer.config import ProducerConfig, resolve_config
from producer.failure import ending_in_failure, watch_uncaught
from producer.groups import Filter, resolve_groups
from producer.identity import rank_and_world, resolve_run_id
from producer.sketch import CountSketch
from producer.snapshot import Snapshotter, choose_layout
from producer.spool import Spool
from producer.transport import Sender, Sink
from producer.wire import Kind

logger = logging.getLogger(__name__)
_active: Watch | None = None


class Watch:
    """A watched run: `.run_id`, `.advance(step)`, `.log(step, **scalars)`, `.close(status)`."""

    def __init__(
        self,
        config: ProducerConfig,
        run_id: str | None,
        *,
        rank: int = 0,
        world: int = 1,
        sink: Sink | None = None,
        snapshotter: Snapshotter | None = None,
    ) -> None:
        self.config, self.run_id, self.rank, self.world = config, run_id, rank, world
        self.step = 0
        self.closed = False
        self._sink = sink
        self._snapshotter = snapshotter
        self._handle: Any = None
        self._warned: set[str] = set()

    @property
    def enabled(self) -> bool:
        """Whether this watch sends or sketches anything at all."""
        return (self._sink is not None or self._snapshotter is not None) and not self.closed

    def advance(self, step: int) -> None:
        """The optimizer has made `step` steps: snapshot when `step` is a multiple of `every`."""
        if self._snapshotter is None or step <= self.step:
            return
        self.step = step
        if step % self.config.every == 0:
            self._guarded(self._snapshot)

    def log(self, step: int, **scalars: Any) -> None:
        """Send scalar values (validation loss, learning rate, ...) observed at `step`; NaN and
        Inf too (a `nonfinite` rule alerts on them); values that are not numbers are dropped."""
        if self._sink is None or self.rank != 0 or self.closed:
            return
        values: dict[str, float] = {}
        for name, value in scalars.items():
            number = _as_float(value)
            if number is None:
                self._warn_once("scalar", f"spectral-edge dropped scalar {name}={value!r}")
            else:
                values[name] = number
        if not isinstance(step, int) or step < 0:
            self._warn_once("step", f"spectral-edge dropped scalars logged at step {step!r}")
        elif values:
            self._sink.send(Kind.SCALARS, step=step, body={"values": values})

    def close(self, status: str = "finished") -> None:
        """Remove the hook, send FINISH with `status` and wait a bounded time for delivery."""
        global _active
        if self.closed:
            return
        self._detach()
        sink, self._sink = self._sink, None
        self.closed = True
        if _active is self:
            _active = None
        atexit.unregister(self._at_exit)
        if sink is not None:
            sink.close(status, self.config.close_timeout, self.step, announce=self.rank == 0)

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.close("failed" if exc_type is not None else "finished")

    def attach(self, optimizer: Any, step: int = 0) -> None:
        """Announce the run, take the first snapshot at `step` and hook `optimizer` (if given)."""
        self.step = step
        if self._sink is not None:
            if self.rank == 0:
                self._sink.send(Kind.START, step=step, body=self._start_body())
            self._sink.start()
        if self._snapshotter is not None:
            if optimizer is not None:
                self._handle = optimizer.register_step_post_hook(self._on_step)
            self._guarded(self._snapshot)
        atexit.register(self._at_exit)

    def _start_body(self) -> dict[str, Any]:
        config, snapshotter = self.config, self._snapshotter
        return {
            "project": config.project,
            "every": config.every,
            "d": config.dim,
            "seed": config.seed,
            "method": config.method,
            "groups": list(snapshotter.groups) if snapshotter is not None else [],
            "layout": snapshotter.layout if snapshotter is not None else "replicated",
            "world": self.world,
            "config": config.public(),
        }

    def _on_step(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        self.advance(self.step + 1)

    def _snapshot(self) -> None:
        if self._snapshotter is None:
            return
        vectors = self._snapshotter.take()
        if not all(np.isfinite(v).all() for v in vectors.values()):
            self._warn_once("nonfinite", f"spectral-edge skipped a non-finite sketch ({self.step})")
            return
        if self._sink is None:
            return
        config, owners = self.config, self._snapshotter.owners
        fields: dict[str, Any] = {
            "index": self.step // config.every,
            "owners": owners,
            "method": config.method,
        }
        for group, vector in vectors.items():
            self._sink.send(Kind.SKETCH, step=self.step, group=group, payload=vector,
                            d=config.dim, seed=config.seed, **fields)  # fmt: skip

    def _guarded(self, action: Any) -> None:
        """Run `action`; on any error log once and stop sketching (sending scalars still works)."""
        try:
            action()
        except Exception:
            logger.exception("spectral-edge stopped sketching after an error; training continues")
            self._detach()
            self._snapshotter = None

    def _detach(self) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def _at_exit(self) -> None:
        self.close("failed" if ending_in_failure() else "finished")

    def _warn_once(self, key: str, text: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            logger.warning(text)


def watch(
    model: Any,
    optimizer: Any = None,
    *,
    groups: Mapping[str, Filter] | None = None,
    step: int = 0,
    env: Mapping[str, str] | None = None,
    **options: Any,
) -> Watch:
    """Watch `model` trained by `optimizer`; options are `ProducerConfig` fields (every, dim, ...).

    Never raises: a bad option or a failure while starting logs one error and returns a no-op.
    """
    global _active
    env = os.environ if env is None else env
    try:
        config = resolve_config(env, **options)
    except Exception:
        logger.exception("spectral-edge is off for this run: bad configuration")
        return Watch(ProducerConfig(mode="disabled"), None)
    if config.mode == "disabled":
        return Watch(config, config.run_id)
    try:
        handle = _start(model, optimizer, config, groups, step, env)
    except Exception:
        logger.exception("spectral-edge is off for this run: it could not start")
        return Watch(config, config.run_id)
    _active = handle if handle.rank == 0 else _active
    return handle


def log(step: int, **scalars: Any) -> None:
    """Send scalars through the active watch; a no-op when there is none."""
    if _active is not None:
        _active.log(step, **scalars)


def _start(
    model: Any,
    optimizer: Any,
    config: ProducerConfig,
    spec: Mapping[str, Filter] | None,
    step: int,
    env: Mapping[str, str],
) -> Watch:
    run = resolve_run_id(config.run_id, env)
    rank, world = rank_and_world(env)
    groups = resolve_groups(model, spec)
    layout = choose_layout(config.distributed, groups, world)
    sketches = layout != "replicated" or rank == 0
    sends = layout == "sharded" or rank == 0
    snapshotter = None
    if sketches:
        sketch = sketch_for(config)
        snapshotter = Snapshotter(sketch, groups, layout, rank)
    sink = _open_sink(config, run, rank, world) if sends else None
    handle = Watch(config, run, rank=rank, world=world, sink=sink, snapshotter=snapshotter)
    watch_uncaught()
    handle.attach(optimizer, step)
    return handle


def sketch_for(config: ProducerConfig) -> CountSketch:
    """The sketch operator `config` asks for (dim, seed, method, threads, native kernel)."""
    return CountSketch(
        config.dim,
        config.seed,
        native=config.native,
        cache_dir=config.cache_dir,
        threads=config.threads,
        method=config.method,
    )


def _open_sink(config: ProducerConfig, run: str, rank: int, world: int) -> Sink:
    if config.mode == "offline":
        return Spool(config.spool_dir, run, rank=rank, world=world)
    return Sender(config, run, rank=rank, world=world)


def _as_float(value: Any) -> float | None:
    """`value` as a float (NaN and Inf included), or None when it is not a number."""
    if isinstance(value, bool | str | bytes):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
