"""Training one fold on real feature h5 files with a planted prognostic signal."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from data.feature_files import feature_path_for, write_feature_cohort, write_feature_file

from crossfusion_core.data.splits import write_fold_splits
from crossfusion_core.errors import PipelineInputError
from crossfusion_core.training.fold import EPOCH_COLUMNS, train_fold
from crossfusion_core.training.loop import concordance
from crossfusion_core.training.resume import RESUME_NAME
from crossfusion_core.training.settings import TrainingSettings

FAST = {"epochs": 6, "grad_accumulation": 2, "lr": 3e-3, "eta_min": 1e-5, "early_stopping_patience": 8}
OPTIONS = {
    "abmil": {"hidden_dim": 16, "attention_dim": 16, "dropout": 0.0},
    "crossfusion": {"embed_dim": 32, "num_heads": 2, "dropout": 0.1, "attn_dropout": 0.0},
}


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    root = tmp_path_factory.mktemp("cohort")
    cohort = write_feature_cohort(root, n_patients=48, dim=8)
    splits = [root / "splits" / f"splits_{k}.csv" for k in range(3)]
    write_fold_splits(cohort.survival_csv, 3, 0, splits)
    return cohort, splits[0]


def run(cohort, out_dir: Path, model: str = "abmil", **settings) -> pd.DataFrame:
    data, split = cohort
    train_fold(
        TrainingSettings.from_mapping({**FAST, **settings}),
        model,
        OPTIONS[model],
        data.survival_csv,
        split,
        data.feature_dirs,
        out_dir,
        threads=1,
    )
    return pd.read_csv(out_dir / "predictions.csv")


def cindex(predictions: pd.DataFrame) -> float:
    return concordance(
        predictions["survival_months"], predictions["censorship"], predictions["risk"].to_numpy()
    )


@pytest.mark.parametrize("model", ["abmil", "crossfusion"])
def test_planted_signal_is_learned_and_outputs_follow_contract(cohort, tmp_path, model) -> None:
    predictions = run(cohort, tmp_path, model)
    held_out = pd.read_csv(cohort[1])["val"].dropna()
    assert list(predictions["case_id"]) == list(held_out)
    assert cindex(predictions) > 0.65
    assert list(predictions.columns) == [
        "case_id", "slide_ids", "survival_months", "censorship", "label_bin", "risk",
        "hazard_0", "hazard_1", "hazard_2", "hazard_3", "fold",
    ]  # fmt: skip
    assert set(predictions["fold"]) == {0}
    hazards = predictions[[f"hazard_{k}" for k in range(4)]].to_numpy()
    survival = np.cumprod(1 - hazards, axis=1)
    np.testing.assert_allclose(predictions["risk"], -survival.sum(axis=1), rtol=1e-5)
    epochs = pd.read_csv(tmp_path / "epochs.csv")
    assert tuple(epochs.columns) == EPOCH_COLUMNS and list(epochs["epoch"]) == list(range(6))
    assert epochs["lr"].is_monotonic_decreasing and epochs["lr"].iloc[-1] > 1e-5
    checkpoint = torch.load(tmp_path / "model.pt", weights_only=False)
    assert checkpoint["model_name"] == model and checkpoint["backbone_dim"] == 8 and checkpoint["n_bins"] == 4
    assert (
        len(checkpoint["bin_edges"]) == 5
        and checkpoint["model_options"]["dropout"] == OPTIONS[model]["dropout"]
    )
    assert not (tmp_path / RESUME_NAME).exists()
    assert not [p for p in tmp_path.iterdir() if ".partial" in p.name]


def test_reference_protocol_reports_best_held_out_epoch(cohort, tmp_path) -> None:
    predictions = run(cohort, tmp_path, protocol="reference")
    epochs = pd.read_csv(tmp_path / "epochs.csv")
    assert cindex(predictions) == pytest.approx(epochs["val_cindex"].max())
    assert (
        torch.load(tmp_path / "model.pt", weights_only=False)["best_epoch"] == epochs["val_cindex"].idxmax()
    )


def test_cox_loss_trains(cohort, tmp_path) -> None:
    predictions = run(cohort, tmp_path, loss="cox", grad_accumulation=8, lr=1e-2)
    assert np.isfinite(predictions["risk"]).all()
    assert cindex(predictions) > 0.6


def _train_in_child(cohort, out_dir: Path) -> None:
    run(cohort, out_dir, epochs=12)


def test_rerun_and_resume_after_kill_give_identical_predictions(cohort, tmp_path, caplog) -> None:
    straight = run(cohort, tmp_path / "a", epochs=12)
    assert straight.equals(run(cohort, tmp_path / "b", epochs=12))
    out_dir = tmp_path / "killed"
    child = multiprocessing.get_context("spawn").Process(target=_train_in_child, args=(cohort, out_dir))
    child.start()
    deadline = time.monotonic() + 120
    while not (out_dir / RESUME_NAME).exists() and child.is_alive() and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    assert child.exitcode == -signal.SIGKILL, "the training finished before it could be interrupted"
    assert (out_dir / RESUME_NAME).exists() and not (out_dir / "predictions.csv").exists()
    with caplog.at_level(logging.INFO):
        resumed = run(cohort, out_dir, epochs=12)
    assert "resuming after epoch" in caplog.text
    pd.testing.assert_frame_equal(resumed, straight)
    pd.testing.assert_frame_equal(
        pd.read_csv(out_dir / "epochs.csv"), pd.read_csv(tmp_path / "a" / "epochs.csv")
    )


def test_one_patch_and_uneven_bags_run(tmp_path) -> None:
    data = write_feature_cohort(tmp_path / "c", n_patients=12, dim=8, seed=1)
    for m in (5, 10, 20):
        write_feature_file(feature_path_for(data.feature_dirs, m, "SYN-P0005-S1"), np.ones((1, 8)))
    split = tmp_path / "splits_0.csv"
    ids = [f"SYN-P{p:04d}" for p in range(12)]
    pd.DataFrame(
        {"train": ids[:4] + ids[6:10], "val": [ids[5], ids[4], ids[10], ids[11]] + [None] * 4}
    ).to_csv(split)
    predictions = run(
        (data, split), tmp_path / "out", "crossfusion", epochs=1, n_bins=2, inner_val_fraction=0.5
    )
    assert "SYN-P0005" in set(predictions["case_id"])
    assert np.isfinite(predictions[["risk", "hazard_0", "hazard_1"]].to_numpy()).all()


def test_patient_without_features_is_named(cohort, tmp_path) -> None:
    data, split = cohort
    missing_case = pd.read_csv(split)["val"].dropna().iloc[0]
    features = feature_path_for(data.feature_dirs, 20, f"{missing_case}-S1")
    moved = features.rename(tmp_path / "moved.h5")
    try:
        with pytest.raises(PipelineInputError, match=f"patient {missing_case}") as info:
            run(cohort, tmp_path / "out")
        assert str(features) in str(info.value)
    finally:
        moved.rename(features)


def test_split_patient_absent_from_survival_table_is_named(cohort, tmp_path) -> None:
    data, split = cohort
    bad_split = tmp_path / "splits_0.csv"
    frame = pd.read_csv(split, index_col=0)
    frame.loc[0, "val"] = "SYN-GHOST"
    frame.to_csv(bad_split)
    with pytest.raises(PipelineInputError, match="SYN-GHOST"):
        run((data, bad_split), tmp_path / "out")


def test_settings_reject_bad_values() -> None:
    with pytest.raises(PipelineInputError, match="protocol"):
        TrainingSettings.from_mapping({"protocol": "optimistic"})
    with pytest.raises(PipelineInputError, match="unknown key"):
        TrainingSettings.from_mapping({"epoch": 3})
    assert TrainingSettings.from_mapping({"lr": "1.0e-4", "epochs": 3.0}).epochs == 3
