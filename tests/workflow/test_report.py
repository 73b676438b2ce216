"""`snakemake --report`, the step after `all`: the report opens in a real browser (headless Chromium)
and every figure in it decodes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from snakemake_runs import SNAKEFILE, TINY_CONFIG, run_snakemake

DECODE_ALL_FIGURES = """
const done = arguments[arguments.length - 1];
const entries = Object.entries(window.results || {}).filter(([, r]) => r.mime_type.startsWith("image/"));
Promise.all(entries.map(([path, r]) => new Promise(resolve => {
    const img = new Image();
    img.onload = () => resolve([path, img.naturalWidth, img.naturalHeight]);
    img.onerror = () => resolve([path, 0, 0]);
    img.src = r.data_uri;
}))).then(done);
"""


@pytest.fixture(scope="module")
def browser():
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        raise RuntimeError("chromium/chromedriver missing: run `bash .ci/install_system_packages.sh` as root")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(flag)
    with webdriver.Chrome(service=Service(driver), options=options) as chrome:
        chrome.set_script_timeout(120)
        yield chrome


def test_report_loads_and_every_image_renders(tiny_run: Path, browser, tmp_path: Path):
    report = tmp_path / "report.html"
    done = run_snakemake(tiny_run, SNAKEFILE, [TINY_CONFIG], [], ["--report", str(report)], 600)
    assert done.returncode == 0, done.stdout[-4000:]
    browser.get(report.as_uri())
    assert browser.title == "Snakemake Report"
    decoded = browser.execute_async_script(DECODE_ALL_FIGURES)
    rendered = {path: (width, height) for path, width, height in decoded}
    expected = {
        "results/tiny/summary/comparison.md",
        "results/tiny/crossfusion/efficientnet_lite0/km.png",
        "results/tiny/abmil/efficientnet_lite0/fold_1/heatmaps/lowest_risk.png",
        "results/tiny/crossfusion/efficientnet_lite0/training_curves.png",
    }
    assert {p for p in expected if p.endswith(".png")} <= set(rendered)
    assert any("/qc/tissue/" in p for p in rendered) and any("/qc/patches/" in p for p in rendered)
    assert all(width > 100 and height > 100 for width, height in rendered.values()), rendered
    assert browser.execute_script("return Object.keys(window.results).length") >= len(rendered) + 1
    browser.save_screenshot(str(tmp_path / "report.png"))
    assert (tmp_path / "report.png").stat().st_size > 10_000
