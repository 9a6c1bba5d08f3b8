"""The runs filter grammar: parsed into conditions and matched against runs, never evaluated.

    filter     := condition ("AND" condition)*
    condition  := field op value | field "IN" "(" value ("," value)* ")"
    field      := run_id | project | state | created_at | updated_at | finished_at | world | dropped
    op         := "=" | "!=" | "<" | "<=" | ">" | ">="
    value      := 'single-quoted string' ('' escapes a quote) | number

Keywords are case-insensitive. Text fields take strings, numeric fields numbers; text fields
compare with = and != only. Example: `state = 'running' AND project IN ('a', 'b') AND world > 1`.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from analyzer.records import RunInfo
from api.errors import FilterError

TEXT_FIELDS = frozenset({"run_id", "project", "state"})
NUMBER_FIELDS = frozenset({"created_at", "updated_at", "finished_at", "world", "dropped"})
MAX_LENGTH = 1000

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"
    r"|(?P<op>!=|<=|>=|=|<|>)|(?P<punct>[(),])|(?P<word>[A-Za-z_][A-Za-z0-9_]*))"
)


@dataclass(frozen=True)
class Condition:
    """One comparison: `field op value`; `IN` holds a tuple of values."""

    field: str
    op: str
    value: Any

    def matches(self, run: RunInfo) -> bool:
        """Whether the run satisfies this comparison (a missing value never does)."""
        actual = getattr(run, self.field)
        if actual is None:
            return False
        if self.op == "IN":
            return bool(actual in self.value)
        return _OPS[self.op](actual, self.value)


def parse(text: str) -> list[Condition]:
    """The conditions of a filter expression (an empty text matches everything)."""
    if len(text) > MAX_LENGTH:
        raise FilterError(f"filter is longer than {MAX_LENGTH} characters")
    tokens = _tokenize(text)
    conditions: list[Condition] = []
    while tokens:
        conditions.append(_condition(tokens))
        if tokens:
            kind, word = tokens.pop(0)
            if kind != "word" or word.upper() != "AND":
                raise FilterError(f"expected AND between conditions, found {word!r}")
            if not tokens:
                raise FilterError("filter ends after AND")
    return conditions


def matches(run: RunInfo, conditions: list[Condition]) -> bool:
    """Whether the run satisfies every condition."""
    return all(c.matches(run) for c in conditions)


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    while position < len(text.rstrip()):
        found = _TOKEN.match(text, position)
        if found is None or found.lastgroup is None:
            raise FilterError(f"cannot parse filter at character {position}: {text[position:]!r}")
        tokens.append((found.lastgroup, found.group(found.lastgroup)))
        position = found.end()
    return tokens


def _condition(tokens: list[tuple[str, str]]) -> Condition:
    kind, field = tokens.pop(0)
    if kind != "word" or field not in TEXT_FIELDS | NUMBER_FIELDS:
        known = ", ".join(sorted(TEXT_FIELDS | NUMBER_FIELDS))
        raise FilterError(f"unknown filter field {field!r} (known: {known})")
    if not tokens:
        raise FilterError(f"filter ends after field {field!r}")
    kind, op = tokens.pop(0)
    if kind == "word" and op.upper() == "IN":
        return Condition(field, "IN", tuple(_value_list(field, tokens)))
    if kind != "op":
        raise FilterError(f"expected a comparison after {field!r}, found {op!r}")
    if field in TEXT_FIELDS and op not in ("=", "!="):
        raise FilterError(f"{field} compares with = or != only")
    return Condition(field, op, _value(field, tokens))


def _value_list(field: str, tokens: list[tuple[str, str]]) -> list[Any]:
    if not tokens or tokens.pop(0)[1] != "(":
        raise FilterError("IN takes a parenthesised list of values")
    values = [_value(field, tokens)]
    while tokens and tokens[0][1] == ",":
        tokens.pop(0)
        values.append(_value(field, tokens))
    if not tokens or tokens.pop(0)[1] != ")":
        raise FilterError("unclosed IN list")
    return values


def _value(field: str, tokens: list[tuple[str, str]]) -> Any:
    if not tokens:
        raise FilterError(f"filter ends before the value of {field!r}")
    kind, text = tokens.pop(0)
    if field in TEXT_FIELDS:
        if kind != "string":
            raise FilterError(f"{field} takes a quoted string, found {text!r}")
        return text[1:-1].replace("''", "'")
    if kind != "number":
        raise FilterError(f"{field} takes a number, found {text!r}")
    return float(text)
