"""Parameter groups: which parameters each sketch covers.

A group spec maps a group name to a filter: a regex searched in the parameter name, a module (or
list of modules) whose parameters belong to the group, or a predicate `f(name, parameter)`. A
regex with a capture group makes one group per captured value: `{"block": r"blocks\\.(\\d+)\\."}`
gives `block.0`, `block.1`, ... Parameters come from `named_parameters()`, so buffers are never
sketched and a tied tensor appears once under its first name; frozen parameters are skipped.
FSDP1 parameters appear under their unwrapped names, as `producer.flat_params.FlatMember`s.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from producer.errors import ConfigError
from producer.flat_params import FlatMember, named_parameters
from producer.wire import valid_id

ALL = "all"
Named = list[tuple[str, Any]]
Filter = str | re.Pattern[str] | Callable[[str, Any], bool] | Any


def resolve_groups(model: Any, spec: Mapping[str, Filter] | None = None) -> dict[str, Named]:
    """Group name -> (parameter name, parameter) in model order; `None` is one group `all`."""
    named = [(n, p) for n, p in named_parameters(model) if getattr(p, "requires_grad", True)]
    if spec is None:
        return {ALL: named}
    groups: dict[str, Named] = {}
    for label, rule in spec.items():
        for group, members in _apply(label, rule, named).items():
            if not valid_id(group):
                raise ConfigError(f"group name {group!r} is not wire-safe ([A-Za-z0-9._:-])")
            groups.setdefault(group, []).extend(members)
    return {group: members for group, members in groups.items() if members}


def _apply(label: str, rule: Filter, named: Named) -> dict[str, Named]:
    if isinstance(rule, str | re.Pattern):
        return _by_regex(label, re.compile(rule), named)
    modules = _modules(rule)
    if modules is not None:
        owned = {id(p) for module in modules for p in module.parameters()}
        owned |= {id(m) for module in modules for m in module.modules()}
        return {label: [(n, p) for n, p in named if id(_owner(p)) in owned]}
    if callable(rule):
        return {label: [(n, p) for n, p in named if rule(n, p)]}
    raise ConfigError(f"group {label!r}: a filter is a regex, a module or a predicate")


def _by_regex(label: str, pattern: re.Pattern[str], named: Named) -> dict[str, Named]:
    groups: dict[str, Named] = {}
    for name, parameter in named:
        match = pattern.search(name)
        if match is None:
            continue
        group = f"{label}.{match.group(1)}" if pattern.groups else label
        groups.setdefault(group, []).append((name, parameter))
    return groups


def _modules(rule: Any) -> list[Any] | None:
    """`rule` as a list of modules, or None when it is not a module or a list of them."""
    items = rule if isinstance(rule, list | tuple) else [rule]
    if items and all(hasattr(m, "parameters") and hasattr(m, "named_modules") for m in items):
        return list(items)
    return None


def _owner(parameter: Any) -> Any:
    """What a module filter matches: the parameter, or an FSDP1 member's owning module."""
    return parameter.module if isinstance(parameter, FlatMember) else parameter
