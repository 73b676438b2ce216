"""config/presets/original_study.yaml trains as the original code does: schedule, warm-up, slide items."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from snakemake_runs import REPO

from crossfusion_core.data.clinical import load_patients
from crossfusion_core.data.labels import time_bin_edges
from crossfusion_core.training.fold import train_fold
from crossfusion_core.training.fold_data import item_table
from crossfusion_core.training.schedule import learning_rate_schedule, training_budget
from crossfusion_core.training.settings import TrainingSettings

PRESET = REPO / "config" / "presets" / "original_study.yaml"
ORIGINAL_TRAIN_SH = {
    "epochs": 100,
    "early_stopping_patience": 20,
    "selection_warmup_epochs": 5,
    "grad_accumulation": 32,
    "lr": 1e-4,
    "weight_decay": 4e-6,
    "alpha": 0.2,
    "loss": "nll",
    "n_bins": 4,
}
"""The values of the original's train.sh (and train.py: T_max=10, eta_min = lr // 10 = 0)."""


def preset_settings(**changes) -> TrainingSettings:
    """The main config's training section with the preset layered on top, as `--configfile` merges it."""
    main = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["training"]
    main.pop("model_options")
    return TrainingSettings.from_mapping(
        {**main, **yaml.safe_load(PRESET.read_text())["training"], **changes}
    )


def test_preset_holds_the_original_settings() -> None:
    settings = preset_settings()
    for name, value in ORIGINAL_TRAIN_SH.items():
        assert getattr(settings, name) == value, name
    assert settings.protocol == "original" and settings.selects_on_held_out
    assert (settings.items, settings.steps, settings.cosine_period_epochs, settings.eta_min) == (
        "slide",
        None,
        10,
        0.0,
    )


def test_learning_rate_falls_to_zero_in_ten_epochs_and_climbs_back() -> None:
    settings = preset_settings()
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.Adam([parameter], lr=settings.lr)
    schedule = learning_rate_schedule(optimizer, settings, training_budget(settings, n_items=400))
    rates = []
    for _ in range(25):
        rates.append(optimizer.param_groups[0]["lr"])
        for _ in range(13):  # 400 slides / 32 per step: 13 steps, none of which moves the rate
            optimizer.step()
            schedule.after_step()
        schedule.after_epoch()
    expected = [1e-4 * (1 + math.cos(math.pi * epoch / 10)) / 2 for epoch in range(25)]
    np.testing.assert_allclose(rates, expected, atol=1e-12)
    assert rates[10] == pytest.approx(0.0, abs=1e-12) and rates[20] == pytest.approx(1e-4)


def test_a_run_with_the_preset_bins_slides_and_never_keeps_a_warmup_epoch(cohort, tmp_path) -> None:
    data, split = cohort
    settings = preset_settings(epochs=8, lr=3e-3)
    train_fold(settings, "abmil", {"hidden_dim": 16}, data.survival_csv, split, data.feature_dirs, tmp_path)
    checkpoint = torch.load(tmp_path / "model.pt", weights_only=True)
    epochs = pd.read_csv(tmp_path / "epochs.csv")
    assert (
        checkpoint["best_epoch"] >= 5 and checkpoint["best_epoch"] == epochs["val_cindex"].iloc[5:].idxmax()
    )
    every_slide = item_table(load_patients(data.survival_csv), "slide")
    split_ids = set(pd.read_csv(split)[["train", "val"]].stack())
    slides_of_split = every_slide[every_slide["case_id"].isin(split_ids)]
    assert len(slides_of_split) > len(split_ids)  # two patients have two slides: they count twice
    np.testing.assert_allclose(checkpoint["bin_edges"], time_bin_edges(slides_of_split, 4))
    n_train_slides = every_slide["case_id"].isin(set(pd.read_csv(split)["train"].dropna())).sum()
    assert list(epochs["steps"])[:2] == [math.ceil(n_train_slides / 32), 2 * math.ceil(n_train_slides / 32)]
