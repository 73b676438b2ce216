"""Learning, measured on the pipeline's own outputs against a measured null: the test fails for a model
at chance.

The cohort (tests/config/learning.yaml) plants risk in nuclear detail that 20x patches resolve and in an
arrangement that 5x patches show. CrossFusion and the linear probe, trained by the workflow under the
default training settings, must each pass the bar of ``passes_learning_bar``
(benchmarks/bench_learning_null.py): the pooled out-of-fold C's 95% bootstrap interval lies above 0.5,
and the out-of-fold risks follow the planted risk at a one-sided Spearman p below 0.005. A random ranker
passes at most 0.5% of the time: exactly 0.5% pass the Spearman part alone, whose null depends only on
the number of patients; of 1,000 random rankers on this cohort 0.2% passed both (2 of 1,000; 0.4%
passed the Spearman part, 2.2% the interval part: benchmarks/README.md, "Learning test").
Then the held-out 20x patches each model pulls hardest towards risk (signed attribution, gradient x
input: ``models.attribution``) must lie in the planted nuclear regions more often than chance (median
top-decile lift over slides > 1.2). CrossFusion's attention is not asked: it does not say which way a
patch pushes, and the model reads the nuclear regions by their absence (benchmarks/README.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from learning_cohort import BACKBONE, MODELS, N_FOLDS, RESULTS

from crossfusion_core.evaluation.predictions import pooled_predictions
from crossfusion_core.features.feature_files import read_feature_file
from crossfusion_core.models.attribution import risk_attribution
from crossfusion_core.models.checkpoint import load_checkpoint
from crossfusion_core.scales import SCALES
from crossfusion_core.synthetic.truth import read_planted_truth, top_patch_enrichment

SPEARMAN_P_BAR = 0.005
"""As benchmarks/bench_learning_null.py measures it."""


def _pooled(run: Path, model: str) -> dict:
    return json.loads((run / RESULTS / model / BACKBONE / "metrics.json").read_text())["pooled"]


@pytest.mark.parametrize("model", MODELS)
def test_held_out_patients_are_ranked_above_chance_by_a_bar_random_rankers_miss(
    learning_run: Path, model: str
) -> None:
    pooled = _pooled(learning_run, model)
    print(
        f"{model}: pooled C {pooled['harrell_cindex']:.3f} [{pooled['harrell_cindex_low']:.3f}, "
        f"{pooled['harrell_cindex_high']:.3f}], Spearman {pooled['spearman_true_risk']:.3f} "
        f"(p {pooled['spearman_true_risk_p']:.2g}), oracle {pooled['oracle_cindex']:.3f}"
    )
    assert pooled["harrell_cindex_low"] > 0.5
    assert pooled["spearman_true_risk_p"] < SPEARMAN_P_BAR


def _slide_lifts(run: Path, model: str) -> list[float]:
    """Per held-out slide: share of the planted 20x region among the top decile of the model's 20x
    attributions, over its share among all the slide's 20x patches (1 = chance)."""
    results = run / RESULTS
    folds = [results / model / BACKBONE / f"fold_{fold}" for fold in range(N_FOLDS)]
    held_out = pooled_predictions([folder / "predictions.csv" for folder in folds])
    lifts = []
    for folder, (_, rows) in zip(folds, held_out.groupby("fold"), strict=True):
        scorer, _ = load_checkpoint(folder / "model.pt")
        for slide in (s.removesuffix(".svs") for slides in rows["slide_ids"] for s in slides.split(";")):
            files = [
                read_feature_file(results / "features" / BACKBONE / s.group / f"{slide}.h5") for s in SCALES
            ]
            scores = risk_attribution(scorer, *(torch.from_numpy(f.features) for f in files))["x20"]
            fine = files[-1]
            truth = read_planted_truth(results / "synthetic" / "truth" / f"{slide}.h5")
            share = truth.region_share("nuclear", fine.coords_level0, float(fine.attrs["patch_size_level0"]))
            if 0.05 < share.mean() < 0.95:  # a region to find, and patches outside it
                lifts.append(top_patch_enrichment(scores.numpy(), share).lift)
    return lifts


@pytest.mark.parametrize("model", MODELS)
def test_the_riskiest_20x_patches_lie_in_the_planted_nuclear_regions(learning_run: Path, model: str) -> None:
    lifts = _slide_lifts(learning_run, model)
    print(f"{model}: top-decile lift over {len(lifts)} slides: median {np.median(lifts):.2f}")
    assert len(lifts) >= 10
    assert np.median(lifts) > 1.2
