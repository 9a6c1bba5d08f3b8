"""Task generators: deterministic per seed, disjoint splits, correct targets."""

from __future__ import annotations

import itertools

import pytest
import torch

from training import OPERATIONS, TASKS, build, dyck_depth, modular, modular_addition, scan_actions
from training.scan import ACTIONS, WORDS, commands, phrase_actions

SMALL = {
    "dyck-depth": {"length": 10, "n_train": 20, "n_test": 100},
    "scan": {"n_train": 30, "n_test": 30},
}


def _options(name: str) -> dict[str, int]:
    return {"p": 13} if name.startswith("modular") else SMALL[name]


def _rows(inputs: torch.Tensor) -> set[tuple[int, ...]]:
    return {tuple(row) for row in inputs.tolist()}


@pytest.mark.parametrize("name", sorted(TASKS))
def test_same_seed_same_task(name: str) -> None:
    first, second = build(name, 3, **_options(name)), build(name, 3, **_options(name))
    for a, b in ((first.train, second.train), (first.test, second.test)):
        assert torch.equal(a.inputs, b.inputs)
        assert torch.equal(a.targets, b.targets)


@pytest.mark.parametrize("name", sorted(TASKS))
def test_other_seed_other_split(name: str) -> None:
    first, second = build(name, 0, **_options(name)), build(name, 1, **_options(name))
    assert _rows(first.train.inputs) != _rows(second.train.inputs)


@pytest.mark.parametrize("name", sorted(TASKS))
@pytest.mark.parametrize("seed", [0, 7])
def test_splits_are_disjoint_and_well_formed(name: str, seed: int) -> None:
    task = build(name, seed, **_options(name))
    assert _rows(task.train.inputs).isdisjoint(_rows(task.test.inputs))
    for split in (task.train, task.test):
        assert len(split) > 0
        assert split.inputs.shape == (len(split), task.context)
        assert int(split.inputs.min()) >= 0 and int(split.inputs.max()) < task.vocab
        assert int(split.targets.min()) >= 0 and int(split.targets.max()) < task.classes


@pytest.mark.parametrize("op", sorted(OPERATIONS))
def test_modular_targets(op: str) -> None:
    p = 11
    task = modular(op, p, 0.5, 0)
    expected = {
        "add": lambda a, b: a + b,
        "sub": lambda a, b: a - b,
        "mul": lambda a, b: a * b,
        "sq_sum": lambda a, b: a * a + b * b,
        "sq_cross": lambda a, b: a * a + a * b + b * b,
        "cube_cross": lambda a, b: a**3 + a * b,
    }[op]
    split = task.train
    for (a, operator, b, equals), target in zip(split.inputs.tolist(), split.targets.tolist(),
                                                strict=True):  # fmt: skip
        assert (operator, equals) == (p, p + 1)
        assert target == expected(a, b) % p
    assert len(task.train) + len(task.test) == p * p


def test_modular_addition_keeps_its_old_shape() -> None:
    train, test = modular_addition(97, 0.5, 0)
    assert (len(train), len(test)) == (4704, 4705)


def test_dyck_targets_are_depths_at_the_queried_position() -> None:
    length = 8
    task = dyck_depth(length=length, n_train=10, n_test=50, seed=2)
    assert len(task.train) == 10 * length and len(task.test) == 50 * length
    for split in (task.train, task.test):
        for row, target in zip(split.inputs.tolist(), split.targets.tolist(), strict=True):
            brackets, query = row[:-1], row[-1] - 2
            depths = list(itertools.accumulate(1 if t == 0 else -1 for t in brackets))
            assert min(depths) >= 0
            assert 1 <= query <= length
            assert target == depths[query - 1]


def test_dyck_splits_hold_disjoint_sequences() -> None:
    task = dyck_depth(length=8, n_train=10, n_test=50, seed=3)
    train = {tuple(row[:-1]) for row in task.train.inputs.tolist()}
    test = {tuple(row[:-1]) for row in task.test.inputs.tolist()}
    assert len(train) == 10 and len(test) == 50 and train.isdisjoint(test)


def test_dyck_asks_for_more_than_exists() -> None:
    with pytest.raises(ValueError):
        dyck_depth(length=4, n_train=100)


@pytest.mark.parametrize(
    ("verb", "direction", "actions"),
    [
        ("jump", "", ["JUMP"]),
        ("walk", "left", ["LTURN", "WALK"]),
        ("run", "opposite right", ["RTURN", "RTURN", "RUN"]),
        ("look", "around left", ["LTURN", "LOOK"] * 4),
        ("turn", "around right", ["RTURN"] * 4),
    ],
)
def test_scan_phrases_follow_the_grammar(verb: str, direction: str, actions: list[str]) -> None:
    assert phrase_actions(verb, direction) == actions


def test_scan_conjunctions_and_repeats() -> None:
    table = dict(commands())
    assert table["jump twice and walk left"] == ["JUMP", "JUMP", "LTURN", "WALK"]
    assert table["jump twice after walk left"] == ["LTURN", "WALK", "JUMP", "JUMP"]
    assert table["turn left thrice"] == ["LTURN"] * 3
    assert len(table) == len(commands())


def test_scan_examples_spell_out_each_command() -> None:
    task = scan_actions(n_train=5, n_test=5, seed=1)
    sep = len(WORDS) + 1
    first = task.train.inputs[0].tolist()
    words = " ".join(WORDS[t] for t in first[:9] if t < len(WORDS))
    same = [i for i, row in enumerate(task.train.inputs.tolist()) if row[:10] == first[:10]]
    actions = [ACTIONS[task.train.targets[i]] for i in same]
    assert actions[-1] == "END"
    assert actions[:-1] == dict(commands())[words]
    assert [task.train.inputs[i, -1].item() - sep - 1 for i in same] == list(range(len(same)))
