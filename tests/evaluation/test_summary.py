"""The comparison table marks the best model per metric, in the right direction, and puts every model
next to the linear probe with the paired interval of their difference."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crossfusion_core.evaluation.settings import EvaluationSettings
from crossfusion_core.evaluation.summary import SummaryFiles, summarize
from evaluation.prediction_files import synthetic_cohort, write_fold_predictions

SETTINGS = EvaluationSettings(bootstrap_resamples=300)


def metrics_json(tmp_path: Path, name: str, harrell: float, brier: float | None, pooled: float) -> Path:
    """A metrics.json in the shape evaluate_predictions writes (only the fields the table reads)."""
    payload = {
        "n_folds": 5,
        "metrics": {
            "harrell_cindex": {"mean": harrell, "std": 0.05, "n_folds": 5},
            "uno_cindex": {"mean": harrell - 0.01, "std": 0.04, "n_folds": 5},
            "mean_auc": {"mean": None, "std": None, "n_folds": 0},
            "integrated_brier_score": {"mean": brier, "std": 0.01, "n_folds": 5},
        },
        "pooled": {
            "harrell_cindex": pooled,
            "harrell_cindex_low": pooled - 0.1,
            "harrell_cindex_high": pooled + 0.05,
            "oracle_cindex": 0.8,
            "oracle_cindex_low": 0.75,
            "oracle_cindex_high": 0.85,
        },
    }
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(payload))
    return path


def fold_predictions(folder: Path, risk_of) -> list[Path]:
    """Two folds of 60 patients each (the same patients for every model); ``risk_of(time, log_hazard)``."""
    paths = []
    for fold in range(2):
        time, censorship, log_hazard = synthetic_cohort(60, seed=fold)
        paths.append(write_fold_predictions(folder, fold, time, censorship, risk_of(time, log_hazard)))
    return paths


def summary_files(tmp_path: Path) -> SummaryFiles:
    return SummaryFiles(tmp_path / "comparison.csv", tmp_path / "comparison.md", tmp_path / "pairs.csv")


def test_best_is_marked_per_column_and_direction(tmp_path) -> None:
    noise = np.random.default_rng(0)
    predictions = {
        run: fold_predictions(tmp_path / "_".join(run), lambda _t, h: h + noise.normal(size=len(h)))
        for run in [("crossfusion", "uni"), ("abmil", "uni"), ("abmil", "resnet50")]
    }
    metrics = {
        ("crossfusion", "uni"): metrics_json(tmp_path, "a", 0.71, 0.19, 0.66),
        ("abmil", "uni"): metrics_json(tmp_path, "b", 0.65, 0.15, 0.69),
        ("abmil", "resnet50"): metrics_json(tmp_path, "c", 0.60, None, 0.69),
    }
    summarize(metrics, predictions, "honest", SETTINGS, summary_files(tmp_path))
    table = pd.read_csv(tmp_path / "comparison.csv")
    assert table["harrell_cindex_best"].tolist() == [True, False, False]
    assert table["integrated_brier_score_best"].tolist() == [False, True, False]
    assert table["pooled_cindex_best"].tolist() == [False, True, True]  # ties share the mark
    assert not table["mean_auc_best"].any()  # nothing computable, nothing best
    assert set(table["protocol"]) == {"honest"}
    markdown = (tmp_path / "comparison.md").read_text()
    assert "| crossfusion | uni | 5 | **0.710 ± 0.050** |" in markdown
    assert "**0.150 ± 0.010**" in markdown and "0.190 ± 0.010" in markdown
    assert "n/a" in markdown and "Protocol: **honest**" in markdown
    assert markdown.count("**0.690 [0.590, 0.740]**") == 2
    assert "0.800 [0.750, 0.850]" in markdown


def test_every_model_faces_the_probe_with_the_paired_interval(tmp_path) -> None:
    """A model ranking by the planted risk against a probe ranking at random: its difference is positive
    with an interval above 0; the probe's own row has no difference to itself."""
    noise = np.random.default_rng(1)
    predictions = {
        ("crossfusion", "uni"): fold_predictions(tmp_path / "cf", lambda _t, h: h),
        ("linear_probe", "uni"): fold_predictions(tmp_path / "lp", lambda _t, h: noise.normal(size=len(h))),
    }
    metrics = {run: metrics_json(tmp_path, run[0], 0.7, 0.2, 0.7) for run in predictions}
    table = summarize(metrics, predictions, "honest", SETTINGS, summary_files(tmp_path)).set_index("model")
    assert table.loc["crossfusion", "difference_to_reference_low"] > 0.0
    assert np.isnan(table.loc["linear_probe", "difference_to_reference_mean"])
    pairs = pd.read_csv(tmp_path / "pairs.csv").set_index(["model", "versus"])
    forward, backward = pairs.loc[("crossfusion", "linear_probe")], pairs.loc[("linear_probe", "crossfusion")]
    assert forward["difference"] == pytest.approx(-backward["difference"])
    assert forward["n_patients"] == 120
    markdown = (tmp_path / "comparison.md").read_text()
    assert "ΔC vs linear_probe [CI]" in markdown and "**Paired differences**" in markdown
