"""Damaged or unusable slides: a clear error naming the file, and the other slides still finish.

The slides sit in a TCGA-style data folder (as if already downloaded), so the run starts from real
files on disk: two good synthetic scans next to a truncated SVS, a text file renamed .svs, a scan with
neither mpp nor objective power, and an all-white scan.
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
from fixture_slides import tissue_rgb
from snakemake_runs import SNAKEFILE, run_snakemake

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


def _write_config(workdir: Path, data_dir: Path) -> Path:
    rows = ["id\tfilename\tmd5\tsize\tstate"]
    for path in sorted(data_dir.glob("*.svs")):
        digest = hashlib.md5(path.read_bytes()).hexdigest()
        rows.append(f"{uuid.uuid4()}\t{path.name}\t{digest}\t{path.stat().st_size}\treleased")
    (workdir / "manifest.tsv").write_text("\n".join(rows) + "\n")
    config = {
        "cohort": "damaged",
        "source": {
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
    _write_slides(workdir / "slides")
    config = _write_config(workdir, workdir / "slides")
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
    log = _log(workdir, "segment", slide)
    assert f"{slide}.svs" in log and problem in log
    assert not (workdir / "results" / "damaged" / "tissue" / f"{slide}.h5").exists()


def test_blank_slide_gives_flagged_empty_results(damaged_run):
    workdir, _ = damaged_run
    with h5py.File(workdir / "results" / "damaged" / "patches" / f"{BLANK}.h5") as h5:
        assert h5.attrs["empty"] and len(h5["x10/coords"]) == 0
    assert "no tissue" in _log(workdir, "segment", BLANK)
