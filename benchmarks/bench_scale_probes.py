"""Which scales carry the synthetic cohort's risk: the linear probe on each scale alone and on all three.

    .venv/bin/python benchmarks/bench_scale_probes.py results/synthetic [--backbone efficientnet_lite0]

Run after the pipeline has made a cohort's features, splits and survival table (e.g. `make demo`). The
probe (``linear_probe``, default options but ``scales``) is fitted on each fold exactly as the workflow
fits it, into a temporary folder, and scored by the workflow's own evaluation; the table gives the mean
Harrell's C over folds (sample std), the pooled out-of-fold C and, for a synthetic cohort, the oracle C.
The cohort is built so that 5x alone and 20x alone each see one of its two risk components and 10x
neither; a probe on all scales should beat each single scale by a clear margin.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from crossfusion_core.evaluation.metrics import evaluate_predictions
from crossfusion_core.evaluation.settings import EvaluationSettings
from crossfusion_core.training.fold import train_fold
from crossfusion_core.training.settings import TrainingSettings

SCALE_SETS = {
    "5x": ["coarse"],
    "10x": ["source"],
    "20x": ["fine"],
    "5x+20x": ["coarse", "fine"],
    "all": ["coarse", "source", "fine"],
}


def probe_scores(results: Path, backbone: str, scales: list[str], work: Path) -> dict:
    """The workflow's metrics.json payload for the probe on ``scales``."""
    splits = sorted((results / "splits").glob("splits_*.csv"))
    feature_dirs = {mag: results / "features" / backbone / f"x{mag}" for mag in (5, 10, 20)}
    predictions = []
    for split in splits:
        out_dir = work / split.stem
        train_fold(
            TrainingSettings(),
            "linear_probe",
            {"scales": scales},
            results / "clinical" / "survival.csv",
            split,
            feature_dirs,
            out_dir,
        )
        predictions.append(out_dir / "predictions.csv")
    true_risk = results / "clinical" / "true_risk.csv"
    return evaluate_predictions(
        predictions,
        EvaluationSettings(),
        true_risk if true_risk.is_file() else None,
        work / "metrics.csv",
        work / "metrics.json",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="a cohort's results folder, e.g. results/synthetic")
    parser.add_argument("--backbone", default="efficientnet_lite0")
    args = parser.parse_args()
    print("| probe on | Harrell's C, mean ± std over folds | pooled C [95% CI] | Spearman, planted risk |")
    print("| --- | --- | --- | --- |")
    for name, scales in SCALE_SETS.items():
        with tempfile.TemporaryDirectory() as work:
            payload = probe_scores(args.results, args.backbone, scales, Path(work))
        harrell, pooled = payload["metrics"]["harrell_cindex"], payload["pooled"]
        print(
            f"| {name} | {harrell['mean']:.3f} ± {harrell['std']:.3f} | {pooled['harrell_cindex']:.3f} "
            f"[{pooled['harrell_cindex_low']:.3f}, {pooled['harrell_cindex_high']:.3f}] | "
            f"{pooled.get('spearman_true_risk') or float('nan'):.3f} |"
        )
    if "oracle_cindex" in pooled:
        print(
            f"| oracle | | {pooled['oracle_cindex']:.3f} [{pooled['oracle_cindex_low']:.3f}, "
            f"{pooled['oracle_cindex_high']:.3f}] | 1 |"
        )


if __name__ == "__main__":
    main()
