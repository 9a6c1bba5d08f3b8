"""The GPU script's measurements run (on the CPU here, so their numbers mean nothing) and the
script refuses to start without a CUDA device."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from benchmarks.lm import gpu
from benchmarks.lm.runs import plan


def test_throughput_rows_compare_the_sketch_with_torch_sum() -> None:
    (row,) = gpu.sketch_throughput("cpu", sizes=(4096,), repeats=2)
    assert row["elements"] == 4096
    assert row["sketch_gb_s"] > 0 and row["sum_gb_s"] > 0
    assert row["sketch_over_sum"] == pytest.approx(row["sum_gb_s"] / row["sketch_gb_s"])


def test_step_overhead_trains_with_and_without_the_watch(tmp_path: Path) -> None:
    (tiny,) = plan("tiny", str(tmp_path / "cache"), str(tmp_path / "deltas")).runs
    found = gpu.step_overhead(tiny, steps=4, every=2)
    assert found["plain_step_s"] > 0 and found["watched_step_s"] > 0
    assert found["overhead"] == pytest.approx(found["watched_step_s"] / found["plain_step_s"] - 1)
    assert found["parameters"] > 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_the_script_needs_a_cuda_device(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="no CUDA device"):
        gpu.main(["--out", str(tmp_path)])


def test_the_gpu_run_is_the_papers_51m_shape(tmp_path: Path) -> None:
    (paper,) = plan("gpu", str(tmp_path), str(tmp_path)).runs
    assert paper.shape[:3] == (8, 512, 16) and paper.context == 256 and paper.device == "cuda"
    assert (paper.steps, paper.warmup, paper.every) == (10_000, 1_500, 200)
    assert replace(paper, device="cpu").name == paper.name
