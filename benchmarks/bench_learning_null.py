"""How often a random ranker passes the learning test: the test's false-pass rate, measured.

    .venv/bin/python benchmarks/bench_learning_null.py results/learning [--rankers 2000]

Run on the results of the learning test's cohort (tests/config/learning.yaml, e.g. left by a run of
tests/workflow/test_learning.py with --basetemp, or made with `snakemake --configfile
tests/config/learning.yaml results/learning/clinical/true_risk.csv results/learning/qc/excluded.csv`).
Each random ranker gives every patient an independent standard-normal risk; it is scored exactly as
the test scores a model (``passes_learning_bar``: the pooled C's bootstrap interval above 0.5 and a
one-sided Spearman p below the bar against the planted risk). Spearman's part alone is exact (its null
distribution depends only on the number of patients); the joint rate is estimated from the rankers.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from crossfusion_core.evaluation.bootstrap import BootstrapSettings, cindex_interval

SPEARMAN_P_BAR = 0.005
"""The learning test's Spearman bar: one-sided p against the planted risk below this; by itself it
bounds a random ranker's chance of passing the test at this rate, whatever the cohort."""


def passes_learning_bar(time, event, risk, true_risk, resamples: int, seed: int) -> tuple[bool, bool]:
    """(pooled C interval above 0.5, Spearman p below the bar), as tests/workflow/test_learning.py asks."""
    interval = cindex_interval(time, event, risk, BootstrapSettings(resamples, seed=seed), 1e-8)
    spearman = spearmanr(risk, true_risk, alternative="greater")
    return interval.low > 0.5, spearman.pvalue < SPEARMAN_P_BAR


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--rankers", type=int, default=2000)
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args()
    survival = pd.read_csv(args.results / "clinical" / "survival.csv").drop_duplicates("case_id")
    excluded = pd.read_csv(args.results / "qc" / "excluded.csv")["case_id"]
    survival = survival[~survival["case_id"].isin(set(excluded))]
    truth = pd.read_csv(args.results / "clinical" / "true_risk.csv").set_index("case_id")["true_risk"]
    time = survival["survival_months"].to_numpy(float)
    event = 1.0 - survival["censorship"].to_numpy(float)
    true_risk = truth.loc[survival["case_id"]].to_numpy(float)
    rng = np.random.default_rng(0)
    outcomes = np.array(
        [
            passes_learning_bar(time, event, rng.standard_normal(len(time)), true_risk, args.resamples, seed)
            for seed in range(args.rankers)
        ]
    )
    print(f"{len(time)} patients, {int(event.sum())} deaths, {args.rankers} random rankers")
    print(f"C interval above 0.5: {outcomes[:, 0].mean():.2%}")
    print(f"Spearman p < {SPEARMAN_P_BAR}: {outcomes[:, 1].mean():.2%}")
    print(f"both (the test's bar): {outcomes.all(axis=1).mean():.2%}")


if __name__ == "__main__":
    main()
