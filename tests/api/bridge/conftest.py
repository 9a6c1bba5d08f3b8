"""Fixtures of the bridge tests: ending a run the way its producer does."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from analyzer.service.store import Store
from producer.wire import Kind, Message
from tests.support.seeding import apply_message


@pytest.fixture
def end_run(store: Store) -> Callable[[str, str], None]:
    """`end_run(run_id, status)`: a FINISH message (`finished` or `failed`) through the analyzer."""

    def end(run_id: str, status: str) -> None:
        body = {"status": status}
        apply_message(store, Message(Kind.FINISH, run_id, 1, body=body), now=2.0)

    return end
