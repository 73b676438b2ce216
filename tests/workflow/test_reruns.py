"""After one full run, a config change plans exactly the jobs downstream of what it changes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from snakemake_runs import TINY_CONFIG, planned_jobs

N_FOLDS = 2
N_MODELS = 2
AFTER_TRAINING = {
    "evaluate": N_MODELS,
    "summarize": 1,
    "km_plot": N_MODELS,
    "training_curves": N_MODELS,
    "heatmap": N_MODELS * N_FOLDS,
    "report": 1,
}


def _plan_with(tiny_run: Path, tmp_path: Path, change: dict) -> dict[str, int]:
    overlay = tmp_path / "change.yaml"
    overlay.write_text(yaml.safe_dump(change))
    return planned_jobs(tiny_run, [TINY_CONFIG, overlay])


def test_nothing_changed_nothing_to_do(tiny_run: Path):
    assert planned_jobs(tiny_run, [TINY_CONFIG]) == {}


def test_training_setting_reruns_training_and_what_follows(tiny_run: Path, tmp_path: Path):
    plan = _plan_with(tiny_run, tmp_path, {"training": {"lr": 3.0e-4}})
    assert plan == {"train": N_MODELS * N_FOLDS, **AFTER_TRAINING}


def test_one_models_options_rerun_only_that_model(tiny_run: Path, tmp_path: Path):
    tiny = yaml.safe_load(TINY_CONFIG.read_text())
    options = tiny["training"]["model_options"]
    options["abmil"]["dropout"] = 0.2
    plan = _plan_with(tiny_run, tmp_path, {"training": {"model_options": options}})
    assert plan["train"] == N_FOLDS
    assert plan["evaluate"] == 1


def test_plot_setting_reruns_only_that_plot_and_the_report(tiny_run: Path, tmp_path: Path):
    plan = _plan_with(tiny_run, tmp_path, {"km": {"groups": "tertiles"}})
    assert plan == {"km_plot": N_MODELS, "report": 1}


@pytest.mark.parametrize("speed_only", [{"batch_size": 8}, {"num_workers": 1}])
def test_speed_only_feature_settings_rerun_nothing(tiny_run: Path, tmp_path: Path, speed_only: dict):
    assert _plan_with(tiny_run, tmp_path, {"features": speed_only}) == {}


def test_new_backbone_runs_beside_the_old_one(tiny_run: Path, tmp_path: Path):
    old_features = sorted((tiny_run / "results/tiny/features/efficientnet_lite0").rglob("*.h5"))
    plan = _plan_with(tiny_run, tmp_path, {"features": {"backbones": ["resnet50_trunc"]}})
    n_slides = len(list((tiny_run / "results/tiny/patches").glob("*.h5")))
    assert plan == {
        "extract_features": n_slides,
        "feature_index": 1,
        "train": N_MODELS * N_FOLDS,
        **AFTER_TRAINING,
    }
    assert sorted((tiny_run / "results/tiny/features/efficientnet_lite0").rglob("*.h5")) == old_features
