"""The comparison table marks the best model per metric, in the right direction."""

from __future__ import annotations

import json

import pandas as pd

from crossfusion_core.evaluation.summary import summarize


def metrics_json(tmp_path, name: str, harrell: float, brier: float | None, pooled: float) -> object:
    """A metrics.json in the shape evaluate_predictions writes (only the fields the table reads)."""
    payload = {
        "n_folds": 5,
        "metrics": {
            "harrell_cindex": {"mean": harrell, "std": 0.05, "n_folds": 5},
            "uno_cindex": {"mean": harrell - 0.01, "std": 0.04, "n_folds": 5},
            "mean_auc": {"mean": None, "std": None, "n_folds": 0},
            "integrated_brier_score": {"mean": brier, "std": 0.01, "n_folds": 5},
            "oracle_cindex": {"mean": 0.8, "std": 0.02, "n_folds": 5},
        },
        "pooled": {"harrell_cindex": pooled},
    }
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(payload))
    return path


def test_best_is_marked_per_column_and_direction(tmp_path) -> None:
    inputs = {
        ("crossfusion", "uni"): metrics_json(tmp_path, "a", 0.71, 0.19, 0.66),
        ("abmil", "uni"): metrics_json(tmp_path, "b", 0.65, 0.15, 0.69),
        ("abmil", "resnet50"): metrics_json(tmp_path, "c", 0.60, None, 0.69),
    }
    summarize(inputs, "honest", tmp_path / "comparison.csv", tmp_path / "comparison.md")
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
    assert markdown.count("**0.690**") == 2
