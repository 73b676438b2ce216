"""Your own slides end to end: a slide sheet of SVS and pyramidal TIFF files in sub-folders, a clinical
table, and the whole pipeline on the tiny test sizes, read the way a user reads its results."""

from __future__ import annotations

from pathlib import Path

import h5py
import pandas as pd
import pytest
import yaml
from local.cohort_files import write_local_cohort
from snakemake_runs import TINY_CONFIG, run_workflow

RESULTS = "results/mine"
PATIENTS = [f"P{patient}" for patient in range(1, 7)]


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One run of `all` on 6 patients, one model: 20x SVS scans, 40x TIFF scans, and a TIFF with its mpp
    in the sheet.

    Six patients, five of them with an observed death, give each training fold enough deaths for the
    tiny config's two time bins.
    """
    workdir = tmp_path_factory.mktemp("local_run")
    write_local_cohort(workdir / "cohort", n_patients=len(PATIENTS))
    overlay = workdir / "mine.yaml"
    overlay.write_text(
        yaml.safe_dump(
            {
                "cohort": "mine",
                "dataset": {
                    "kind": "local",
                    "slide_sheet": "cohort/slides.csv",
                    "clinical_table": "cohort/clinical.tsv",
                },
                "slides": {"batches": 2},
                "training": {"models": ["abmil"]},
            }
        )
    )
    run_workflow(workdir, [TINY_CONFIG, overlay], ["all"])
    run_workflow(workdir, [TINY_CONFIG, overlay], [], "--report", f"{RESULTS}/report.html")
    return workdir


def test_each_slide_is_read_from_its_own_file_at_its_own_scale(local_run: Path):
    for slide, expected_mpp, path in (
        ("S1", 0.5, "cohort/slides/scan_1.svs"),
        ("S2", 0.25, "cohort/slides/tiff/scan_2.tif"),
        ("S1b", 0.5, "cohort/slides/no_mpp/scan_1b.svs"),  # no mpp in the file: the sheet's value
    ):
        with h5py.File(local_run / RESULTS / "patches" / f"{slide}.h5") as patches:
            assert patches.attrs["slide_path"] == path
            assert patches["x10"].attrs["level0_mpp"] == expected_mpp
            assert len(patches["x10/coords"]) > 0
        assert (local_run / RESULTS / "qc" / "tissue" / f"{slide}.png").stat().st_size > 0


def test_survival_table_comes_from_the_clinical_table_by_slide_id(local_run: Path):
    survival = pd.read_csv(local_run / RESULTS / "clinical" / "survival.csv")
    assert sorted(survival["slide_id"]) == sorted([*(f"S{p}" for p in range(1, 7)), "S1b"])
    assert survival.set_index("slide_id").loc["S1b", "case_id"] == "P1"
    assert "age" in survival.columns


def test_every_patient_is_held_out_once_and_the_report_is_written(local_run: Path):
    run = local_run / RESULTS / "abmil" / "efficientnet_lite0"
    held_out = pd.concat(pd.read_csv(run / f"fold_{k}" / "predictions.csv") for k in (0, 1))
    assert sorted(held_out["case_id"]) == PATIENTS
    assert held_out.set_index("case_id").loc["P1", "slide_ids"] == "S1;S1b"
    assert (run / "km.png").stat().st_size > 0
    assert (local_run / RESULTS / "report.html").stat().st_size > 100_000
