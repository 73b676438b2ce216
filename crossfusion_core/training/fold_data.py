"""The patient sets of one fold as labelled bag datasets: what is fitted, what selects, what is held out.

- ``honest`` + ``selection: final``: every training patient is fitted; nothing selects.
- ``honest`` + ``selection: inner_validation``: a stratified inner split of the training patients
  (time bin x censorship, by patient) selects the epoch.
- ``original``: the held-out fold itself selects, as in the original study.

Time bins come from the training items only, except under ``original`` where, as in the original, they
come from all items of the split. Items are patients, or slides with ``items: slide``.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from crossfusion_core.data.bags import PatientBag, SurvivalBagDataset, features_size_bytes, patient_bags
from crossfusion_core.data.clinical import load_patients, named_ids
from crossfusion_core.data.labels import label_bins, time_bin_edges
from crossfusion_core.data.splits import FoldSplit
from crossfusion_core.errors import PipelineInputError
from crossfusion_core.scales import MAGNIFICATIONS
from crossfusion_core.training.sampling import inner_validation_split
from crossfusion_core.training.settings import FoldTrainingSettings


@dataclasses.dataclass(frozen=True)
class FoldData:
    """The item sets of a fold, and what the model needs to know about them.

    ``inner`` is the inner validation split (empty unless ``selection: inner_validation``); ``select``
    is the set epochs are compared on (``inner``, or the held-out fold under ``original``), or None
    when training keeps its final weights. The training items are ``fit`` and ``inner`` together.
    """

    fit: SurvivalBagDataset
    inner: SurvivalBagDataset
    held_out: SurvivalBagDataset
    select: SurvivalBagDataset | None
    bin_edges: np.ndarray
    backbone_dim: int


def fold_data(
    settings: FoldTrainingSettings,
    survival_csv: Path,
    split_csv: Path,
    split: FoldSplit,
    feature_dirs: Mapping[int, Path],
) -> FoldData:
    """Labelled bags of the fold's item sets (see the module docstring)."""
    patients = load_patients(survival_csv).set_index("case_id", drop=False)
    unknown = [c for c in split.train + split.val if c not in patients.index]
    if unknown:
        raise PipelineInputError(
            split_csv, f"patient(s) absent from {survival_csv}: {named_ids(unknown)}", "regenerate the splits"
        )
    train, held_out = patients.loc[list(split.train)], patients.loc[list(split.val)]
    binned = pd.concat([train, held_out]) if settings.selects_on_held_out else train
    edges = time_bin_edges(item_table(binned, settings.items), settings.n_bins)
    fit, inner = _fit_and_inner(train, edges, settings)
    groups = [fit, inner, held_out]
    ordered = pd.concat(groups)
    bags, backbone_dim = patient_bags(
        ordered, _checked_feature_dirs(feature_dirs), label_bins(ordered["survival_months"], edges)
    )
    cache = features_size_bytes(bags, backbone_dim) <= settings.feature_cache_mb * 2**20
    bounds = np.cumsum([0, *map(len, groups)])
    fit_set, inner_set, held_out_set = (
        SurvivalBagDataset(_as_items(bags[a:b], settings.items), cache) for a, b in itertools.pairwise(bounds)
    )
    select = held_out_set if settings.selects_on_held_out else inner_set if len(inner_set) else None
    return FoldData(fit_set, inner_set, held_out_set, select, edges, backbone_dim)


def item_table(patients: pd.DataFrame, items: str) -> pd.DataFrame:
    """The patient rows as training items: unchanged, or one row per slide with the patient's label."""
    if items == "patient":
        return patients.reset_index(drop=True)
    slides = patients.reset_index(drop=True).explode("slide_ids", ignore_index=True)
    return slides.assign(slide_ids=[(slide,) for slide in slides["slide_ids"]])


def _as_items(bags: list[PatientBag], items: str) -> list[PatientBag]:
    """Patient bags as training items: unchanged, or one bag per slide with the patient's label.

    Slides without tissue patches were already left out of their patient's bag, so none becomes an item.
    """
    if items == "patient":
        return bags
    return [dataclasses.replace(bag, slides=(slide,)) for bag in bags for slide in bag.slides]


def _fit_and_inner(
    train: pd.DataFrame, edges: np.ndarray, settings: FoldTrainingSettings
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The training patients that are fitted and those of the inner validation split (maybe none)."""
    if not settings.selects_on_inner_split:
        return train, train.iloc[:0]
    censorship = train["censorship"].to_numpy()
    strata = 2 * label_bins(train["survival_months"], edges) + censorship
    fit_rows, inner_rows = inner_validation_split(
        strata, censorship, settings.inner_val_fraction, settings.seed
    )
    return train.iloc[fit_rows], train.iloc[inner_rows]


def _checked_feature_dirs(feature_dirs: Mapping[int, Path]) -> dict[int, Path]:
    dirs = {int(k): Path(v) for k, v in feature_dirs.items()}
    missing = [m for m in MAGNIFICATIONS if m not in dirs]
    if missing:
        raise PipelineInputError(
            None,
            f"no feature folder for magnification(s) {missing}",
            f"pass one for each of {MAGNIFICATIONS}",
        )
    return dirs
