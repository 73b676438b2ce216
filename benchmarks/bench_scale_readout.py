"""At which scales the synthetic cohort's two phenotypes can be read from one patch's features.

    .venv/bin/python benchmarks/bench_scale_readout.py results/synthetic [--backbone efficientnet_lite0]

For every patch of every slide at 5x, 10x and 20x, the planted-truth masks say whether it lies in a
nuclear region and whether it lies in a clustered-architecture block (more than half its area, patches
with 10-90% are left out as ambiguous). A logistic regression on the standardised patch features, scored
by 5-fold cross-validation grouped by slide (no slide on both sides), gives the ROC AUC with which each
scale shows each phenotype: 0.5 means the scale cannot see it, 1.0 that one patch is enough. This is
the measurement behind the README's sentence on which scale shows what.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from crossfusion_core.features.feature_files import read_feature_file
from crossfusion_core.scales import SCALES
from crossfusion_core.synthetic.truth import read_planted_truth

PHENOTYPES = ("nuclear", "architecture")
MAX_PATCHES_PER_SLIDE = 60
"""Patches drawn per slide and scale, so every slide weighs alike and the fit stays small."""


def labelled_patches(results: Path, backbone: str, group: str, phenotype: str):
    """(features, in-region labels, slide index) of the unambiguous patches of one scale."""
    rng = np.random.default_rng(0)
    features, labels, slides = [], [], []
    for index, truth_file in enumerate(sorted((results / "synthetic" / "truth").glob("*.h5"))):
        patches = read_feature_file(results / "features" / backbone / group / truth_file.name)
        share = read_planted_truth(truth_file).region_share(
            phenotype, patches.coords_level0, float(patches.attrs["patch_size_level0"])
        )
        clear = np.flatnonzero((share < 0.1) | (share > 0.9))
        chosen = rng.permutation(clear)[:MAX_PATCHES_PER_SLIDE]
        features.append(patches.features[chosen])
        labels.append(share[chosen] > 0.5)
        slides.append(np.full(len(chosen), index))
    return np.concatenate(features), np.concatenate(labels), np.concatenate(slides)


def readout_auc(features: np.ndarray, labels: np.ndarray, slides: np.ndarray) -> float:
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
    scores = cross_val_predict(
        model, features, labels, groups=slides, cv=GroupKFold(5), method="decision_function"
    )
    return float(roc_auc_score(labels, scores))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="a synthetic cohort's results folder")
    parser.add_argument("--backbone", default="efficientnet_lite0")
    args = parser.parse_args()
    print("| phenotype | " + " | ".join(f"{scale.magnification}x AUC" for scale in SCALES) + " |")
    print("| --- |" + " --- |" * len(SCALES))
    for phenotype in PHENOTYPES:
        cells = []
        for scale in SCALES:
            features, labels, slides = labelled_patches(args.results, args.backbone, scale.group, phenotype)
            cells.append(f"{readout_auc(features, labels, slides):.3f} (n={len(labels)})")
        print(f"| {phenotype} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
