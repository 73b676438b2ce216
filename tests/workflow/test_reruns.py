"""After one full run, a config change plans exactly the jobs downstream of what it changes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from snakemake_runs import REPO, SYNTHETIC_FEATURE_STAGES, TINY_CONFIG, planned_jobs

from crossfusion_core.cohort import cohort_slide_ids
from crossfusion_core.slide_batches import slides_by_batch
from crossfusion_core.synthetic.dataset import SyntheticDataset
from crossfusion_core.synthetic.settings import SyntheticSettings

N_FOLDS = 2
N_MODELS = 2
AFTER_TRAINING = {
    "evaluate": N_MODELS,
    "summarize": 1,
    "km_plot": N_MODELS,
    "training_curves": N_MODELS,
    "heatmap": N_MODELS * N_FOLDS,
}


TINY = yaml.safe_load(TINY_CONFIG.read_text())
TINY_SLIDES = cohort_slide_ids(SyntheticDataset(), SyntheticSettings.from_mapping(TINY["synthetic"]))
TINY_BATCHES = slides_by_batch(
    TINY_SLIDES, yaml.safe_load((REPO / "config" / "config.yaml").read_text())["slides"]["batches"]
)
SHARED_BATCH = next(slides for slides in TINY_BATCHES.values() if len(slides) > 1)
"""A batch of several slides: what happens to one of them must not rerun the others' batches."""
TRAINING = {"train": N_MODELS * N_FOLDS, **AFTER_TRAINING}
BEFORE_TRAINING = set(SYNTHETIC_FEATURE_STAGES)


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


def test_plot_setting_reruns_only_that_plot(tiny_run: Path, tmp_path: Path):
    plan = _plan_with(tiny_run, tmp_path, {"km": {"groups": "tertiles"}})
    assert plan == {"km_plot": N_MODELS}


@pytest.mark.parametrize("speed_only", [{"batch_size": 8}, {"num_workers": 1}])
def test_speed_only_feature_settings_rerun_nothing(tiny_run: Path, tmp_path: Path, speed_only: dict):
    assert _plan_with(tiny_run, tmp_path, {"features": speed_only}) == {}


def test_new_backbone_runs_beside_the_old_one(tiny_run: Path, tmp_path: Path):
    old_features = sorted((tiny_run / "results/tiny/features/efficientnet_lite0").rglob("*.h5"))
    plan = _plan_with(tiny_run, tmp_path, {"features": {"backbones": ["resnet50_trunc"]}})
    n_slides = len(list((tiny_run / "results/tiny/patches").glob("*.h5")))
    assert plan == {
        "extract_features": len(TINY_BATCHES),
        "slide_features": n_slides,
        "feature_index": 1,
        **TRAINING,
    }
    assert sorted((tiny_run / "results/tiny/features/efficientnet_lite0").rglob("*.h5")) == old_features


def _before_training(plan: dict[str, int]) -> dict[str, int]:
    """The planned jobs of the stages up to the feature index (what follows is training's business)."""
    return {rule: count for rule, count in plan.items() if rule in BEFORE_TRAINING}


def test_a_feature_setting_reruns_every_batch_of_features_and_nothing_before(tiny_run: Path, tmp_path: Path):
    plan = _plan_with(tiny_run, tmp_path, {"features": {"precision": "fp32"}})
    assert _before_training(plan) == {
        "extract_features": len(TINY_BATCHES),
        "slide_features": len(TINY_SLIDES),
        "feature_index": 1,
    }
    assert plan["train"] == N_MODELS * N_FOLDS


def test_excluding_a_slide_reruns_its_batch_only(tiny_run: Path, tmp_path: Path):
    """The slide's batch-mates are redone (their batch's input changed); no other batch is."""
    plan = _plan_with(tiny_run, tmp_path, {"slides": {"exclude": [SHARED_BATCH[0]]}})
    mates = len(SHARED_BATCH) - 1
    assert _before_training(plan) == {
        "synthetic_slides": 1,
        "synthetic_slide": mates,
        "synthetic_clinical": 1,
        "segment_and_patch": 1,
        "slide_patches": mates,
        "extract_features": 1,
        "slide_features": mates,
        "feature_index": 1,
    }


def test_one_slides_mpp_override_reruns_its_batch_from_segmentation_on(tiny_run: Path, tmp_path: Path):
    plan = _plan_with(tiny_run, tmp_path, {"slides": {"mpp_override": {SHARED_BATCH[0]: 0.26}}})
    assert _before_training(plan) == {
        "segment_and_patch": 1,
        "slide_patches": len(SHARED_BATCH),
        "extract_features": 1,
        "slide_features": len(SHARED_BATCH),
        "feature_index": 1,
    }
