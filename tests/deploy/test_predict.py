"""Scoring a deployment target: the ensemble's risk is its fold models' mean, every patient keeps a row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from data.feature_files import feature_path_for, write_feature_cohort, write_feature_file

from crossfusion_core.data.bags import slide_bags, slide_features
from crossfusion_core.deploy.predict import UNSCORED, target_patients, write_deployment_predictions
from crossfusion_core.errors import FeatureMismatchError
from crossfusion_core.models.checkpoint import load_checkpoint
from crossfusion_core.training.loop import concordance


def _deploy(deployment, tmp_path: Path, survival_csv=None, slide_patients=None, **kwargs) -> pd.DataFrame:
    target = kwargs.pop("target", deployment.target)
    return write_deployment_predictions(
        kwargs.pop("checkpoints", deployment.checkpoints),
        target.survival_csv if survival_csv is None else survival_csv,
        slide_patients or {},
        target.feature_dirs,
        kwargs.pop("weights", "ensemble"),
        tmp_path / "predictions.csv",
        threads=1,
    )


def test_the_ensemble_risk_is_the_mean_of_each_fold_models_own_risk(deployment, tmp_path: Path) -> None:
    table = _deploy(deployment, tmp_path)
    assert pd.read_csv(tmp_path / "predictions.csv")["case_id"].tolist() == table["case_id"].tolist()
    first = table.iloc[0]
    slides = [
        slide_features(first["case_id"], s, deployment.target.feature_dirs, None)[0]
        for s in first["slide_ids"].split(";")
    ]
    with torch.no_grad():
        own = [float(load_checkpoint(path)[0](*slide_bags(slides)).risk) for path in deployment.checkpoints]
    assert first[["risk_fold_0", "risk_fold_1", "risk_fold_2"]].tolist() == pytest.approx(own, rel=1e-6)
    assert table["risk"].to_numpy() == pytest.approx(table.filter(like="risk_fold_").mean(axis=1).to_numpy())
    assert set(table["weights"]) == {"ensemble of 3 fold models (mean risk)"}
    assert table.loc[0:1, "slide_ids"].tolist() == ["SYN-P0000-S1;SYN-P0000-S2", "SYN-P0001-S1;SYN-P0001-S2"]


def test_models_trained_on_one_cohort_rank_the_other_above_chance(deployment, tmp_path: Path) -> None:
    table = _deploy(deployment, tmp_path)
    assert (
        concordance(table["survival_months"], table["censorship"], table["risk"].to_numpy()) > 0.6
    )  # oracle 0.80


def test_the_final_model_alone_is_named_as_such(deployment, tmp_path: Path) -> None:
    table = _deploy(deployment, tmp_path, checkpoints=deployment.checkpoints[:1], weights="final")
    assert table["risk"].tolist() == table["risk_fold_0"].tolist()
    assert set(table["weights"]) == {"final model (trained on all patients)"}


def test_a_patient_without_a_usable_slide_keeps_an_unscored_row(deployment, tmp_path: Path) -> None:
    target = write_feature_cohort(tmp_path / "b", n_patients=6, seed=3)
    empty = np.zeros((0, 8), np.float32)
    write_feature_file(feature_path_for(target.feature_dirs, 5, "SYN-P0003-S1"), empty)  # no 5x patch
    write_feature_file(feature_path_for(target.feature_dirs, 20, "SYN-P0000-S2"), empty)  # one of two slides
    table = _deploy(deployment, tmp_path, target=target).set_index("case_id")
    assert np.isnan(table.loc["SYN-P0003", "risk"]) and table.loc["SYN-P0003", "note"] == UNSCORED
    assert np.isfinite(table.loc["SYN-P0000", "risk"]) and table.loc["SYN-P0000", "note"] != UNSCORED
    assert table["note"].fillna("").eq(UNSCORED).sum() == 1


def test_without_survival_the_patients_come_from_the_slide_list(deployment, tmp_path: Path) -> None:
    slide_patients = {"SYN-P0002-S1": "SYN-P0002", "SYN-P0000-S1": "SYN-P0000", "SYN-P0000-S2": "SYN-P0000"}
    patients = target_patients(None, slide_patients)
    assert patients["case_id"].tolist() == ["SYN-P0002", "SYN-P0000"]
    assert patients["slide_ids"].tolist() == [("SYN-P0002-S1",), ("SYN-P0000-S1", "SYN-P0000-S2")]
    table = write_deployment_predictions(
        deployment.checkpoints,
        None,
        slide_patients,
        deployment.target.feature_dirs,
        "ensemble",
        tmp_path / "predictions.csv",
        threads=1,
    )
    assert "survival_months" not in table.columns and table["risk"].notna().all()


def test_features_of_another_width_name_the_checkpoint_and_the_file(deployment, tmp_path: Path) -> None:
    target = write_feature_cohort(tmp_path / "wide", n_patients=4, dim=16, seed=4)
    with pytest.raises(
        FeatureMismatchError,
        match=r"x5/SYN-P0000-S1\.h5: the deployment target's features are "
        r"16-dimensional, but .*fold_0/model\.pt was trained on 8-dimensional toy features",
    ):
        _deploy(deployment, tmp_path, target=target)
