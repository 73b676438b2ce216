"""Learning, measured on the pipeline's own outputs: a test that fails when training stops learning.

The cohort (tests/config/learning.yaml) plants risk in nuclear detail that only 20x patches resolve and
in an arrangement that only 5x patches show. CrossFusion and the linear probe, trained by the workflow
under the default training settings, must rank held-out patients above chance, and the patches the
probe scores as riskiest must lie in the planted 20x regions. Measured (benchmarks/README.md, "Learning
test"): crossfusion C 0.666 (pooled 0.656), probe 0.682 (0.659), oracle 0.857, lift 1.81; the budget
of the previous release (12 steps of 32 patients) fails the crossfusion case.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from snakemake_runs import REPO, run_workflow

from crossfusion_core.features.feature_files import read_feature_file
from crossfusion_core.models.checkpoint import load_checkpoint
from crossfusion_core.scales import SCALES
from crossfusion_core.synthetic.truth import read_planted_truth, top_patch_enrichment

LEARNING_CONFIG = REPO / "tests" / "config" / "learning.yaml"
RESULTS = Path("results/learning")
BACKBONE = "efficientnet_lite0"
N_FOLDS = 3


@pytest.fixture(scope="module")
def learning_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The workflow's metrics of the probe on the learning cohort (no figures: only what is asserted)."""
    workdir = tmp_path_factory.mktemp("learning_run")
    targets = [str(RESULTS / model / BACKBONE / "metrics.json") for model in ("crossfusion", "linear_probe")]
    run_workflow(workdir, [LEARNING_CONFIG], targets)
    return workdir


def _metrics(run: Path, model: str) -> dict:
    return json.loads((run / RESULTS / model / BACKBONE / "metrics.json").read_text())


@pytest.mark.parametrize("model", ["crossfusion", "linear_probe"])
def test_held_out_patients_are_ranked_well_above_chance(learning_run: Path, model: str) -> None:
    metrics = _metrics(learning_run, model)
    harrell, pooled = metrics["metrics"]["harrell_cindex"]["mean"], metrics["pooled"]["harrell_cindex"]
    oracle = metrics["metrics"]["oracle_cindex"]["mean"]
    print(f"{model} C {harrell:.3f} (pooled {pooled:.3f}); oracle {oracle:.3f}")
    assert harrell > 0.58 and pooled > 0.58


def _slide_lifts(run: Path, model: str) -> list[float]:
    """Per held-out slide: share of the planted 20x region among the top decile of the model's 20x
    patch scores, over its share among all the slide's 20x patches (1 = chance)."""
    results = run / RESULTS
    lifts = []
    for fold in range(N_FOLDS):
        folder = results / model / BACKBONE / f"fold_{fold}"
        scorer, _ = load_checkpoint(folder / "model.pt")
        for slides in pd.read_csv(folder / "predictions.csv")["slide_ids"]:
            for slide in slides.split(";"):
                files = [
                    read_feature_file(results / "features" / BACKBONE / s.group / f"{slide}.h5")
                    for s in SCALES
                ]
                with torch.no_grad():
                    scores = scorer.patch_scores(*(torch.from_numpy(f.features) for f in files))["x20"]
                fine = files[-1]
                truth = read_planted_truth(results / "synthetic" / "truth" / f"{slide}.h5")
                share = truth.region_share(
                    "nuclear", fine.coords_level0, float(fine.attrs["patch_size_level0"])
                )
                if 0.05 < share.mean() < 0.95:  # a region to find, and patches outside it
                    lifts.append(top_patch_enrichment(scores.numpy(), share).lift)
    return lifts


def test_the_riskiest_20x_patches_lie_in_the_planted_nuclear_regions(learning_run: Path) -> None:
    lifts = _slide_lifts(learning_run, "linear_probe")
    print(
        f"top-decile lift over {len(lifts)} slides: median {np.median(lifts):.2f}, mean {np.mean(lifts):.2f}"
    )
    assert len(lifts) >= 10
    assert np.median(lifts) > 1.2
