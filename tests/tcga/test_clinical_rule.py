"""The `clinical` rule as Snakemake runs it: how the GDC is reached never reruns the survival table.

A rerun of it would rewrite results/{cohort}/clinical/survival.csv and so rerun every split and every
training job downstream (and, offline with a GDC-built table, leave no table at all).
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import yaml
from snakemake_runs import SNAKEFILE, run_snakemake

# Twenty patients, every death observed: enough for the default folds and time bins the dry run checks.
SLIDES = tuple(f"TCGA-ZZ-{k:04d}-01Z-00-DX1.A" for k in range(1, 21))


def _cohort_config(workdir: Path, **changes: object) -> Path:
    manifest = workdir / "manifest.tsv"
    if not manifest.exists():
        rows = [f"{uuid.uuid4()}\t{slide}.svs\t{'0' * 32}\t10\treleased" for slide in SLIDES]
        manifest.write_text("\n".join(["id\tfilename\tmd5\tsize\tstate", *rows]) + "\n")
        table = ["case_id,slide_id,survival_months,censorship"]
        table += [f"{slide[:12]},{slide}.svs,{12.5 * (k + 1)},0" for k, slide in enumerate(SLIDES)]
        (workdir / "survival.csv").write_text("\n".join(table) + "\n")
    dataset = {
        "kind": "tcga",
        "project": "TCGA-ZZ",
        "manifest": str(manifest),
        "survival_table": str(workdir / "survival.csv"),
        "fill_missing_from_gdc": True,  # the table covers every slide: the GDC is never asked
        "data_dir": str(workdir / "slides"),
        "gdc_api": "http://127.0.0.1:9",
        **changes,
    }
    path = workdir / "clinical.yaml"
    path.write_text(yaml.safe_dump({"cohort": "clin", "dataset": dataset}))
    return path


def _run(workdir: Path, config: Path, *args: str) -> str:
    target = "results/clin/clinical/survival.csv"
    done = run_snakemake(workdir, SNAKEFILE, [config], [target], [*args, "--cores", "1"], 300)
    assert done.returncode == 0, done.stdout[-3000:]
    return done.stdout


def _plans_clinical(workdir: Path, **changes: object) -> bool:
    plan = _run(workdir, _cohort_config(workdir, **changes), "--dry-run", "--quiet", "rules")
    return re.search(r"^clinical\s+1$", plan, re.MULTILINE) is not None


def test_no_transport_setting_reruns_the_survival_table(tmp_path):
    _run(tmp_path, _cohort_config(tmp_path))
    token = tmp_path / "token.txt"
    token.write_text("a-token\n")
    changes = {
        "gdc_api": "https://mirror.example.org",
        "token_file": str(token),
        "retries": 1,
        "backoff_s": 0.5,
        "timeout_s": 5,
    }
    planned = {key: _plans_clinical(tmp_path, **{key: value}) for key, value in changes.items()}
    assert planned == dict.fromkeys(changes, False)
    other_table = tmp_path / "other_survival.csv"
    other_table.write_text((tmp_path / "survival.csv").read_text())
    assert _plans_clinical(tmp_path, survival_table=str(other_table))
