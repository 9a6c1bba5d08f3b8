"""Replay the analyzer's own detector banks over a run's stored records (the pipeline check).

Feeding the saved window records of every (W, stride) series through a fresh `SeriesDetectors`
must give exactly the series alerts the analyzer emitted while the run trained: it shows the
stored records are complete and the live detectors are the rules the evaluation scores. The banks
take the detector configuration the run was collected under (`grokking_config`), so a run keeps
replaying after the defaults are retuned.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

from analyzer.core.detectors import SeriesDetectors
from analyzer.core.grokking import GrokkingConfig
from analyzer.records import WindowRecord
from analyzer.service.config import AnalyzerSettings
from benchmarks.grokking.signals import Raw


def _series(label: str) -> tuple[int, int]:
    window, _, stride = label.partition("/")
    return int(window), int(stride or 1)


def replayed(raw: Raw) -> set[tuple[str, int, int, int]]:
    """(type, W, stride, step) of every alert the series banks fire on the stored records."""
    settings = AnalyzerSettings.model_validate(raw.get("analyzer_settings", {}))
    fired = set()
    for label, rows in raw["records"].items():
        window, stride = _series(label)
        base = SeriesDetectors.from_settings(settings)
        saved = raw.get("grokking_config")
        config = base.config if saved is None else GrokkingConfig.from_dict(saved)
        bank = SeriesDetectors(config, base.collapse, base.phases)
        for row in rows:
            k_star = SimpleNamespace(weighted=row["k_star"], argmax=row["k_star"],
                                     floor=row["k_star"])  # fmt: skip
            view = SimpleNamespace(**{**row, "k_star": k_star}, window=window, stride=stride)
            for event in bank.update(cast(WindowRecord, view)):
                fired.add((event.type, window, stride, event.step))
    return fired


def pipeline_agrees(raw: Raw) -> bool:
    """Whether replaying the series banks gives exactly the series alerts the analyzer emitted."""
    emitted = {
        (a["type"], a["window"], a.get("stride", 1), a["step"])
        for a in raw["alerts"]
        if a["window"] > 0
    }
    return emitted == replayed(raw)
