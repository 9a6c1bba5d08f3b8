"""Ordering and opaque keyset cursors for list endpoints.

`order_by` is `field [ASC|DESC]`; ties break on `run_id` in the same direction, so the order is
total. A page token is base64url JSON holding the last item's sort key and a fingerprint of the
query; a token is refused for a different filter or ordering. Keyset cursors stay correct while
runs are added: the next page starts strictly after the last item seen.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from analyzer.records import RunInfo
from api.errors import FilterError

ORDER_FIELDS = ("created_at", "updated_at", "run_id", "project", "state")
NUMERIC = frozenset({"created_at", "updated_at"})
DEFAULT_ORDER = "created_at DESC"


@dataclass(frozen=True)
class Order:
    """Sort field and direction."""

    field: str
    descending: bool

    def key(self, run: RunInfo) -> tuple[Any, str]:
        """The total-order key of a run."""
        return (getattr(run, self.field), run.run_id)


def parse_order(text: str) -> Order:
    """An `order_by` expression: `field` or `field ASC|DESC`."""
    parts = text.split()
    if not 1 <= len(parts) <= 2 or parts[0] not in ORDER_FIELDS:
        raise FilterError(f"order_by is 'field [ASC|DESC]' with field one of {ORDER_FIELDS}")
    direction = parts[1].upper() if len(parts) == 2 else "ASC"
    if direction not in ("ASC", "DESC"):
        raise FilterError("order_by direction is ASC or DESC")
    return Order(parts[0], direction == "DESC")


def page(
    runs: list[RunInfo], order: Order, query: str, token: str | None, size: int
) -> tuple[list[RunInfo], str | None]:
    """One page of `runs` in `order` after the cursor, and the next page's token (None: last)."""
    ordered = sorted(runs, key=order.key, reverse=order.descending)
    if token:
        after = _cursor(decode_token(token, query), order)
        if order.descending:
            ordered = [r for r in ordered if _plain(order.key(r)) < after]
        else:
            ordered = [r for r in ordered if _plain(order.key(r)) > after]
    chunk = ordered[:size]
    more = len(ordered) > size
    return chunk, encode_token(_plain(order.key(chunk[-1])), query) if more else None


def fingerprint(*parts: str) -> str:
    """A short digest binding a token to its query."""
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:16]


def encode_token(after: list[Any], query: str) -> str:
    """The opaque token of a cursor."""
    raw = json.dumps({"a": after, "q": query}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, query: str) -> list[Any]:
    """The cursor of a token issued for `query`."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        doc = json.loads(raw)
        after, issued_for = doc["a"], doc["q"]
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise FilterError("page_token is not a token this server issued") from exc
    if issued_for != query or not isinstance(after, list):
        raise FilterError("page_token belongs to a different filter or order_by")
    return after


def _plain(key: tuple[Any, str]) -> list[Any]:
    value = key[0]
    return [float(value) if isinstance(value, int | float) else str(value), key[1]]


def _cursor(after: list[Any], order: Order) -> list[Any]:
    """A decoded runs cursor, checked to have the sort key's shape."""
    if len(after) == 2 and isinstance(after[0], int) and not isinstance(after[0], bool):
        after = [float(after[0]), after[1]]
    kind = float if order.field in NUMERIC else str
    if len(after) != 2 or not isinstance(after[0], kind) or not isinstance(after[1], str):
        raise FilterError("page_token belongs to a different filter or order_by")
    return after
