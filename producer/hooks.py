"""`watch(model, optimizer)`: sketch the parameters every `every` optimizer steps and send them.

Snapshot 0 is taken at `watch()` (step 0); after optimizer step n, when n % every == 0,
snapshot n // every is sent as one SKETCH message of the group "all". Only rank 0 sketches (DDP
replicates the parameters); other ranks get a no-op watch. Errors inside the optimizer hook are
logged once and stop the sketching: nothing raises into the training loop.
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import sys
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

import numpy as np

from producer.config import ProducerConfig, resolve_config
from producer.identity import rank_and_world, resolve_run_id
from producer.sketch import CountSketch
from producer.transport import Sender, Sink, Spool
from producer.wire import Kind

logger = logging.getLogger(__name__)
METHOD = "countsketch"
GROUPS = ("all",)
_active: Watch | None = None


class Watch:
    """A watched run: `.run_id`, `.log(step, **scalars)`, `.close(status)`; a context manager."""

    def __init__(
        self,
        config: ProducerConfig,
        run_id: str | None,
        *,
        rank: int = 0,
        world: int = 1,
        sink: Sink | None = None,
        model: Any = None,
    ) -> None:
        self.config, self.run_id, self.rank, self.world = config, run_id, rank, world
        self.step = 0
        self.closed = False
        self._sink = sink
        self._model = model
        self._sketch = CountSketch(config.dim, config.seed) if sink is not None else None
        self._handle: Any = None
        self._warned: set[str] = set()

    @property
    def enabled(self) -> bool:
        """Whether this watch sends anything at all."""
        return self._sink is not None and not self.closed

    def log(self, step: int, **scalars: Any) -> None:
        """Send finite scalar values (validation loss, learning rate, ...) observed at `step`."""
        if not self.enabled:
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
            self._send(Kind.SCALARS, step=step, body={"values": values})

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
            sink.close(status, self.config.close_timeout, self.step)

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.close("failed" if exc_type is not None else "finished")

    def _attach(self, optimizer: Any) -> None:
        """Announce the run, take snapshot 0 and hook the optimizer."""
        if self._sink is None:
            return
        self._send(Kind.START, body=self._start_body())
        self._sink.start()
        self._handle = optimizer.register_step_post_hook(self._on_step)
        self._guarded(self._snapshot)
        atexit.register(self._at_exit)

    def _start_body(self) -> dict[str, Any]:
        config = self.config
        return {
            "project": config.project,
            "every": config.every,
            "d": config.dim,
            "seed": config.seed,
            "method": METHOD,
            "groups": list(GROUPS),
            "world": self.world,
            "config": asdict(config),
        }

    def _on_step(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        self.step += 1
        if self.step % self.config.every == 0:
            self._guarded(self._snapshot)

    def _snapshot(self) -> None:
        if self._sketch is None:
            return
        vector = self._sketch.sketch_parameters(self._model.named_parameters())
        if not np.isfinite(vector).all():
            self._warn_once(
                "nonfinite", f"spectral-edge skipped a non-finite sketch at {self.step}"
            )
            return
        self._send(
            Kind.SKETCH,
            step=self.step,
            group=GROUPS[0],
            index=self.step // self.config.every,
            method=METHOD,
            d=self.config.dim,
            seed=self.config.seed,
            payload=vector,
        )

    def _guarded(self, action: Any) -> None:
        """Run `action`; on any error log once and stop sketching (sending scalars still works)."""
        try:
            action()
        except Exception:
            logger.exception("spectral-edge stopped sketching after an error; training continues")
            self._detach()

    def _send(self, kind: Kind, **fields: Any) -> None:
        if self._sink is not None:
            self._sink.send(kind, **fields)

    def _detach(self) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def _at_exit(self) -> None:
        failed = getattr(sys, "last_exc", None) or getattr(sys, "last_value", None)
        self.close("failed" if failed is not None else "finished")

    def _warn_once(self, key: str, text: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            logger.warning(text)


def watch(
    model: Any,
    optimizer: Any,
    *,
    every: int | None = None,
    run_id: str | None = None,
    endpoint: str | None = None,
    project: str | None = None,
    dim: int | None = None,
    seed: int | None = None,
    mode: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Watch:
    """Watch `model` trained by `optimizer`; raises `ConfigError` on bad settings, nothing later."""
    global _active
    env = os.environ if env is None else env
    config = resolve_config(
        env,
        every=every,
        run_id=run_id,
        endpoint=endpoint,
        project=project,
        dim=dim,
        seed=seed,
        mode=mode,
    )
    if config.mode == "disabled":
        return Watch(config, config.run_id)
    run = resolve_run_id(config.run_id, env)
    rank, world = rank_and_world(env)
    if rank != 0:
        return Watch(config, run, rank=rank, world=world)
    sink = _open_sink(config, run, rank, world)
    handle = Watch(config, run, rank=rank, world=world, sink=sink, model=model)
    handle._attach(optimizer)
    _active = handle
    return handle


def log(step: int, **scalars: Any) -> None:
    """Send scalars through the active watch; a no-op when there is none."""
    if _active is not None:
        _active.log(step, **scalars)


def _open_sink(config: ProducerConfig, run: str, rank: int, world: int) -> Sink:
    if config.mode == "offline":
        return Spool(config.spool_dir, run, rank=rank, world=world)
    return Sender(config, run, rank=rank, world=world)


def _as_float(value: Any) -> float | None:
    """`value` as a finite float, or None."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
