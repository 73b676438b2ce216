"""Cross-validated metrics computed from prediction files written in the training's format."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.evaluation.metrics import evaluate_predictions
from crossfusion_core.evaluation.settings import EvaluationSettings
from crossfusion_core.evaluation.survival_metrics import harrell_cindex
from evaluation.prediction_files import synthetic_cohort, write_checkpoint, write_fold_predictions

SETTINGS = EvaluationSettings(bootstrap_resamples=200)
EDGES = [0.0, 8.0, 18.0, 35.0, 1000.0]


def three_folds(tmp_path: Path, risk_of) -> tuple[list[Path], list[Path], Path]:
    """Three folds of 40 patients; ``risk_of(time, log_hazard)`` gives each patient's predicted risk."""
    csvs, checkpoints, truth = [], [], []
    for fold in range(3):
        time, censorship, log_hazard = synthetic_cohort(40, seed=fold)
        csvs.append(write_fold_predictions(tmp_path, fold, time, censorship, risk_of(time, log_hazard)))
        checkpoints.append(write_checkpoint(tmp_path, fold, EDGES))
        truth.append(pd.DataFrame({"case_id": pd.read_csv(csvs[-1])["case_id"], "true_risk": log_hazard}))
    true_risk_csv = tmp_path / "true_risk.csv"
    pd.concat(truth).to_csv(true_risk_csv, index=False)
    return csvs, checkpoints, true_risk_csv


def evaluate(tmp_path: Path, csvs, checkpoints, true_risk_csv=None) -> tuple[pd.DataFrame, dict]:
    out_csv, out_json = tmp_path / "metrics.csv", tmp_path / "metrics.json"
    payload = evaluate_predictions(csvs, SETTINGS, true_risk_csv, out_csv, out_json, checkpoints)
    assert json.loads(out_json.read_text()) == json.loads(json.dumps(payload))
    return pd.read_csv(out_csv), payload


@pytest.mark.parametrize(("sign", "expected"), [(-1.0, 1.0), (1.0, 0.0)])
def test_risk_ordered_by_time_scores_one_and_reversed_scores_zero(tmp_path, sign, expected) -> None:
    csvs, checkpoints, _ = three_folds(tmp_path, lambda time, _: sign * time)
    table, payload = evaluate(tmp_path, csvs, checkpoints)
    folds = table[table["row"] == "fold"]
    assert folds["harrell_cindex"].tolist() == [expected] * 3
    assert payload["pooled"]["harrell_cindex"] == expected
    assert payload["metrics"]["uno_cindex"]["mean"] == pytest.approx(expected)


def test_summary_is_mean_and_sample_std_of_the_folds(tmp_path) -> None:
    csvs, checkpoints, true_risk_csv = three_folds(tmp_path, lambda _, log_hazard: log_hazard + 0.8)
    table, payload = evaluate(tmp_path, csvs, checkpoints, true_risk_csv)
    folds = table[table["row"] == "fold"]
    for name in ("harrell_cindex", "uno_cindex", "mean_auc", "integrated_brier_score"):
        values = folds[name].to_numpy(float)
        assert np.isfinite(values).all(), folds[f"{name}_note"].tolist()
        assert payload["metrics"][name]["mean"] == pytest.approx(values.mean())
        assert payload["metrics"][name]["std"] == pytest.approx(values.std(ddof=1))
        assert table.loc[table["row"] == "std", name].item() == pytest.approx(values.std(ddof=1))
    assert payload["std"] == "sample standard deviation over folds (ddof=1)"
    # the prediction here is the true risk shifted, so the oracle equals the model, fold by fold
    np.testing.assert_allclose(folds["oracle_cindex"], folds["harrell_cindex"])
    assert 0.6 < payload["metrics"]["harrell_cindex"]["mean"] < 0.95


def test_pooled_cindex_is_over_all_out_of_fold_patients(tmp_path) -> None:
    rng = np.random.default_rng(3)
    csvs, checkpoints, _ = three_folds(tmp_path, lambda _, log_hazard: log_hazard + rng.normal(size=40))
    _, payload = evaluate(tmp_path, csvs, checkpoints)
    pooled = pd.concat([pd.read_csv(p) for p in csvs])
    expected = harrell_cindex(1 - pooled["censorship"], pooled["survival_months"], pooled["risk"], 1e-8)
    assert payload["pooled"]["harrell_cindex"] == expected
    assert payload["pooled"]["n_patients"] == 120


def test_unsupported_metrics_get_a_reason_instead_of_a_crash(tmp_path) -> None:
    time, _, log_hazard = synthetic_cohort(12, seed=5)
    all_censored = write_fold_predictions(tmp_path, 0, time, np.ones(12, int), log_hazard)
    time, censorship, log_hazard = synthetic_cohort(30, seed=6)
    normal = write_fold_predictions(tmp_path, 1, time, censorship, log_hazard)
    table, payload = evaluate(tmp_path, [all_censored, normal], None)
    first = table[(table["row"] == "fold") & (table["fold"] == 0)].iloc[0]
    assert np.isnan(first["harrell_cindex"]) and "censored" in first["harrell_cindex_note"]
    assert np.isnan(first["mean_auc"]) and "bin edges" in first["mean_auc_note"]
    assert payload["metrics"]["harrell_cindex"]["n_folds"] == 1
    assert payload["metrics"]["integrated_brier_score"]["mean"] is None


def test_bad_prediction_files_name_the_file(tmp_path) -> None:
    time, censorship, risk = synthetic_cohort(10, seed=1)
    path = write_fold_predictions(tmp_path, 0, time, censorship, risk)
    frame = pd.read_csv(path)
    frame.loc[2, "survival_months"] = -1.0
    frame.to_csv(path, index=False)
    with pytest.raises(PipelineInputError, match=r"predictions\.csv.*negative"):
        evaluate(tmp_path, [path], None)
    frame.drop(columns="risk").to_csv(path, index=False)
    with pytest.raises(PipelineInputError, match="missing columns"):
        evaluate(tmp_path, [path], None)


def test_pooled_c_comes_with_its_interval_and_the_planted_risk_with_spearman(tmp_path) -> None:
    csvs, checkpoints, true_risk_csv = three_folds(tmp_path, lambda _, log_hazard: log_hazard + 0.8)
    table, payload = evaluate(tmp_path, csvs, checkpoints, true_risk_csv)
    pooled = payload["pooled"]
    assert pooled["harrell_cindex_low"] < pooled["harrell_cindex"] < pooled["harrell_cindex_high"]
    assert pooled["harrell_cindex_low"] > 0.5 and pooled["n_repeats"] == 1
    # The predicted risk is the planted risk, so the model and the oracle agree exactly.
    assert pooled["oracle_cindex"] == pooled["harrell_cindex"]
    assert (pooled["oracle_cindex_low"], pooled["oracle_cindex_high"]) == (
        pooled["harrell_cindex_low"],
        pooled["harrell_cindex_high"],
    )
    assert pooled["spearman_true_risk"] == pytest.approx(1.0) and pooled["spearman_true_risk_p"] < 1e-6
    assert "bootstrap" in payload["interval"]
    assert table.loc[table["row"] == "pooled", "harrell_cindex_low"].notna().all()


def test_repeats_pool_per_repeat_and_average(tmp_path) -> None:
    """The same 40 patients in two repeats: one ranks them by the planted risk, the other backwards.
    Each repeat is pooled on its own (no patient counts twice) and the pooled C is their mean."""
    time, censorship, log_hazard = synthetic_cohort(40, seed=0)
    csvs = []
    for repeat, sign in enumerate((1.0, -1.0)):
        path = write_fold_predictions(tmp_path / f"r{repeat}", repeat, time, censorship, sign * log_hazard)
        frame = pd.read_csv(path)
        csvs.append(path)
        frame.assign(repeat=repeat, case_id=frame["case_id"].str.replace("F1", "F0")).to_csv(
            path, index=False
        )
    _, payload = evaluate(tmp_path, csvs, None)
    single = harrell_cindex(1 - censorship, time, log_hazard, 1e-8)
    assert payload["pooled"]["n_repeats"] == 2 and payload["pooled"]["n_patients"] == 40
    assert payload["pooled"]["harrell_cindex"] == pytest.approx(0.5 * (single + (1 - single)))
