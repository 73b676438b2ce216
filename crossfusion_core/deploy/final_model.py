"""The final model: each model trained once more, on every patient of the cohort, for deployment.

The cross-validation's fold models each saw only part of the cohort; a model trained on all of it uses
every patient the cohort has, which is what a model meant for other hospitals' slides should do. It is
trained exactly as a fold is (:func:`crossfusion_core.training.fold.train_on_split`, the folds' settings
and step budget) on a split that holds nobody out, so it has no held-out score of its own: how well such
a model ranks patients is what the cross-validation estimates.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from crossfusion_core.data.clinical import load_patients
from crossfusion_core.data.exclusions import read_excluded_cases
from crossfusion_core.data.splits import FoldSplit
from crossfusion_core.models.options import ModelOptions
from crossfusion_core.training.fold import train_on_split
from crossfusion_core.training.settings import FoldTrainingSettings

FINAL_MODEL_FOLD = -1
"""The ``fold`` its ``training_risks.csv`` rows carry: it is none of the cross-validation's folds."""


def all_patients_split(survival_csv: str | Path, excluded_csv: str | Path) -> FoldSplit:
    """Every patient of the survival table except those without a usable slide, none held out."""
    left_out = read_excluded_cases(excluded_csv)
    cases = [case for case in load_patients(survival_csv)["case_id"] if case not in left_out]
    return FoldSplit(train=tuple(cases), val=())


def train_final_model(
    settings: FoldTrainingSettings,
    model_name: str,
    model_options: ModelOptions | Mapping[str, Any],
    survival_csv: Path,
    excluded_csv: Path,
    feature_dirs: Mapping[int, Path],
    out_dir: Path,
    *,
    backbone: str,
    threads: int | None = None,
) -> None:
    """Write ``model.pt``, ``training_risks.csv`` (every patient: the Kaplan-Meier reference of a
    deployment) and ``epochs.csv`` of the model trained on all patients into ``out_dir``."""
    train_on_split(
        settings,
        model_name,
        model_options,
        survival_csv,
        all_patients_split(survival_csv, excluded_csv),
        Path(excluded_csv),
        feature_dirs,
        out_dir,
        fold=FINAL_MODEL_FOLD,
        threads=threads,
        backbone=backbone,
    )
