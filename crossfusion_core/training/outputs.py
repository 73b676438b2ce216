"""What a trained fold leaves behind besides its checkpoint: predictions, training risks, epoch log.

Predictions are per patient. When training items are slides, a patient's prediction is the mean of its
slides' hazards, and its risk is recomputed from them (``-sum(cumprod(1 - h))``) so that every file keeps
one contract whatever the items were.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from crossfusion_core.data.bags import SurvivalBagDataset
from crossfusion_core.io import write_csv
from crossfusion_core.training.loop import Evaluation

EPOCH_COLUMNS = ("epoch", "steps", "train_loss", "val_loss", "val_cindex", "lr")
TRAINING_RISK_COLUMNS = ("case_id", "risk", "fold")


def prediction_table(
    dataset: SurvivalBagDataset, result: Evaluation, fold: int, repeat: int = 0
) -> pd.DataFrame:
    """The ``predictions.csv`` rows: one per patient, in the order patients first appear; ``fold`` counts
    over all repeats of a repeated cross-validation, ``repeat`` says which one the fold belongs to."""
    items = pd.DataFrame(
        {
            "case_id": [bag.case_id for bag in dataset.bags],
            "slide_ids": [";".join(bag.slide_ids) for bag in dataset.bags],
            "survival_months": [bag.survival_months for bag in dataset.bags],
            "censorship": [bag.censorship for bag in dataset.bags],
            "label_bin": [bag.label_bin for bag in dataset.bags],
        }
    )
    hazard_names = [f"hazard_{k}" for k in range(result.hazards.shape[1])]
    items[hazard_names] = result.hazards
    if not items["case_id"].duplicated().any():
        return items.assign(risk=result.risk, fold=fold, repeat=repeat)[_prediction_columns(hazard_names)]
    patients = items.groupby("case_id", sort=False).agg(
        slide_ids=("slide_ids", ";".join),
        survival_months=("survival_months", "first"),
        censorship=("censorship", "first"),
        label_bin=("label_bin", "first"),
        **{name: (name, "mean") for name in hazard_names},
    )
    survival = np.cumprod(1.0 - patients[hazard_names].to_numpy(float), axis=1)
    patients = patients.reset_index().assign(risk=-survival.sum(axis=1), fold=fold, repeat=repeat)
    return patients[_prediction_columns(hazard_names)]


LABEL_COLUMNS = ("case_id", "slide_ids", "survival_months", "censorship", "label_bin")


def _prediction_columns(hazard_names: list[str]) -> list[str]:
    return [*LABEL_COLUMNS, "risk", *hazard_names, "fold", "repeat"]


def write_fold_outputs(
    out_dir: Path,
    held_out: pd.DataFrame | None,
    training: pd.DataFrame,
    history: list[dict[str, float]],
) -> None:
    """``predictions.csv`` (held-out patients; none for the final model, which holds none out),
    ``training_risks.csv`` and ``epochs.csv``.

    The training patients' risks let risk groups be cut per fold (``plots.km``): a held-out patient is
    compared with the patients its own model was trained on, never with other folds' risk scales.
    """
    if held_out is not None:
        write_csv(out_dir / "predictions.csv", held_out)
    write_csv(out_dir / "training_risks.csv", training[list(TRAINING_RISK_COLUMNS)])
    write_csv(out_dir / "epochs.csv", pd.DataFrame(history, columns=list(EPOCH_COLUMNS)))
