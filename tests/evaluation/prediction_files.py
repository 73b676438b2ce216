"""Prediction files in the training's contract format, written by the tests themselves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

N_BINS = 4


def write_fold_predictions(
    out_dir: Path, fold: int, time_months: np.ndarray, censorship: np.ndarray, risk: np.ndarray
) -> Path:
    """A ``predictions.csv`` whose hazards grow with ``risk``, so survival and risk rank alike."""
    n = len(time_months)
    frame = pd.DataFrame(
        {
            "case_id": [f"SYN-F{fold}-P{i:04d}" for i in range(n)],
            "slide_ids": [f"SYN-F{fold}-P{i:04d}-S1.svs" for i in range(n)],
            "survival_months": time_months,
            "censorship": censorship,
            "label_bin": 0,
            "risk": risk,
        }
    )
    scaled = (risk - risk.mean()) / (risk.std() + 1e-9)
    for j in range(N_BINS):
        frame[f"hazard_{j}"] = 1.0 / (1.0 + np.exp(-(scaled - 1.0 + 0.3 * j)))
    frame["fold"] = fold
    path = out_dir / f"fold_{fold}" / "predictions.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


def write_checkpoint(out_dir: Path, fold: int, bin_edges: list[float] | None) -> Path:
    """A fold checkpoint with the contract's keys; only ``bin_edges`` matters to the metrics."""
    path = out_dir / f"fold_{fold}" / "model.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "model_name": "abmil",
        "model_options": {},
        "backbone_dim": 8,
        "n_bins": N_BINS,
        "bin_edges": bin_edges,
        "state_dict": {},
    }
    torch.save(payload, path)
    return path


def synthetic_cohort(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exponential times with a known log-hazard, random censoring; returns (time, censorship, log-hazard)."""
    rng = np.random.default_rng(seed)
    log_hazard = rng.normal(size=n)
    event_time = rng.exponential(20.0 / np.exp(log_hazard))
    censor_time = rng.uniform(5.0, 80.0, size=n)
    time = np.minimum(event_time, censor_time)
    return time, (censor_time < event_time).astype(int), log_hazard
