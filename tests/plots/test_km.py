"""Kaplan-Meier figures of out-of-fold risk groups, cut per fold, written as real PNG, PDF and JSON."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from evaluation.prediction_files import synthetic_cohort, write_fold_predictions
from PIL import Image

from crossfusion_core.evaluation.logrank import logrank_p_value
from crossfusion_core.plots.km import fold_cut_offs, fold_risk_groups, km_plot
from crossfusion_core.plots.settings import KmSettings

SCALE_SHIFT = {0: 0.0, 1: 5.0}
"""Fold 1's model scores everyone 5 higher: pooled cut-offs would call all its patients high risk."""


def write_training_risks(out_dir, fold: int, risk: np.ndarray):
    path = out_dir / f"fold_{fold}" / "training_risks.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"case_id": [f"T{fold}-{i}" for i in range(len(risk))], "risk": risk, "fold": fold}).to_csv(
        path, index=False
    )
    return path


@pytest.fixture
def fold_files(tmp_path) -> tuple[list, list]:
    predictions, training = [], []
    for fold, shift in SCALE_SHIFT.items():
        time, censorship, log_hazard = synthetic_cohort(60, seed=10 + fold)
        predictions.append(write_fold_predictions(tmp_path, fold, time, censorship, log_hazard + shift))
        training_risk = np.random.default_rng(fold).normal(size=120) + shift
        training.append(write_training_risks(tmp_path, fold, training_risk))
    return predictions, training


@pytest.mark.parametrize("groups", ["median", "tertiles"])
def test_km_writes_figures_and_numbers_with_the_logrank_p(tmp_path, fold_files, groups) -> None:
    settings = KmSettings.from_mapping({"groups": groups})
    out_paths = [tmp_path / "km.png", tmp_path / "km.pdf"]
    summary = km_plot(*fold_files, settings, out_paths, tmp_path / "km.json")
    with Image.open(out_paths[0]) as image:
        image.verify()
        assert image.format == "PNG" and min(image.size) > 300
    assert out_paths[1].read_bytes().startswith(b"%PDF")
    assert json.loads((tmp_path / "km.json").read_text()) == json.loads(json.dumps(summary))
    pooled = pd.concat([pd.read_csv(p) for p in fold_files[0]], ignore_index=True)
    cuts = fold_cut_offs(pd.concat(pd.read_csv(p) for p in fold_files[1]), settings.n_groups)
    expected = logrank_p_value(
        pooled["survival_months"], 1 - pooled["censorship"], fold_risk_groups(pooled, cuts, settings.n_groups)
    )
    assert summary["logrank_p"] == expected < 0.01  # the risk is the true log-hazard: groups separate
    assert summary["high_risk_below"] is True
    assert "own fold" in summary["rule"]
    assert sum(group["n"] for group in summary["groups"].values()) == len(pooled)
    assert not list(tmp_path.glob(".*partial*"))


def test_each_fold_is_cut_on_its_own_scale(fold_files) -> None:
    """Both folds contribute to both groups although fold 1's risks are all higher than fold 0's."""
    pooled = pd.concat([pd.read_csv(p) for p in fold_files[0]], ignore_index=True)
    cuts = fold_cut_offs(pd.concat(pd.read_csv(p) for p in fold_files[1]), 2)
    groups = fold_risk_groups(pooled, cuts, 2)
    for fold in SCALE_SHIFT:
        share_high = (groups[pooled["fold"] == fold] == "high risk").mean()
        assert 0.3 < share_high < 0.7
    assert cuts[1][0] - cuts[0][0] == pytest.approx(5.0, abs=0.5)


def test_a_single_group_gives_no_p_value_but_a_figure(tmp_path, fold_files) -> None:
    predictions, _ = fold_files
    far_below = [write_training_risks(tmp_path / "low", fold, np.full(10, -100.0)) for fold in SCALE_SHIFT]
    summary = km_plot(predictions, far_below, KmSettings(), [tmp_path / "km.png"], tmp_path / "km.json")
    assert np.isnan(summary["logrank_p"]) and list(summary["groups"]) == ["high risk"]
    assert summary["high_risk_below"] is False
    assert (tmp_path / "km.png").stat().st_size > 0


def test_unknown_grouping_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="'quartiles' is not allowed"):
        KmSettings.from_mapping({"groups": "quartiles"})
