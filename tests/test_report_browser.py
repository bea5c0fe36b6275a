"""The report in a real headless Chromium (Debian's ``chromium``, installed by ``.ci/run``).

The reports: the breast-cancer executions (registered, and failed before any evaluation), a
synthetic multi-label execution, a per-row cost execution (the bank-telemarketing sample) and a
synthetic multi-label per-row one. Each report is opened from disk; the test checks that the
page loaded with no console error, no uncaught exception and no error in the browser's log,
that it fetched nothing but itself and its ``data:`` images, that every figure rendered with a
non-zero size, that no script made it into the page, and that a full-page screenshot is not
blank. Screenshots are kept in the test's
temporary folder (and copied to ``$COSTPIPE_SCREENSHOT_DIR`` when that is set).

Without Chromium the test fails under CI (``CI=true``, as ``.ci/run`` runs) and is skipped
elsewhere, with the command that installs it.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest

from pipeline.report import write_report
from pipeline.report.local import load_local
from tests.browser import Browser, chromium, find_chromium
from tests.external import missing_tool
from tests.report_support import (
    EVIL,
    PerRowHome,
    ReportHome,
    multilabel_data,
    per_row_home,
    per_row_multilabel_data,
    report_home,
)

FIGURES_SCRIPT = """(() => {
  const figures = [...document.querySelectorAll('figure')].map(figure => {
    const img = figure.querySelector('img');
    if (img) {
      const box = img.getBoundingClientRect();
      return {kind: 'img', complete: img.complete, natural: img.naturalWidth * img.naturalHeight,
              width: box.width, height: box.height};
    }
    const svg = figure.querySelector('svg');
    if (svg) {
      const bbox = svg.getBBox();
      const box = svg.getBoundingClientRect();
      return {kind: 'svg', complete: true, natural: bbox.width * bbox.height,
              width: box.width, height: box.height};
    }
    return {kind: 'empty', complete: false, natural: 0, width: 0, height: 0};
  });
  return {
    figures,
    scripts: document.querySelectorAll('script').length,
    handlers: [...document.querySelectorAll('*')].filter(
      e => [...e.attributes].some(a => a.name.startsWith('on'))).length,
    title: document.title,
    money_tables: [...document.querySelectorAll('table.money-lost')].filter(
      table => table.tBodies.length && table.tBodies[0].rows.length > 0).length,
    sections: [...document.querySelectorAll('h2')].map(h => h.textContent),
  };
})()"""


def require_chromium() -> str:
    executable = find_chromium()
    if executable and Path(executable).exists():
        return executable
    message = (
        "Chromium is not installed: apt-get install -y --no-install-recommends chromium "
        "(or point COSTPIPE_CHROMIUM at a Chromium binary)"
    )
    missing_tool(message)


def pixel_spread(png: bytes) -> tuple[float, float]:
    """Standard deviation of the grey levels, and the share of pixels that are not white."""
    from PIL import Image, ImageStat

    image = Image.open(io.BytesIO(png)).convert("L")
    spread = ImageStat.Stat(image).stddev[0]
    histogram = image.histogram()
    not_white = 1 - sum(histogram[250:]) / (image.width * image.height)
    return spread, not_white


def check_page(browser: Browser, page: Path, screenshots: Path) -> dict:
    browser.navigate(page.as_uri())
    state = browser.evaluate(FIGURES_SCRIPT)
    log = browser.page_log()
    assert log.loaded
    assert log.console_errors == [], log.console_errors
    assert log.exceptions == [], log.exceptions
    assert log.log_errors == [], log.log_errors
    foreign = [url for url in log.requests if not url.startswith(("data:", page.as_uri()))]
    assert foreign == [], foreign
    assert state["scripts"] == 0 and state["handlers"] == 0
    for index, figure in enumerate(state["figures"]):
        assert figure["kind"] != "empty", f"figure {index} of {page.name} has no image"
        assert figure["complete"], f"figure {index} of {page.name} did not load"
        assert figure["natural"] > 0, f"figure {index} of {page.name} rendered empty"
        assert figure["width"] > 100 and figure["height"] > 50, figure
    png = browser.screenshot()
    shot = screenshots / f"{page.stem}.png"
    shot.write_bytes(png)
    target = os.environ.get("COSTPIPE_SCREENSHOT_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(target) / shot.name)
    spread, not_white = pixel_spread(png)
    assert spread > 20, f"{shot} looks blank (grey-level spread {spread:.1f})"
    assert not_white > 0.03, f"{shot} is almost all white ({not_white:.1%} ink)"
    return state


@pytest.mark.slow
def test_reports_render_in_headless_chromium(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
):
    executable = require_chromium()
    home: ReportHome = report_home(tmp_path_factory.mktemp("report"))
    per_row: PerRowHome = per_row_home(tmp_path_factory.mktemp("report-per-row"))
    pages = {
        "registered": write_report(
            load_local(home.home, home.registered), tmp_path / "registered.html"
        ),
        "failed": write_report(load_local(home.home, home.failed), tmp_path / "failed.html"),
        "multilabel": write_report(
            multilabel_data(labels=("toxic", EVIL)), tmp_path / "multilabel.html"
        ),
        "per-row": write_report(
            load_local(per_row.home, per_row.execution), tmp_path / "per-row.html"
        ),
        "per-row-multilabel": write_report(
            per_row_multilabel_data(labels=("toxic", EVIL), formula=f"0.5 * `{EVIL}`"),
            tmp_path / "per-row-multilabel.html",
        ),
    }
    screenshots = tmp_path / "screenshots"
    screenshots.mkdir()
    with chromium(executable) as browser:
        states = {name: check_page(browser, page, screenshots) for name, page in pages.items()}
    # The DAG plus four plots for one label, the DAG alone without evaluation, and the DAG plus
    # four plots per label for two labels.
    assert [f["kind"] for f in states["registered"]["figures"]] == ["svg"] + ["img"] * 4
    assert [f["kind"] for f in states["failed"]["figures"]] == ["svg"]
    assert len(states["multilabel"]["figures"]) == 1 + 4 * 2
    assert "Label toxic (1 of 2)" in states["multilabel"]["sections"]
    assert any(EVIL in section for section in states["multilabel"]["sections"])
    assert states["registered"]["title"].startswith("costpipe")
    # Per-row costs: the DAG plus four plots per label (cost against the shift, the setting,
    # what the errors cost, precision-recall), and the costliest errors' table.
    assert [f["kind"] for f in states["per-row"]["figures"]] == ["svg"] + ["img"] * 4
    assert states["per-row"]["money_tables"] == 1
    assert len(states["per-row-multilabel"]["figures"]) == 1 + 4 * 2
    assert states["per-row-multilabel"]["money_tables"] == 2
