"""The metrics keys of (group, W, stride) series: stride 1 keeps its name, each parses back."""

from __future__ import annotations

import pytest

from analyzer.service import keys


def test_metrics_keys_name_and_parse_every_stride() -> None:
    assert keys.metrics("r", "all", 10) == "se:{r}:metrics:all:10"
    assert keys.metrics("r", "all", 10, 5) == "se:{r}:metrics:all:10/5"
    for named in [("all", 10, 1), ("all", 10, 5), ("a:b/c", 2, 1000)]:
        assert keys.metrics_series("r", keys.metrics("r", *named)) == named


@pytest.mark.parametrize(
    "key",
    ["se:{r}:metrics:all:10/1", "se:{r}:metrics:all:10/05", "se:{r}:metrics:all:10/x",
     "se:{r}:metrics:all:²", "se:{r}:metrics::10", "se:{r}:metrics:all", "se:{q}:metrics:all:10"],
)  # fmt: skip
def test_other_keys_are_no_series(key: str) -> None:
    assert keys.metrics_series("r", key) is None
