"""The workflow's DAG, config validation and lint, without running any job."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from snakemake_runs import REPO, SNAKEFILE, planned_jobs, run_snakemake

STAGES = {
    "synthetic_slide",
    "synthetic_clinical",
    "segment",
    "patch",
    "extract_features",
    "feature_index",
    "splits",
    "train",
    "evaluate",
    "summarize",
    "km_plot",
    "training_curves",
    "heatmap",
    "report",
}
COHORTS = sorted((REPO / "config" / "cohorts").glob("tcga_*.yaml"))


def test_default_config_plans_every_stage(tmp_path: Path):
    assert set(planned_jobs(tmp_path, [])) == STAGES


def test_a_misspelt_key_stops_the_run_naming_it(tmp_path: Path):
    typo = tmp_path / "typo.yaml"
    typo.write_text(yaml.safe_dump({"segmentation": {"mask_mppp": 4.0}}))
    done = run_snakemake(tmp_path, SNAKEFILE, [typo], ["all"], ["--dry-run", "--cores", "1"], 300)
    assert done.returncode != 0
    assert "mask_mppp" in done.stdout


def test_a_wrong_type_stops_the_run_naming_the_section(tmp_path: Path):
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(yaml.safe_dump({"training": {"epochs": "many"}}))
    done = run_snakemake(tmp_path, SNAKEFILE, [wrong], ["all"], ["--dry-run", "--cores", "1"], 300)
    assert done.returncode != 0
    assert "epochs" in done.stdout and "'many' is not of type 'integer'" in done.stdout


@pytest.mark.parametrize("cohort", COHORTS, ids=lambda path: path.stem)
def test_tcga_cohort_dry_run_plans_downloads_from_the_manifest(cohort: Path):
    done = run_snakemake(
        REPO, SNAKEFILE, [cohort], ["all"], ["--dry-run", "--quiet", "rules", "--cores", "1", "--nolock"], 600
    )
    assert done.returncode == 0, done.stdout[-4000:]
    stats = dict(line.split()[:2] for line in done.stdout.splitlines() if len(line.split()) == 2)
    assert int(stats["download"]) > 100
    assert stats["download"] == stats["segment"] == stats["patch"] == stats["extract_features"]
    assert int(stats["train"]) == 5 * 2
