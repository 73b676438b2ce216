"""The whole pipeline on the tiny synthetic cohort, read the way a user reads its results."""

from __future__ import annotations

from pathlib import Path

import h5py
import pandas as pd
import yaml
from snakemake_runs import TINY_CONFIG

from crossfusion_core.cohort import cohort_slide_ids
from crossfusion_core.synthetic.dataset import SyntheticDataset
from crossfusion_core.synthetic.settings import SyntheticSettings

RESULTS = "results/tiny"
MODELS = ("crossfusion", "abmil")


def _tiny_slides() -> list[str]:
    tiny = yaml.safe_load(TINY_CONFIG.read_text())
    return cohort_slide_ids(SyntheticDataset(), SyntheticSettings.from_mapping(tiny["synthetic"]))


def test_every_stage_leaves_its_results(tiny_run: Path):
    results = tiny_run / RESULTS
    for slide in _tiny_slides():
        for path in (f"qc/tissue/{slide}.png", f"qc/patches/{slide}.png", f"patches/{slide}.h5"):
            assert (results / path).stat().st_size > 0, path
    for model in MODELS:
        run = results / model / "efficientnet_lite0"
        for path in ("metrics.csv", "metrics.json", "km.png", "km.pdf", "training_curves.png"):
            assert (run / path).stat().st_size > 0, path
        for fold in (0, 1):
            for path in ("model.pt", "epochs.csv", "predictions.csv", "heatmaps/highest_risk.png"):
                assert (run / f"fold_{fold}" / path).stat().st_size > 0, path


def test_every_patient_is_held_out_exactly_once(tiny_run: Path):
    survival = pd.read_csv(tiny_run / RESULTS / "clinical" / "survival.csv")
    for model in MODELS:
        folds = [
            pd.read_csv(tiny_run / RESULTS / model / "efficientnet_lite0" / f"fold_{k}" / "predictions.csv")
            for k in (0, 1)
        ]
        held_out = pd.concat(folds)["case_id"]
        assert not held_out.duplicated().any()
        assert set(held_out) == set(survival["case_id"])


def test_features_are_readable_as_clam_and_trident_bags(tiny_run: Path):
    slide = _tiny_slides()[0]
    with h5py.File(tiny_run / RESULTS / "patches" / f"{slide}.h5") as patches:
        n10 = len(patches["x10/coords"])
    for mag, n_expected in ((10, n10), (20, 4 * n10)):
        with h5py.File(
            tiny_run / RESULTS / "features" / "efficientnet_lite0" / f"x{mag}" / f"{slide}.h5"
        ) as h5:
            assert h5["features"].shape == (n_expected, 1280)
            assert h5["features"].dtype == "float32"
            assert h5["coords"].shape == (n_expected, 2)
            assert h5["coords"].dtype == "int64"
            assert h5.attrs["target_magnification"] == mag
            assert h5.attrs["patch_size"] == 256


def test_comparison_table_names_every_model_and_the_protocol(tiny_run: Path):
    table = pd.read_csv(tiny_run / RESULTS / "summary" / "comparison.csv")
    assert sorted(table["model"]) == sorted(MODELS)
    markdown = (tiny_run / RESULTS / "summary" / "comparison.md").read_text()
    assert "honest" in markdown


def test_each_job_logs_to_its_own_file(tiny_run: Path):
    slide = _tiny_slides()[0]
    log = tiny_run / RESULTS / "logs" / "train" / "abmil" / "efficientnet_lite0" / "fold_0.log"
    assert "epoch" in log.read_text().lower()
    assert (tiny_run / RESULTS / "logs" / "slide_patches" / f"{slide}.log").exists()
