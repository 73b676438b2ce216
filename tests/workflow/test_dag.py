"""The workflow's DAG, config validation and lint, without running any job."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest
import yaml
from snakemake_runs import REPO, SNAKEFILE, SYNTHETIC_FEATURE_STAGES, planned_jobs, run_snakemake

STAGES = {
    *SYNTHETIC_FEATURE_STAGES,
    "excluded_patients",
    "splits",
    "train",
    "evaluate",
    "summarize",
    "km_plot",
    "training_curves",
    "heatmap",
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
    assert "`training.epochs`: 'many' is not valid" in done.stdout and "valid integer" in done.stdout


def _dry_run(workdir: Path, overlay: dict) -> subprocess.CompletedProcess:
    path = workdir / "overlay.yaml"
    path.write_text(yaml.safe_dump(overlay))
    return run_snakemake(workdir, SNAKEFILE, [path], ["all"], ["--dry-run", "--cores", "1"], 300)


def _tcga_manifest_without_diagnostic_slides(workdir: Path) -> dict:
    manifest = workdir / "manifest.tsv"
    manifest.write_text(
        "id\tfilename\tmd5\tsize\tstate\n"
        f"{uuid.uuid4()}\tTCGA-AA-0001-01A-01-TS1.x.svs\t{'0' * 32}\t10\treleased\n"
    )
    return {
        "cohort": "x",
        "dataset": {"kind": "tcga", "project": "TCGA-XX", "manifest": "manifest.tsv", "data_dir": "s"},
    }


DAG_TIME_MISTAKES = {
    "unknown model": (
        {"training": {"models": ["crossfusoin"]}},
        "training.models[0]",
        "did you mean 'crossfusion'",
    ),
    "unknown backbone": (
        {"features": {"backbones": ["resnet51"]}},
        "features.backbones[0]",
        "resnet50_trunc",
    ),
    "option typo": (
        {"training": {"models": ["abmil"], "model_options": {"abmil": {"hiden_dim": 32}}}},
        "training.model_options.abmil.hiden_dim",
        "did you mean 'hidden_dim'?",
    ),
    "more folds than patients": (
        {"synthetic": {"n_patients": 8, "second_slide_fraction": 0}, "training": {"n_folds": 9}},
        "training.n_folds",
        "from 2 to 8",
    ),
    "too few deaths per fold for the time bins": (
        {
            "synthetic": {"n_patients": 6, "second_slide_fraction": 0, "censoring_rate": 0},
            "training": {"n_folds": 2, "n_bins": 4},
        },
        "training.n_bins",
        "lower training.n_bins",
    ),
    "probe components beyond its training patients": (
        {
            "synthetic": {"n_patients": 8, "second_slide_fraction": 0},
            "training": {"n_folds": 2, "n_bins": 2, "model_options": {"linear_probe": {"n_components": 4}}},
        },
        "training.model_options.linear_probe.n_components",
        "at most 3",
    ),
    "option typo of a model the run does not train": (
        {"training": {"models": ["abmil"], "model_options": {"dsmil": {"dropuot": 0.1}}}},
        "training.model_options.dsmil.dropuot",
        "did you mean 'dropout'?",
    ),
    "manifest without diagnostic slides": (
        _tcga_manifest_without_diagnostic_slides,
        "dataset",
        "Diagnostic Slide",
    ),
    "excluded id that is no slide": (
        {"slides": {"exclude": ["SYN-P0001-S1.svs"]}},
        "slides.exclude",
        "SYN-P0001-S1'",
    ),
    "mpp override of no slide": (
        {"slides": {"mpp_override": {"NOPE": 0.5}}},
        "slides.mpp_override",
        "not file names",
    ),
    "every slide excluded": (
        {"synthetic": {"n_patients": 1, "second_slide_fraction": 0}, "slides": {"exclude": ["SYN-P0001-S1"]}},
        "slides.exclude",
        "leave at least one slide",
    ),
}


@pytest.mark.parametrize("case", DAG_TIME_MISTAKES, ids=str)
def test_the_dry_run_stops_a_job_time_mistake_naming_the_overlay(tmp_path: Path, case: str):
    overlay, key, fix = DAG_TIME_MISTAKES[case]
    done = _dry_run(tmp_path, overlay(tmp_path) if callable(overlay) else overlay)
    assert done.returncode != 0
    assert f"overlay.yaml: `{key}`" in done.stdout and fix in done.stdout, done.stdout[-3000:]
    assert "Building DAG of jobs" not in done.stdout


@pytest.mark.parametrize("formats", [["pdf"], ["svg"]], ids=str)
def test_a_kaplan_meier_format_without_png_still_plans_the_figures(tmp_path: Path, formats: list[str]):
    path = tmp_path / "km.yaml"
    path.write_text(yaml.safe_dump({"km": {"formats": formats}}))
    plan = planned_jobs(tmp_path, [path])
    main = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    assert plan["km_plot"] == len(main["training"]["models"])


def test_configured_heatmap_slides_are_declared_outputs_of_all(tmp_path: Path):
    """Each slide of `heatmaps.slides` is a file `all` asks for (one job per model x backbone x slide),
    not an undeclared extra file of a fold's heatmap job."""
    path = tmp_path / "heatmaps.yaml"
    path.write_text(yaml.safe_dump({"heatmaps": {"slides": ["SYN-P0001-S1", "SYN-P0002-S1"]}}))
    main = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    runs = len(main["training"]["models"]) * len(main["features"]["backbones"])
    assert planned_jobs(tmp_path, [path])["slide_heatmap"] == 2 * runs
    assert "slide_heatmap" not in planned_jobs(tmp_path, [])


@pytest.mark.parametrize("cohort", COHORTS, ids=lambda path: path.stem)
def test_tcga_cohort_dry_run_plans_downloads_from_the_manifest(cohort: Path):
    done = run_snakemake(
        REPO, SNAKEFILE, [cohort], ["all"], ["--dry-run", "--quiet", "rules", "--cores", "1", "--nolock"], 600
    )
    assert done.returncode == 0, done.stdout[-4000:]
    stats = dict(line.split()[:2] for line in done.stdout.splitlines() if len(line.split()) == 2)
    assert int(stats["download"]) > 100
    assert stats["download"] == stats["slide_patches"] == stats["slide_features"]
    main = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    batches = yaml.safe_load(cohort.read_text()).get("slides", {}).get("batches", main["slides"]["batches"])
    assert int(stats["segment_and_patch"]) == int(stats["extract_features"]) == batches
    assert int(stats["train"]) == 5 * len(main["training"]["models"])


def test_repeated_cross_validation_trains_every_repeat_and_paints_the_first(tmp_path: Path):
    """3 models x 5 folds x 2 repeats = 30 train jobs; heatmaps only for the first repeat's 15 folds."""
    overlay = tmp_path / "repeats.yaml"
    overlay.write_text(yaml.safe_dump({"training": {"repeats": 2}}))
    jobs = planned_jobs(tmp_path, [overlay])
    models = len(yaml.safe_load((REPO / "config" / "config.yaml").read_text())["training"]["models"])
    assert jobs["train"] == models * 5 * 2
    assert jobs["heatmap"] == models * 5
    assert jobs["splits"] == 1
