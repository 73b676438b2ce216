"""Patient-level cross-validation folds in the original study's file format.

A split file has an unnamed index column and two columns of case ids, ``train`` and ``val``; the shorter
column is padded with empty cells. ``val`` is the held-out fold. Folds are made per patient, never per
slide, so two slides of one patient can never sit on both sides.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from crossfusion_core.data.clinical import load_patients, named_ids
from crossfusion_core.data.exclusions import read_excluded_cases
from crossfusion_core.data.fold_count import check_fold_count
from crossfusion_core.data.labels import label_bins, time_bin_edges
from crossfusion_core.errors import PipelineInputError
from crossfusion_core.io import write_csv

SPLIT_COLUMNS = ("train", "val")
LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class FoldSplit:
    """Case ids of one fold: ``train`` to fit on, ``val`` held out."""

    train: tuple[str, ...]
    val: tuple[str, ...]


def read_fold_split(path: str | Path) -> FoldSplit:
    """Load and check one split file: both columns present, no id twice, no patient on both sides."""
    path = Path(path)
    if not path.is_file():
        raise PipelineInputError(path, "split file does not exist", "run the splits step first")
    table = pd.read_csv(path, index_col=0, dtype=str)
    missing = [c for c in SPLIT_COLUMNS if c not in table.columns]
    if missing:
        raise PipelineInputError(path, f"split file lacks column(s) {', '.join(missing)}")
    train, val = (tuple(table[c].dropna().str.strip().loc[lambda s: s != ""]) for c in SPLIT_COLUMNS)
    for name, ids in (("train", train), ("val", val)):
        repeated = pd.Series(ids)[pd.Series(ids).duplicated()]
        if len(repeated):
            raise PipelineInputError(path, f"{name} lists patient(s) twice: {named_ids(repeated)}")
    overlap = set(train) & set(val)
    if overlap:
        raise PipelineInputError(path, f"patient(s) in both train and val: {named_ids(list(overlap))}")
    if not train or not val:
        raise PipelineInputError(path, "split file has an empty train or val column")
    return FoldSplit(train=train, val=val)


def split_frame(split: FoldSplit) -> pd.DataFrame:
    """The on-disk layout of ``split``: the shorter column padded with empty cells."""
    length = max(len(split.train), len(split.val))
    return pd.DataFrame(
        {
            name: pd.Series(ids, dtype=object).reindex(range(length))
            for name, ids in zip(SPLIT_COLUMNS, (split.train, split.val), strict=True)
        }
    )


def stratified_folds(patients: pd.DataFrame, n_folds: int, seed: int, n_bins: int = 4) -> list[FoldSplit]:
    """Patient-level folds from ``seed``, stratified on time bin x censorship.

    Stratifying on both keeps the event rate and the spread of survival times alike across folds, which
    the C-index of small cohorts is sensitive to.
    """
    check_fold_count(n_folds, len(patients), "patient(s) with a usable slide")
    strata = stratum_labels(patients, n_bins)
    splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    case_ids = patients["case_id"].to_numpy()
    return [
        FoldSplit(train=tuple(case_ids[train_rows]), val=tuple(case_ids[val_rows]))
        for train_rows, val_rows in splitter.split(case_ids, strata)
    ]


def stratum_labels(patients: pd.DataFrame, n_bins: int) -> np.ndarray:
    """One integer per patient: ``2 * time_bin + censorship``, the classes of the original sampler."""
    bins = label_bins(patients["survival_months"], time_bin_edges(patients, n_bins))
    return 2 * bins + patients["censorship"].to_numpy(dtype=np.int64)


def write_fold_splits(
    survival_csv: str | Path,
    n_folds: int,
    seed: int,
    out_paths: Sequence[str | Path],
    splits_dir: str | Path | None = None,
    n_bins: int = 4,
    excluded_csv: str | Path | None = None,
    repeats: int = 1,
) -> None:
    """Write ``splits_{k}.csv`` for k = 0 .. n_folds * repeats - 1 to ``out_paths`` (in fold order).

    Patients listed in ``excluded_csv`` (``qc/excluded.csv``: no usable slide) are in no fold. With
    ``splits_dir`` the study's own files ``splits_dir/splits_{k}.csv`` are checked (readable,
    no patient on both sides) and copied in the same format, less those patients and the ones the
    survival table lacks; otherwise folds are drawn from ``seed`` by :func:`stratified_folds` over the
    usable patients, so that every fold is balanced on the patients actually trained and scored.
    """
    if len(out_paths) != n_folds * repeats:
        raise ValueError(f"{len(out_paths)} output paths for {n_folds} folds x {repeats} repeats")
    patients = load_patients(survival_csv)
    left_out = read_excluded_cases(excluded_csv) if excluded_csv is not None else frozenset()
    if left_out:
        LOGGER.warning(
            "%d patient(s) without a usable slide are in no fold (see %s): %s",
            len(left_out),
            excluded_csv,
            named_ids(list(left_out)),
        )
    folds = cohort_folds(patients, n_folds, seed, n_bins, splits_dir, left_out, repeats)
    for out_path, fold in zip(out_paths, folds, strict=True):
        write_csv(out_path, split_frame(fold), index=True)


def cohort_folds(
    patients: pd.DataFrame,
    n_folds: int,
    seed: int,
    n_bins: int,
    splits_dir: str | Path | None = None,
    left_out: frozenset[str] = frozenset(),
    repeats: int = 1,
) -> list[FoldSplit]:
    """The folds of :func:`write_fold_splits` from its patient table, also for the dry run's checks:
    ``n_folds`` per repeat, repeat ``r`` drawn from ``seed + r`` (the study's files have one repeat)."""
    if splits_dir is None:
        usable = patients[~patients["case_id"].isin(left_out)]
        return [fold for r in range(repeats) for fold in stratified_folds(usable, n_folds, seed + r, n_bins)]
    if repeats != 1:
        raise PipelineInputError(
            Path(splits_dir),
            f"training.repeats={repeats}, but the cohort's folds are fixed files (one repeat)",
            "set training.repeats: 1, or leave dataset.splits_dir out to draw folds from a seed",
        )
    paths = [Path(splits_dir) / f"splits_{k}.csv" for k in range(n_folds)]
    known = set(patients["case_id"])
    return [_without_unknown(path, read_fold_split(path), known, left_out) for path in paths]


def _without_unknown(path: Path, fold: FoldSplit, known: set[str], left_out: frozenset[str]) -> FoldSplit:
    """Drop, with a warning, patients the survival table lacks (the study's own code skipped them too)
    and, silently (the caller has warned), those left out for want of a usable slide.

    TCGA-LUAD's study splits name 9 patients that its clinical table does not have; they can be neither
    trained on nor scored.
    """
    unknown = set(fold.train + fold.val) - known - left_out
    if unknown:
        LOGGER.warning(
            "%s: dropping patient(s) absent from the survival table: %s", path, named_ids(list(unknown))
        )
    usable = known - left_out
    kept = FoldSplit(
        train=tuple(c for c in fold.train if c in usable), val=tuple(c for c in fold.val if c in usable)
    )
    if not kept.train or not kept.val:
        raise PipelineInputError(
            path,
            "no patient of this fold's train or val side is in the survival table with a usable slide",
            "use files of the same cohort, and check the left-out patients in qc/excluded.csv",
        )
    return kept
