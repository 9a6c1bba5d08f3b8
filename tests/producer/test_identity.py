"""Run id, rank and world size resolution."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from producer.errors import ConfigError
from producer.identity import generate_run_id, rank_and_world, resolve_run_id, sanitize_run_id
from producer.wire import valid_id

ALL = {"SPECTRAL_EDGE_RUN_ID": "se-1", "TORCHELASTIC_RUN_ID": "te-1", "SLURM_JOB_ID": "4242"}


@pytest.mark.parametrize(
    ("explicit", "env", "expected"),
    [
        ("mine", ALL, "mine"),
        (None, ALL, "se-1"),
        (None, {**ALL, "SPECTRAL_EDGE_RUN_ID": ""}, "te-1"),
        (None, {"TORCHELASTIC_RUN_ID": "none", "SLURM_JOB_ID": "4242"}, "4242"),
        (None, {"TORCHELASTIC_RUN_ID": "None"}, None),
        (None, {"SLURM_JOB_ID": "4242"}, "4242"),
        (None, {}, None),
    ],
)
def test_run_id_resolution_order(explicit: str | None, env: dict, expected: str | None) -> None:
    run_id = resolve_run_id(explicit, env)
    if expected is None:
        assert run_id.startswith("run-") and valid_id(run_id)
    else:
        assert run_id == expected


def test_generated_run_ids_are_unique_and_wire_safe() -> None:
    ids = {generate_run_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(valid_id(run_id) for run_id in ids)


def test_scheduler_ids_are_sanitized() -> None:
    assert sanitize_run_id("job 12/3") == "job-12-3"
    assert valid_id(sanitize_run_id("_x" * 100))
    assert resolve_run_id(None, {"TORCHELASTIC_RUN_ID": "a b"}) == "a-b"


def test_rank_and_world_from_environment() -> None:
    assert rank_and_world({}) == (0, 1)
    assert rank_and_world({"RANK": "3", "WORLD_SIZE": "8"}) == (3, 8)


@pytest.mark.parametrize("env", [{"RANK": "x"}, {"RANK": "2", "WORLD_SIZE": "2"}])
def test_bad_rank_raises(env: dict) -> None:
    with pytest.raises(ConfigError):
        rank_and_world(env)


_TWO_RANKS = """
import os, sys, torch.distributed as dist
from producer.identity import rank_and_world, resolve_run_id
dist.init_process_group("gloo")
run_id = resolve_run_id(None, {})
print(run_id, *rank_and_world({"RANK": "9", "WORLD_SIZE": "1"}))
dist.destroy_process_group()
"""


def test_generated_run_id_is_broadcast_from_rank_zero(dead_endpoint: str) -> None:
    port = dead_endpoint.rsplit(":", 1)[1]
    base = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port, "WORLD_SIZE": "2"}
    base.pop("SPECTRAL_EDGE_RUN_ID", None)
    base.pop("TORCHELASTIC_RUN_ID", None)
    base.pop("SLURM_JOB_ID", None)
    ranks = [
        subprocess.Popen(
            [sys.executable, "-c", _TWO_RANKS],
            env={**base, "RANK": str(rank), "OMP_NUM_THREADS": "1"},
            stdout=subprocess.PIPE,
            text=True,
        )
        for rank in range(2)
    ]
    lines = [process.communicate(timeout=60)[0].split() for process in ranks]
    assert [process.returncode for process in ranks] == [0, 0]
    assert lines[0][0] == lines[1][0] and lines[0][0].startswith("run-")
    assert [line[1:] for line in lines] == [["0", "2"], ["1", "2"]]
