"""Validation on another cohort, end to end: the models the learning cohort's run trained (tests/config/
learning.yaml, the session's ``learning_run``) are applied to a second cohort drawn from the same design
with another seed (tests/config/deploy_target.yaml), and, copied as a folder to a fresh run, to a
local cohort without survival.

Read as a user reads the results: the target's predictions, C-indices with intervals, Kaplan-Meier
numbers and heatmaps, the dry run's plan after a change, and the dry run's errors.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from learning_cohort import LEARNING_CONFIG, MODELS
from local.cohort_files import write_local_cohort
from snakemake_runs import REPO, SNAKEFILE, planned_jobs, run_snakemake, run_workflow

from crossfusion_core.models.checkpoint import read_checkpoint_info

TARGET_CONFIG = REPO / "tests" / "config" / "deploy_target.yaml"
TRAINED = Path("results/learning")
RUN = Path("linear_probe/efficientnet_lite0")
DEPLOYED = TRAINED / "deploy" / "deploy_target"
TARGETS = [str(DEPLOYED / "summary.md"), str(DEPLOYED / RUN / "heatmaps")]
N_PATIENTS = 40


def _overlay(workdir: Path, name: str, content: dict) -> Path:
    path = workdir / name
    path.write_text(yaml.safe_dump(content))
    return path


def _deploying_on(workdir: Path, target: Path, **deploy: object) -> list[Path]:
    """The trained cohort's config plus a deploy overlay naming ``target``."""
    return [LEARNING_CONFIG, _overlay(workdir, "deploy.yaml", {"deploy": {"target": str(target), **deploy}})]


@pytest.fixture(scope="module")
def deploy_run(learning_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The learning run's folds, the target's slides, and the deployment's table and heatmaps."""
    overlays = tmp_path_factory.mktemp("deploy_overlays")
    run_workflow(learning_run, _deploying_on(overlays, TARGET_CONFIG), TARGETS)
    return learning_run


def test_models_of_one_cohort_rank_the_other_above_chance(deploy_run: Path) -> None:
    metrics = json.loads((deploy_run / DEPLOYED / RUN / "metrics.json").read_text())
    harrell, uno = metrics["harrell_cindex"], metrics["uno_cindex"]
    print(f"deployed C {harrell['estimate']:.3f} [{harrell['low']:.3f}, {harrell['high']:.3f}]")
    assert harrell["low"] > 0.5 and uno["low"] > 0.5
    assert metrics["n_scored"] == N_PATIENTS and metrics["weights"] == "ensemble of 3 fold models (mean risk)"
    trained = read_checkpoint_info(deploy_run / TRAINED / RUN / "fold_0" / "model.pt")
    assert (trained.backbone, trained.backbone_dim, len(trained.scales)) == ("efficientnet_lite0", 1280, 3)


def test_every_target_patient_gets_a_risk_a_risk_group_and_every_slide_a_heatmap(deploy_run: Path) -> None:
    predictions = pd.read_csv(deploy_run / DEPLOYED / RUN / "predictions.csv")
    assert len(predictions) == N_PATIENTS and predictions["risk"].notna().all()
    assert set(predictions["weights"]) == {"ensemble of 3 fold models (mean risk)"}
    km = json.loads((deploy_run / DEPLOYED / RUN / "km.json").read_text())
    assert km["rule"] == "cut at the median of the risks the deployed weights give learning's 48 patients"
    assert sum(group["n"] for group in km["groups"].values()) == N_PATIENTS and 0 < km["logrank_p"] <= 1
    assert (deploy_run / DEPLOYED / RUN / "km.png").stat().st_size > 0
    slides = [slide for slides in predictions["slide_ids"] for slide in slides.split(";")]
    heatmaps = sorted(path.stem for path in (deploy_run / DEPLOYED / RUN / "heatmaps").glob("*.png"))
    assert heatmaps == sorted(slides)
    summary = (deploy_run / DEPLOYED / "summary.md").read_text()
    assert "applied to **deploy_target**" in summary and "ensemble of 3 fold models" in summary


def test_a_change_to_the_target_reruns_the_target_side_only(deploy_run: Path, tmp_path: Path) -> None:
    configs = _deploying_on(tmp_path, TARGET_CONFIG)
    assert planned_jobs(deploy_run, configs, targets=TARGETS) == {}
    changed = _overlay(
        tmp_path,
        "target.yaml",
        {**yaml.safe_load(TARGET_CONFIG.read_text()), "patching": {"min_tissue_fraction": 0.3}},
    )
    plan = planned_jobs(deploy_run, _deploying_on(tmp_path, changed), targets=TARGETS)
    assert plan["deploy_target_segment_and_patch"] == 1 and plan["deploy_predict"] == len(MODELS)
    assert all(rule.startswith("deploy_") for rule in plan), plan


def test_asking_for_a_final_model_trains_it_and_reruns_no_fold(deploy_run: Path, tmp_path: Path) -> None:
    final = _overlay(tmp_path, "final.yaml", {"training": {"final_model": True}})
    configs = [*_deploying_on(tmp_path, TARGET_CONFIG, weights="final"), final]
    plan = planned_jobs(deploy_run, configs, targets=TARGETS)
    per_model = dict.fromkeys(("train_final", "deploy_predict", "deploy_evaluate", "deploy_km"), len(MODELS))
    assert plan == {**per_model, "deploy_heatmaps": 1, "deploy_summary": 1}  # the probe's maps are asked


def test_a_target_on_another_backbone_stops_the_dry_run_naming_both(deploy_run: Path, tmp_path: Path) -> None:
    other = _overlay(
        tmp_path,
        "target.yaml",
        {**yaml.safe_load(TARGET_CONFIG.read_text()), "features": {"backbones": ["resnet50_trunc"]}},
    )
    done = run_snakemake(
        deploy_run, SNAKEFILE, _deploying_on(tmp_path, other), TARGETS, ["--cores", "2", "--dry-run"], 600
    )
    assert done.returncode != 0
    assert "the models are trained on ['efficientnet_lite0'] features" in done.stdout
    assert (
        "but the deployment target lists ['resnet50_trunc']" in done.stdout and "target.yaml" in done.stdout
    )


def test_copied_models_score_a_cohort_without_survival(deploy_run: Path, tmp_path: Path) -> None:
    """Another machine: the trained run's model folder copied, a local cohort with no clinical table."""
    sheet, _ = write_local_cohort(tmp_path / "hospital", n_patients=3)
    target = _overlay(
        tmp_path,
        "hospital.yaml",
        {"cohort": "hospital", "dataset": {"kind": "local", "slide_sheet": str(sheet)}},
    )
    configs = _deploying_on(tmp_path, target, models_from=str(deploy_run / TRAINED))
    run_workflow(tmp_path, configs, ["all"])
    run_workflow(tmp_path, configs, [], "--report", f"{TRAINED}/report.html")
    deployed = tmp_path / TRAINED / "deploy" / "hospital"
    predictions = pd.read_csv(deployed / RUN / "predictions.csv")
    assert predictions["case_id"].tolist() == ["P1", "P2", "P3"] and predictions["risk"].notna().all()
    assert "survival_months" not in predictions.columns
    assert sorted(p.name for p in (deployed / RUN).iterdir()) == ["heatmaps", "predictions.csv"]
    assert sorted(p.stem for p in (deployed / RUN / "heatmaps").glob("*.png")) == ["S1", "S1b", "S2", "S3"]
    assert "predictions only" in (deployed / "summary.md").read_text()
    assert not (tmp_path / TRAINED / "linear_probe").exists()  # nothing trained here
    assert "Deployment" in (tmp_path / TRAINED / "report.html").read_text(errors="replace")
