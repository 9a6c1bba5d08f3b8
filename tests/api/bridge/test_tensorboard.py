"""The bridge into TensorBoard event files, read back with TensorBoard's own reader; the mirror's
progress: nothing sent twice across passes and restarts, runs closed once they end."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util.tensor_util import make_ndarray

from analyzer.records import WindowRecord
from api.bridge.mirror import Mirror
from api.bridge.tensorboard import TensorBoardSink
from api.client import Client
from tests.support.seeding import write_record

Written = Callable[..., WindowRecord]


def _scalars(directory: Path) -> dict[str, list[tuple[int, float]]]:
    events = EventAccumulator(str(directory), size_guidance={"tensors": 0})  # 0: keep all
    events.Reload()
    return {
        tag: [(e.step, round(make_ndarray(e.tensor_proto).item(), 6)) for e in events.Tensors(tag)]
        for tag in events.Tags()["tensors"]
    }


def test_runs_are_mirrored_once_and_resumed_after_a_restart(
    se: Client,
    run_id: str,
    seeded: list[WindowRecord],
    record: Written,
    client: object,
    end_run: Callable[[str, str], None],
    tmp_path: Path,
) -> None:
    state = tmp_path / "state.json"
    first = Mirror(se, [TensorBoardSink(tmp_path / "tb")], state)
    assert first.sync() >= 5 + 2
    first.close()
    cursor = json.loads(state.read_text())[run_id]
    assert cursor["series"] == {"spectral_edge/all/W10": 50} and not cursor.get("finished")

    for index in (6, 7):
        assert write_record(client, record(run_id, index))
    end_run(run_id, "finished")
    restarted = Mirror(se, [TensorBoardSink(tmp_path / "tb")], state)
    restarted.sync()
    assert json.loads(state.read_text())[run_id]["finished"] is True
    restarted.sync()
    restarted.close()

    scalars = _scalars(tmp_path / "tb" / "api-test" / run_id)
    steps = [step for step, _ in scalars["spectral_edge/all/W10/edge_ratio"]]
    assert steps == [10, 20, 30, 40, 50, 60, 70]
    edge = dict(scalars["spectral_edge/all/W10/edge_ratio"])
    assert edge[70] == round(record(run_id, 7).edge_ratio, 6)
    assert scalars["spectral_edge/all/W10/sigma_1"][0] == (10, 3.0)
    assert scalars["spectral_edge/all/W10/k_star_weighted"][0] == (10, 1.0)
    assert [v for _, v in scalars["spectral_edge/alerts/edge.collapse"]] == [1.0]
    assert "spectral_edge/alerts/phase.rise" in scalars
