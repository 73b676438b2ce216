"""A deployment scored against the target's survival: C with intervals, risk groups cut at the trained
cohort's risks (never the target's own), the log-rank p."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crossfusion_core.deploy.predict import UNSCORED
from crossfusion_core.deploy.scoring import deployment_km, deployment_metrics, read_reference_risks
from crossfusion_core.errors import PipelineInputError
from crossfusion_core.evaluation.settings import EvaluationSettings
from crossfusion_core.evaluation.survival_metrics import harrell_cindex
from crossfusion_core.plots.settings import KmSettings

WEIGHTS = "ensemble of 2 fold models (mean risk)"


def _predictions(path: Path, n: int = 40, seed: int = 0, unscored: int = 0) -> pd.DataFrame:
    """A target whose survival follows its risk; the last ``unscored`` patients have no risk."""
    rng = np.random.default_rng(seed)
    risk = rng.normal(size=n)
    table = pd.DataFrame(
        {
            "case_id": [f"B{i:02d}" for i in range(n)],
            "slide_ids": [f"B{i:02d}-S1" for i in range(n)],
            "survival_months": np.round(rng.exponential(20 * np.exp(-1.5 * risk)) + 0.1, 2),
            "censorship": (rng.random(n) < 0.2).astype(int),
            "risk": risk,
            "weights": WEIGHTS,
            "note": "",
        }
    )
    table.loc[n - unscored :, ["risk", "note"]] = [np.nan, UNSCORED]
    table.to_csv(path, index=False)
    return table


def _reference(folder: Path, risks: dict[str, dict[str, float]]) -> list[Path]:
    """Per model (``fold_{k}``) its training and held-out risks of the trained patients."""
    paths = []
    for fold, (model, by_case) in enumerate(risks.items()):
        cases = list(by_case)
        for name, part in (("training_risks.csv", cases[1:]), ("predictions.csv", cases[:1])):
            path = folder / model / name
            path.parent.mkdir(parents=True, exist_ok=True)
            frame = pd.DataFrame({"case_id": part, "risk": [by_case[c] for c in part], "fold": fold})
            frame.to_csv(path, index=False)
            paths.append(path)
    return paths


def test_reference_risks_are_each_trained_patients_mean_over_the_models(tmp_path: Path) -> None:
    paths = _reference(tmp_path, {"fold_0": {"A1": -1.0, "A2": -3.0}, "fold_1": {"A1": -2.0, "A2": -1.0}})
    assert read_reference_risks(paths).to_dict() == {"A1": -1.5, "A2": -2.0}


def test_a_patient_scored_twice_by_one_model_is_refused(tmp_path: Path) -> None:
    paths = _reference(tmp_path, {"fold_0": {"A1": -1.0, "A2": -3.0}})
    with pytest.raises(PipelineInputError, match=r"patients scored twice by one model: \['A1'\]"):
        read_reference_risks([*paths, paths[1]])


def test_metrics_score_the_scored_patients_with_intervals(tmp_path: Path) -> None:
    table = _predictions(tmp_path / "predictions.csv", unscored=3)
    settings = EvaluationSettings(bootstrap_resamples=300)
    metrics = deployment_metrics(tmp_path / "predictions.csv", settings, tmp_path / "metrics.json")
    scored = table.dropna(subset=["risk"])
    expected = harrell_cindex(1 - scored["censorship"], scored["survival_months"], scored["risk"], 1e-8)
    assert metrics["harrell_cindex"]["estimate"] == pytest.approx(expected)
    for name in ("harrell_cindex", "uno_cindex"):
        interval = metrics[name]
        assert 0.5 < interval["low"] < interval["estimate"] < interval["high"] <= 1.0
    assert (metrics["n_patients"], metrics["n_scored"], metrics["unscored"]) == (
        40,
        37,
        ["B37", "B38", "B39"],
    )
    assert metrics["weights"] == WEIGHTS
    assert json.loads((tmp_path / "metrics.json").read_text()) == metrics


def test_groups_are_cut_at_the_trained_cohorts_risks_not_the_targets(tmp_path: Path) -> None:
    table = _predictions(tmp_path / "predictions.csv")
    low_reference = {f"A{i}": -5.0 - i for i in range(9)}  # every target risk lies above the trained ones
    paths = _reference(tmp_path / "low", {"fold_0": low_reference})
    km = deployment_km(
        tmp_path / "predictions.csv",
        paths,
        KmSettings(formats=("png",)),
        ("a", "b"),
        [tmp_path / "km.png"],
        tmp_path / "km.json",
    )
    assert (
        km["cut_offs"] == [-9.0]
        and list(km["groups"]) == ["high risk"]
        and km["logrank_p"] != km["logrank_p"]
    )
    assert km["rule"] == "cut at the median of the risks the deployed weights give a's 9 patients"
    centred = {f"A{i}": r for i, r in enumerate(np.quantile(table["risk"], [0.2, 0.5, 0.8]))}
    km = deployment_km(
        tmp_path / "predictions.csv",
        _reference(tmp_path / "mid", {"fold_0": centred}),
        KmSettings(groups="tertiles"),
        ("a", "b"),
        [tmp_path / "km.png"],
        tmp_path / "km.json",
    )
    cuts = np.quantile(list(centred.values()), [1 / 3, 2 / 3])
    by_reference = [
        int(n) for n in np.bincount(np.searchsorted(cuts, table["risk"], side="right"), minlength=3)
    ]
    assert [
        km["groups"][name]["n"] for name in ("low risk", "intermediate risk", "high risk")
    ] == by_reference
    assert by_reference != [13, 14, 13]  # the target's own tertiles would split it evenly
    assert km["cut_offs"] == pytest.approx(cuts.tolist())
    assert km["logrank_p"] < 0.05 and km["high_risk_below"]
    assert (tmp_path / "km.png").stat().st_size > 0
