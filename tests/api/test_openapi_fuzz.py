"""Schemathesis over the OpenAPI document: no generated request makes the api answer 5xx.

The api runs under uvicorn, open (loopback; the auth matrix is tested apart), on a private Redis
with a run that has data (every `{run_id}` path parameter names it). Left out: the live stream
(it never ends) and the webhook operations that send a request out (`/test`, `/redeliver`); no
alert is published, so nothing is delivered.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from analyzer.records import WindowRecord
from analyzer.service import keys
from analyzer.service.store import Store
from api.config import ApiSettings
from tests.support.seeding import write_record

ST = Path(sys.executable).with_name("st")
EXCLUDED = r"(/events|/test|/redeliver)$"
PHASES = "examples,coverage,fuzzing"


@pytest.fixture(scope="module")
def redis_url(private_redis: str) -> str:
    """A private Redis: the fuzzer creates tokens and webhooks there."""
    return private_redis


@pytest.fixture(scope="module")
def settings(settings: ApiSettings) -> ApiSettings:
    """Open (loopback): the fuzzer may revoke any token it lists, so it gets none to lose."""
    return settings.model_copy(update={"open": True})


@pytest.mark.skipif(not ST.exists(), reason="schemathesis (the `dev` extra) is not installed")
def test_no_server_error(
    api_url: str,
    run_id: str,
    store: Store,
    start_run: Callable[..., None],
    record: Callable[..., WindowRecord],
    client: Any,
    tmp_path: Path,
) -> None:
    start_run(run_id, now=1.0)
    for index in range(1, 41):
        write_record(store.client, record(run_id, index))
        point = {"step": 10 * index, "values": {"val_loss": 1.0 / index, "val_acc": index / 40}}
        client.zadd(keys.scalars(run_id), {json.dumps(point): 10 * index})
    config = tmp_path / "schemathesis.toml"
    config.write_text(f'[parameters]\n"path.run_id" = "{run_id}"\n', encoding="utf-8")
    command = [
        str(ST), "--config-file", str(config), "--no-color", "run", f"{api_url}/openapi.json",
        "--checks", "not_a_server_error", "--max-examples", "8", "--seed", "20261129",
        "--exclude-path-regex", EXCLUDED, "--phases", PHASES,
        "--request-timeout", "10", "--workers", "1",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=110, check=False)
    report = done.stdout[-6000:] + done.stderr[-2000:]
    assert done.returncode == 0, report
    assert " passed" in done.stdout and "Tested: " in done.stdout, report
