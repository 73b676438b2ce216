"""Reading the per-fold ``predictions.csv`` files that training writes (contract in architecture.md).

Everything downstream (metrics, Kaplan-Meier, heatmaps) reads predictions through here so that a
malformed file fails once, with its name, instead of deep inside a library call.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from crossfusion_core.data.clinical import slide_stem
from crossfusion_core.errors import PipelineInputError

REQUIRED_COLUMNS = ("case_id", "slide_ids", "survival_months", "censorship", "risk", "fold")
HAZARD_PREFIX = "hazard_"


def hazard_columns(frame: pd.DataFrame) -> list[str]:
    """The ``hazard_0..hazard_{n-1}`` columns in bin order."""
    columns = [c for c in frame.columns if c.startswith(HAZARD_PREFIX)]
    return sorted(columns, key=lambda c: int(c.removeprefix(HAZARD_PREFIX)))


def read_predictions(path: str | Path) -> pd.DataFrame:
    """One fold's held-out predictions, checked; adds ``event`` (1 = death observed)."""
    path = Path(path)
    if not path.is_file():
        raise PipelineInputError(path, "predictions file does not exist", "run the training of this fold")
    frame = pd.read_csv(path, dtype={"case_id": str, "slide_ids": str})
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise PipelineInputError(path, f"missing columns {missing}", "rerun the training of this fold")
    if frame.empty:
        raise PipelineInputError(path, "no held-out patients", "check the split file of this fold")
    _check_values(frame, path)
    return frame.assign(event=1 - frame["censorship"].astype(int))


def _check_values(frame: pd.DataFrame, path: Path) -> None:
    bad_time = frame.loc[~(frame["survival_months"] >= 0), "case_id"].tolist()
    bad_censor = frame.loc[~frame["censorship"].isin([0, 1]), "case_id"].tolist()
    bad_risk = frame.loc[~np.isfinite(frame["risk"].to_numpy(float)), "case_id"].tolist()
    for patients, problem in (
        (bad_time, "negative or missing survival_months"),
        (bad_censor, "censorship not in {0, 1}"),
        (bad_risk, "non-finite risk"),
    ):
        if patients:
            raise PipelineInputError(path, f"{problem} for patients {patients[:5]}", "rerun the training")
    if frame["fold"].nunique() != 1:
        raise PipelineInputError(path, "rows from more than one fold", "write one file per fold")
    duplicated = frame.loc[frame["case_id"].duplicated(), "case_id"].tolist()
    if duplicated:
        raise PipelineInputError(path, f"patients listed twice: {duplicated[:5]}", "rerun the training")


def pooled_predictions(paths: Sequence[str | Path]) -> pd.DataFrame:
    """All folds' held-out predictions stacked: in each repeat of the cross-validation every patient once,
    scored by the model that never saw it (files without a ``repeat`` column are repeat 0)."""
    frames = [read_predictions(p) for p in paths]
    folds = [int(f["fold"].iloc[0]) for f in frames]
    if len(set(folds)) != len(folds):
        raise PipelineInputError(
            Path(paths[0]), f"fold ids {folds} repeat across the prediction files", "pass each fold once"
        )
    frame = pd.concat(frames, ignore_index=True)
    frame["repeat"] = frame["repeat"].fillna(0).astype(int) if "repeat" in frame else 0
    duplicated = frame.loc[frame[["repeat", "case_id"]].duplicated(), "case_id"].tolist()
    if duplicated:
        raise PipelineInputError(
            Path(paths[0]).parent.parent,
            f"patients held out in more than one fold of a repeat: {duplicated[:5]}",
            "regenerate the splits so that every patient is held out exactly once per repeat",
        )
    return frame


def risks_by_repeat(pooled: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """The patients' outcomes (one row each, sorted by case id) and their out-of-fold risks as an
    (n_repeats, n_patients) array in the same order; every repeat must score every patient."""
    risks = pooled.pivot(index="case_id", columns="repeat", values="risk").sort_index()
    if risks.isna().any().any():
        missing = risks.index[risks.isna().any(axis=1)].tolist()
        raise PipelineInputError(
            None,
            f"patients not held out in every repeat: {missing[:5]}",
            "make every repeat's folds from the same patients",
        )
    outcomes = pooled.drop_duplicates("case_id").set_index("case_id").loc[risks.index].reset_index()
    return outcomes, risks.to_numpy(float).T


def first_slide(slide_ids: str) -> str:
    """The first of a patient's ``;``-joined slide ids, as the pipeline names it (:func:`slide_stem`)."""
    return slide_stem(slide_ids.split(";")[0])
