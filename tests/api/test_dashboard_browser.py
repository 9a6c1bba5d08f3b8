"""The dashboard in real headless Chromium (Debian's `chromium`, driven by Playwright).

Against a run with window records, scalars, a phase and an alert: every chart draws (points
counted by the page and non-blank canvas pixels), a record written afterwards arrives over the
live stream, the stride selector switches to a stride-5 series, and a screenshot is saved to
`$SPECTRAL_EDGE_ARTIFACTS` (default: the test's tmp dir).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from analyzer.records import Alert, WindowRecord
from analyzer.service import keys
from analyzer.service.store import Store
from tests.support.seeding import write_record

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
CHARTS = ("chart-spectrum", "chart-edge", "chart-kstar", "chart-validation")
PAINTED = """(id) => {
  const c = document.getElementById(id);
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
  return n;
}"""

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (`dev` extra) missing")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium missing")


def _record(base: WindowRecord, i: int) -> WindowRecord:
    wobble = 1.0 + 0.2 * math.sin(i / 4)
    sigma = [3.0 * math.exp(-0.6 * k) * wobble for k in range(6)]
    ratio = 1.0 + 2.0 * math.exp(-(((i - 25) / 10) ** 2))
    return base.model_copy(update={"sigma": sigma, "edge_ratio": ratio})


def _seed(store: Store, client: Any, record: Callable[..., WindowRecord], run_id: str) -> None:
    for i in range(1, 51):
        assert write_record(store.client, _record(record(run_id, i), i))
        point = {"step": 10 * i, "values": {"val_loss": 2.0 / i, "val_acc": min(1.0, i / 40)}}
        client.zadd(keys.scalars(run_id), {json.dumps(point): 10 * i})
    strided = _record(record(run_id, 50), 50).model_copy(update={"stride": 5})
    assert write_record(store.client, strided)  # a stride-5 series beside, charted when selected


def _artifacts(tmp_path: Path) -> Path:
    where = Path(os.environ.get("SPECTRAL_EDGE_ARTIFACTS") or tmp_path)
    where.mkdir(parents=True, exist_ok=True)
    return where


def test_dashboard_draws_and_updates_live(
    api_url: str,
    admin_token: str,
    run_id: str,
    store: Store,
    client: Any,
    start_run: Callable[..., None],
    record: Callable[..., WindowRecord],
    alert: Callable[[str], Alert],
    tmp_path: Path,
) -> None:
    start_run(run_id, now=time.time())  # newest, so on the run list's first page
    _seed(store, client, record, run_id)
    collapse = alert("edge.collapse").model_copy(update={"run_id": run_id, "step": 420})
    client.xadd(keys.run_alerts(run_id), {"alert": collapse.model_dump_json()})
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{api_url}/dashboard/?run={run_id}#token={admin_token}")
            page.wait_for_selector("body[data-ready='1']", timeout=20_000)
            points = {c: int(page.get_attribute(f"#{c}", "data-points") or 0) for c in CHARTS}
            assert points == {
                "chart-spectrum": 300,
                "chart-edge": 50,
                "chart-kstar": 150,
                "chart-validation": 100,
            }
            assert all(page.evaluate(PAINTED, c) > 500 for c in CHARTS)
            assert "edge.collapse" in page.inner_text("#alerts")
            assert page.locator(f"#runs tr[data-run='{run_id}']").count() == 1
            page.wait_for_selector("#live.on", timeout=10_000)
            assert write_record(store.client, _record(record(run_id, 51), 51))
            page.wait_for_function(
                "document.getElementById('chart-edge').dataset.points === '51'", timeout=15_000
            )
            assert page.eval_on_selector_all("#stride option", "os => os.map(o => o.value)") == [
                "1",
                "5",
            ]
            page.select_option("#stride", "5")
            page.wait_for_function(
                "document.getElementById('chart-edge').dataset.points === '1'", timeout=15_000
            )
            page.screenshot(path=str(_artifacts(tmp_path) / "dashboard.png"), full_page=True)
            assert errors == []
        finally:
            browser.close()
