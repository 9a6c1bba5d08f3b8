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
CHARTS = ("chart-spectrum", "chart-edge", "chart-kstar", "chart-scalars")
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


def _seed(
    store: Store, client: Any, record: Callable[..., WindowRecord], run_id: str, shift: int = 0
) -> None:
    for i in range(1, 51):
        assert write_record(store.client, _record(record(run_id, i), i + shift))
        values = {"val_loss": 2.0 / i, "val_acc": min(1.0, i / 40), "test_acc": min(1.0, i / 45)}
        point = {"step": 10 * i, "values": {**values, "lr": 1e-3}}
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
                "chart-scalars": 150,
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


NO_OVERLAP = """(id) => {
  const boxes = JSON.parse(document.getElementById(id).dataset.labels);
  for (const [i, a] of boxes.entries()) for (const b of boxes.slice(i + 1)) {
    if (a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h) return false;
  }
  return boxes.length;
}"""


def test_scalars_markers_downloads_and_comparison(
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
    other = f"{run_id}-b"
    start_run(other, now=time.time())
    start_run(run_id, now=time.time())
    _seed(store, client, record, run_id)
    _seed(store, client, record, other, shift=8)
    for n, kind in enumerate(["edge.collapse", "phase.rise", "phase.plateau", "edge.decline"]):
        crowded = alert(kind).model_copy(update={"run_id": run_id, "step": 200 + 5 * n})
        client.xadd(keys.run_alerts(run_id), {"alert": crowded.model_dump_json()})
    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            try:
                _exercise(browser, api_url, admin_token, run_id, other, _artifacts(tmp_path))
            finally:
                browser.close()
    finally:
        stale = list(client.scan_iter(match=f"se:{{{other}}}:*", count=1000))
        if stale:
            client.delete(*stale)
        client.zrem(keys.RUNS, other)


def _exercise(browser: Any, url: str, token: str, run_id: str, other: str, out: Path) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{url}/dashboard/?run={run_id}#token={token}")
    page.wait_for_selector("body[data-ready='1']", timeout=20_000)

    names = page.eval_on_selector_all(
        "#scalar-names input", "bs => bs.map(b => [b.value, b.checked])"
    )
    assert names == [["val_loss", True], ["val_acc", True], ["test_acc", True], ["lr", False]]
    page.uncheck("#scalar-names input[value='val_acc']")
    page.check("#scalar-names input[value='lr']")
    page.wait_for_function("document.getElementById('chart-scalars').dataset.points === '150'")
    page.uncheck("#scalar-names input[value='lr']")
    page.wait_for_function("document.getElementById('chart-scalars').dataset.points === '100'")

    assert page.evaluate(NO_OVERLAP, "chart-edge") == 4
    assert page.get_attribute("#chart-edge", "data-hidden") == "0"
    assert page.eval_on_selector_all("#group option", "os => os.map(o => o.value)") == ["all"]
    assert page.eval_on_selector_all("#window option", "os => os.map(o => o.value)") == ["10"]

    with page.expect_download() as csv_download:
        page.click("#csv")
    csv_path = out / "dashboard-metrics.csv"
    csv_download.value.save_as(csv_path)
    assert csv_download.value.suggested_filename == f"{run_id}-all-W10-s1.csv"
    lines = csv_path.read_text().splitlines()
    assert lines[0].startswith("run_id,group,window") and len(lines) == 51
    with page.expect_download() as png_download:
        page.click("[data-png='chart-edge']")
    png_path = out / "dashboard-edge.png"
    png_download.value.save_as(png_path)
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page.screenshot(path=str(out / "dashboard-run.png"), full_page=True)

    for run in (run_id, other):
        page.check(f"#runs tr[data-run='{run}'] input.pick")
    page.click("#compare-button")
    page.wait_for_selector("#compare:not([hidden])")
    page.wait_for_function(
        "document.getElementById('chart-compare-edge').dataset.points === '100'", timeout=15_000
    )
    assert page.input_value("#compare-scalar") == "val_loss"
    page.select_option("#compare-scalar", "test_acc")
    assert page.get_attribute("#chart-compare-scalar", "data-points") == "100"
    page.locator("#compare").screenshot(path=str(out / "dashboard-compare.png"))
    assert errors == []
