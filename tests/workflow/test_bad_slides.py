"""Damaged or unusable slides: a clear error naming the file, and the other slides still finish; a
patient whose only slide has no tissue is left out, listed with the reason, and the run goes on.

The damaged slides sit in a TCGA-style data folder (as if fetched with the GDC transfer tool), so the
run starts from real files on disk: two good synthetic scans next to a truncated SVS, a text file
renamed .svs, a scan with neither mpp nor objective power, and an all-white scan. The left-out
patients are those of a local cohort run to the report: one whose only slide is all glass, one whose
only (truncated) slide the config excludes.
"""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml
from fixture_slides import tissue_rgb
from local.cohort_files import write_local_cohort
from snakemake_runs import SNAKEFILE, TINY_CONFIG, run_snakemake, run_workflow

from crossfusion_core.synthetic.svs_writer import write_aperio_svs

GOOD = ["TCGA-AA-0001-01Z-00-DX1", "TCGA-AA-0002-01Z-00-DX1"]
TRUNCATED, NOT_A_SLIDE, NO_RESOLUTION, BLANK = (f"TCGA-BB-000{i}-01Z-00-DX1" for i in range(1, 5))


def _write_slides(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    for slide in GOOD:
        write_aperio_svs(data_dir / f"{slide}.svs", tissue_rgb(0.5, seed=len(slide)), 0.5, 20)
    whole = (data_dir / f"{GOOD[0]}.svs").read_bytes()
    (data_dir / f"{TRUNCATED}.svs").write_bytes(whole[: len(whole) // 3])
    (data_dir / f"{NOT_A_SLIDE}.svs").write_text("case_id,slide_id\nnot,a slide\n")
    write_aperio_svs(data_dir / f"{NO_RESOLUTION}.svs", tissue_rgb(0.5), 0.5, None, write_mpp=False)
    write_aperio_svs(data_dir / f"{BLANK}.svs", np.full((1536, 2048, 3), 242, np.uint8), 0.5, 20)


def _write_config(workdir: Path, scans: Path, data_dir: Path) -> Path:
    """A manifest of the scans, each moved where the GDC transfer tool keeps a download
    (``data_dir/{file_id}/{filename}``): the download job md5-checks it there, without fetching."""
    rows = ["id\tfilename\tmd5\tsize\tstate"]
    for path in sorted(scans.glob("*.svs")):
        digest, file_id = hashlib.md5(path.read_bytes()).hexdigest(), str(uuid.uuid4())
        rows.append(f"{file_id}\t{path.name}\t{digest}\t{path.stat().st_size}\treleased")
        (data_dir / file_id).mkdir(parents=True)
        path.rename(data_dir / file_id / path.name)
    (workdir / "manifest.tsv").write_text("\n".join(rows) + "\n")
    config = {
        "cohort": "damaged",
        "dataset": {
            "kind": "tcga",
            "project": "TCGA-XX",
            "manifest": "manifest.tsv",
            "data_dir": str(data_dir),
        },
    }
    path = workdir / "damaged.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def damaged_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    workdir = tmp_path_factory.mktemp("damaged")
    _write_slides(workdir / "scans")
    config = _write_config(workdir, workdir / "scans", workdir / "slides")
    targets = [
        f"results/damaged/qc/patches/{slide}.png"
        for slide in [*GOOD, TRUNCATED, NOT_A_SLIDE, NO_RESOLUTION, BLANK]
    ]
    done = run_snakemake(workdir, SNAKEFILE, [config], targets, ["--cores", "2", "--keep-going"], 900)
    return workdir, done.stdout if done.returncode != 0 else ""


def _log(workdir: Path, rule: str, slide: str) -> str:
    return (workdir / "results" / "damaged" / "logs" / rule / f"{slide}.log").read_text()


def test_the_run_reports_failure_but_good_slides_finish(damaged_run):
    workdir, failed_output = damaged_run
    assert failed_output, "a run with damaged slides must not exit 0"
    for slide in GOOD:
        with h5py.File(workdir / "results" / "damaged" / "patches" / f"{slide}.h5") as h5:
            assert len(h5["x10/coords"]) > 0 and not h5.attrs["empty"]


@pytest.mark.parametrize(
    ("slide", "problem"),
    [
        (TRUNCATED, "damaged or truncated"),
        (NOT_A_SLIDE, "not a slide format"),
        (NO_RESOLUTION, "mpp_override"),
    ],
)
def test_unusable_slide_fails_naming_the_file_and_the_problem(damaged_run, slide: str, problem: str):
    workdir, _ = damaged_run
    log = _log(workdir, "slide_patches", slide)
    assert f"{slide}.svs" in log and problem in log
    assert not (workdir / "results" / "damaged" / "tissue" / f"{slide}.h5").exists()


def test_blank_slide_gives_flagged_empty_results(damaged_run):
    workdir, _ = damaged_run
    with h5py.File(workdir / "results" / "damaged" / "patches" / f"{BLANK}.h5") as h5:
        assert h5.attrs["empty"] and len(h5["x10/coords"]) == 0
    assert "no tissue" in _log(workdir, "slide_patches", BLANK)


USABLE = [f"P{patient}" for patient in range(1, 7)]
GLASS_PATIENT, EXCLUDED_PATIENT = "P7", "P8"


@pytest.fixture(scope="module")
def left_out_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`all` on a local cohort of 8 patients, one model: P1-P6 have tissue, P7's only slide is all glass,
    P8's only slide is truncated and listed in slides.exclude."""
    workdir = tmp_path_factory.mktemp("left_out")
    root = workdir / "cohort"
    sheet, clinical = write_local_cohort(root, n_patients=len(USABLE))
    write_aperio_svs(root / "slides" / "glass_7.svs", np.full((1536, 2048, 3), 242, np.uint8), 0.5, 20)
    whole = (root / "slides" / "scan_1.svs").read_bytes()
    (root / "slides" / "truncated_8.svs").write_bytes(whole[: len(whole) // 3])
    with open(sheet, "a") as rows:
        rows.write("S7,P7,slides/glass_7.svs,\nS8,P8,slides/truncated_8.svs,\n")
    with open(clinical, "a") as rows:
        rows.write("P7\t40.0\t0\t57\nP8\t45.0\t1\t58\n")
    overlay = workdir / "left_out.yaml"
    overlay.write_text(
        yaml.safe_dump(
            {
                "cohort": "left_out",
                "dataset": {
                    "kind": "local",
                    "slide_sheet": "cohort/slides.csv",
                    "clinical_table": "cohort/clinical.tsv",
                },
                "slides": {"exclude": ["S8"], "batches": 2},
                "training": {"models": ["abmil"]},
            }
        )
    )
    run_workflow(workdir, [TINY_CONFIG, overlay], ["all"])
    run_workflow(workdir, [TINY_CONFIG, overlay], [], "--report", "results/left_out/report.html")
    return workdir / "results" / "left_out"


def test_left_out_patients_are_listed_with_their_reasons(left_out_run: Path):
    listed = pd.read_csv(left_out_run / "qc" / "excluded.csv")
    assert listed[["case_id", "slide_id", "reason"]].values.tolist() == [
        [GLASS_PATIENT, "S7", "no_tissue"],
        [EXCLUDED_PATIENT, "S8", "excluded_in_config"],
    ]
    log = (left_out_run / "logs" / "excluded_patients.log").read_text()
    assert "leaving patient P7 out of training and evaluation" in log


def test_the_other_patients_are_trained_and_scored(left_out_run: Path):
    run = left_out_run / "abmil" / "efficientnet_lite0"
    held_out = pd.concat(pd.read_csv(run / f"fold_{k}" / "predictions.csv") for k in (0, 1))
    assert sorted(held_out["case_id"]) == USABLE
    assert pd.read_csv(run / "metrics.csv").set_index("row").loc["pooled", "n_patients"] == len(USABLE)
    assert (run / "km.png").stat().st_size > 0


def test_the_report_shows_the_left_out_patients(left_out_run: Path):
    report = (left_out_run / "report.html").read_text()
    pages = re.findall(
        r"data:text/html;charset=utf8;filename=excluded\.html;base64,([A-Za-z0-9+/=]+)", report
    )
    assert len(pages) == 1, "the report does not carry the page of left-out patients"
    page = base64.b64decode(pages[0]).decode()
    assert "2 of 8 patients are left out" in page
    assert "<td>P7</td>" in page and "<td>no_tissue</td>" in page
