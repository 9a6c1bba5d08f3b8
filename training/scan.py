"""A SCAN-style command-to-action task generated from its grammar, posed as classification.

Grammar (after Lake & Baroni's SCAN): a phrase is a verb (walk, look, run, jump) optionally
followed by a direction (left, right, opposite left/right, around left/right), or `turn` with a
direction; a phrase may be repeated (twice, thrice); two repeated phrases join with `and` (in
order) or `after` (reversed). Each command maps to an action sequence (WALK LOOK RUN JUMP LTURN
RTURN). Commands are enumerated, shuffled by `seed` and split disjointly; every command yields
one example per output position j (and one for the end): input = command words, padding, a
separator and the token of j; target = the j-th action, or END after the last.
"""

from __future__ import annotations

import itertools

import torch

from training.split import Task, cut, permutation

VERBS = ("walk", "look", "run", "jump")
WORDS = (*VERBS, "turn", "left", "right", "opposite", "around", "twice", "thrice", "and", "after")
ACTIONS = ("WALK", "LOOK", "RUN", "JUMP", "LTURN", "RTURN", "END")
DIRECTIONS = ("", "left", "right", "opposite left", "opposite right", "around left", "around right")
REPEATS = {"": 1, "twice": 2, "thrice": 3}
MAX_WORDS = 9
PAD, SEP = len(WORDS), len(WORDS) + 1


def phrase_actions(verb: str, direction: str) -> list[str]:
    """Actions of one unrepeated phrase such as `jump around left`."""
    act = [] if verb == "turn" else [verb.upper()]
    if not direction:
        return act
    turn = "LTURN" if direction.endswith("left") else "RTURN"
    if direction.startswith("opposite"):
        return [turn, turn, *act]
    if direction.startswith("around"):
        return [turn, *act] * 4
    return [turn, *act]


def phrases() -> list[tuple[str, list[str]]]:
    """Every repeated phrase with its actions (bare `turn` has none and is left out)."""
    found = []
    for verb, direction, repeat in itertools.product((*VERBS, "turn"), DIRECTIONS, REPEATS):
        if verb == "turn" and not direction:
            continue
        words = " ".join(w for w in (verb, direction, repeat) if w)
        found.append((words, phrase_actions(verb, direction) * REPEATS[repeat]))
    return found


def commands() -> list[tuple[str, list[str]]]:
    """Every command of the grammar with its action sequence, in a fixed order."""
    single = phrases()
    joined = [
        (f"{a} {conj} {b}", acts_a + acts_b if conj == "and" else acts_b + acts_a)
        for (a, acts_a), (b, acts_b) in itertools.product(single, single)
        for conj in ("and", "after")
    ]
    return single + joined


def encode(command: str, actions: list[str]) -> tuple[list[list[int]], list[int]]:
    """One (input, target) example per output position of `command`, plus the END query."""
    words = [WORDS.index(w) for w in command.split()]
    words += [PAD] * (MAX_WORDS - len(words))
    rows = [[*words, SEP, SEP + 1 + j] for j in range(len(actions) + 1)]
    return rows, [ACTIONS.index(a) for a in actions] + [ACTIONS.index("END")]


def scan_actions(n_train: int = 400, n_test: int = 160, seed: int = 0) -> Task:
    """The SCAN-style task: `n_train` training commands, `n_test` disjoint test commands."""
    pool = commands()
    order = permutation(len(pool), seed)[: n_train + n_test].tolist()
    rows: list[list[int]] = []
    targets: list[int] = []
    owner: list[int] = []
    for position, k in enumerate(order):
        xs, ys = encode(*pool[k])
        rows += xs
        targets += ys
        owner += [position] * len(ys)
    inputs, labels = torch.tensor(rows), torch.tensor(targets)
    n_rows = int((torch.tensor(owner) < n_train).sum())
    longest = max(len(a) for _, a in pool)
    train, test = cut(inputs, labels, torch.arange(len(rows)), n_rows)
    return Task("scan", train, test, vocab=SEP + 2 + longest, classes=len(ACTIONS))
