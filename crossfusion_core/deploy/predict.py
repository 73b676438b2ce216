"""Risks of the deployment target's patients under the trained models.

Each model scores a patient on its slides' bags concatenated, as training does. The ensemble's risk
is the mean of its fold models' risks: every model's risk is minus the expected number of time bins
survived (:class:`crossfusion_core.models.outputs.SurvivalOutput`), one scale for all of them, so their
mean is a risk of the same kind. A patient none of whose slides gives patches at every scale cannot be
scored; it keeps its row, with an empty risk and the reason, so the table lists every patient.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from crossfusion_core.data.bags import SlideFeatures, feature_path, slide_bags, slide_features
from crossfusion_core.data.clinical import load_patients
from crossfusion_core.deploy.settings import weights_label
from crossfusion_core.errors import FeatureMismatchError
from crossfusion_core.io import write_csv
from crossfusion_core.models.checkpoint import CheckpointInfo, load_checkpoint
from crossfusion_core.scales import MAGNIFICATIONS

LOGGER = logging.getLogger(__name__)
UNSCORED = "no slide with tissue patches at every scale"
"""The ``note`` of a patient without a bag at some scale."""


def target_patients(survival_csv: str | Path | None, slide_patients: Mapping[str, str]) -> pd.DataFrame:
    """One row per patient: ``case_id, slide_ids`` (a tuple), and ``survival_months, censorship`` from
    the survival table when the target has one; else the patients of its slide list, without survival."""
    if survival_csv is not None:
        return load_patients(survival_csv)
    slides = pd.DataFrame({"slide_id": list(slide_patients), "case_id": list(slide_patients.values())})
    grouped = slides.groupby("case_id", sort=False)["slide_id"].agg(tuple)
    return pd.DataFrame({"case_id": grouped.index, "slide_ids": grouped.to_numpy()})


def deployment_predictions(
    checkpoints: Sequence[Path], patients: pd.DataFrame, feature_dirs: Mapping[int, Path], weights: str
) -> pd.DataFrame:
    """The target's table: its patients' columns, ``risk`` (the deployed weights'), one ``risk_{model}``
    per model (``risk_fold_0``, ... or ``risk_final``), ``weights`` naming the choice, and ``note``."""
    models = [(Path(path), *load_checkpoint(path)) for path in checkpoints]
    rows = []
    for patient in patients.to_dict("records"):
        slides = _usable_slides(patient["case_id"], patient["slide_ids"], feature_dirs, models)
        risks = _risks([model for _, model, _ in models], slides) if slides else [np.nan] * len(models)
        rows.append(
            {
                **patient,
                "slide_ids": ";".join(patient["slide_ids"]),
                "risk": float(np.mean(risks)),
                **{
                    f"risk_{path.parent.name}": risk for (path, _, _), risk in zip(models, risks, strict=True)
                },
                "note": "" if slides else UNSCORED,
            }
        )
    return pd.DataFrame(rows).assign(weights=weights_label(weights, len(models)))


def _usable_slides(
    case_id: str,
    slide_ids: Sequence[str],
    feature_dirs: Mapping[int, Path],
    models: Sequence[tuple[Path, nn.Module, CheckpointInfo]],
) -> list[SlideFeatures]:
    """The patient's slides with patches at every scale, their feature width checked against every model."""
    usable = []
    for slide_id in slide_ids:
        slide, dim = slide_features(case_id, slide_id, feature_dirs, None)
        for path, _, info in models:
            if dim != info.backbone_dim:
                raise FeatureMismatchError(
                    feature_path(feature_dirs, MAGNIFICATIONS[0], slide_id),
                    f"the deployment target's features are {dim}-dimensional, but {path} was trained on "
                    f"{info.backbone_dim}-dimensional {info.backbone or 'unnamed'} features",
                    "deploy on features of the backbone the model was trained on",
                )
        if min(slide.n_patches) == 0:
            LOGGER.warning("patient %s: slide %s has no tissue patches at some scale", case_id, slide_id)
            continue
        usable.append(slide)
    return usable


@torch.no_grad()
def _risks(models: Sequence[nn.Module], slides: Sequence[SlideFeatures]) -> list[float]:
    bags = slide_bags(slides)
    return [float(model(*bags).risk.float().item()) for model in models]


def write_deployment_predictions(
    checkpoints: Sequence[str | Path],
    survival_csv: str | Path | None,
    slide_patients: Mapping[str, str],
    feature_dirs: Mapping[int, Path],
    weights: str,
    out_csv: str | Path,
    *,
    threads: int | None = None,
) -> pd.DataFrame:
    """Score the target's patients with the deployed models on the CPU and write ``predictions.csv``.

    The CPU, in float32: a deployment scores each patient once per model (no training), and the
    trained cohort's own held-out risks were computed the same way.
    """
    torch.set_num_threads(threads or len(os.sched_getaffinity(0)))
    patients = target_patients(survival_csv, slide_patients)
    table = deployment_predictions([Path(p) for p in checkpoints], patients, feature_dirs, weights)
    unscored = table.loc[table["note"] != "", "case_id"].tolist()
    if unscored:
        LOGGER.warning("%d patient(s) not scored (%s): %s", len(unscored), UNSCORED, unscored[:10])
    write_csv(out_csv, table)
    return table
