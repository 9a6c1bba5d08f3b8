"""Ordering and keyset page tokens: pages partition the result, tokens are bound to their query."""

from __future__ import annotations

import pytest

from analyzer.records import RunInfo, RunState
from api.errors import FilterError
from api.pagination import encode_token, fingerprint, page, parse_order


def _runs(n: int) -> list[RunInfo]:
    return [
        RunInfo(
            run_id=f"r{i:03d}",
            project="p",
            state=RunState.RUNNING,
            created_at=float(i // 3),
            updated_at=float(i),
        )
        for i in range(n)
    ]


@pytest.mark.parametrize("order_by", ["created_at DESC", "created_at", "run_id desc", "state"])
def test_pages_partition_the_ordered_runs(order_by: str) -> None:
    runs, order, query = _runs(23), parse_order(order_by), fingerprint("", order_by)
    seen, token = [], None
    while True:
        chunk, token = page(runs, order, query, token, 5)
        seen += chunk
        if token is None:
            break
    expected = sorted(runs, key=order.key, reverse=order.descending)
    assert [r.run_id for r in seen] == [r.run_id for r in expected]


def test_new_runs_do_not_shift_the_next_page() -> None:
    runs, order, query = _runs(10), parse_order("created_at DESC"), "q"
    first, token = page(runs, order, query, None, 4)
    newer = RunInfo(run_id="zz", state=RunState.RUNNING, created_at=99.0, updated_at=99.0)
    second, _ = page([*runs, newer], order, query, token, 4)
    assert not {r.run_id for r in first} & {r.run_id for r in second}
    assert second[0].run_id == sorted(runs, key=order.key, reverse=True)[4].run_id


def test_tokens_are_bound_to_their_query_and_shape() -> None:
    runs, order = _runs(10), parse_order("created_at DESC")
    _, token = page(runs, order, "query-a", None, 3)
    assert token is not None
    for bad_query, bad_token in [
        ("query-b", token),
        ("query-a", "not-base64!"),
        ("query-a", encode_token(["text", "r1"], "query-a")),
        ("query-a", encode_token([1.0], "query-a")),
    ]:
        with pytest.raises(FilterError):
            page(runs, order, bad_query, bad_token, 3)


@pytest.mark.parametrize("text", ["", "colour", "created_at sideways", "a b c"])
def test_bad_order_by(text: str) -> None:
    with pytest.raises(FilterError):
        parse_order(text)
