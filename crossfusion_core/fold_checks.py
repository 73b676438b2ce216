"""The cross-validation folds checked while the DAG is built, against what training will ask of them.

Without these checks a config passes the dry run and fails in a job, after every slide is featurised:
the ``splits`` job (more folds than patients, strata the stratified split cannot cut), or ``train``
(fewer observed deaths among a fold's training items than ``training.n_bins``, whose bins are quantiles
of death times; an inner validation split too small to carve; a linear probe with more
``n_components`` than its training items allow). So the folds are made here as the splits job makes
them, with the same functions, from the survival table as the clinical job will write it
(:mod:`crossfusion_core.known_survival`), and each is checked as ``train`` would use it.

What is not known yet: patients whose every slide lacks tissue (``qc/excluded.csv``, written after
segmentation), left out of the folds later. They are counted here; leaving them out means fewer
patients per fold (and stratified folds drawn again), so the messages say what they counted, and a
cohort that loses many patients can still fail in ``train``. A TCGA table built from the GDC is not
known at all: then only the fold files are checked.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from crossfusion_core.cohort import CohortDataset, CohortSlide
from crossfusion_core.config_origins import ConfigOrigins
from crossfusion_core.data.clinical import patient_table
from crossfusion_core.data.fold_count import check_fold_count
from crossfusion_core.data.labels import label_bins, time_bin_edges
from crossfusion_core.data.splits import FoldSplit, cohort_folds
from crossfusion_core.errors import PipelineInputError
from crossfusion_core.known_survival import known_survival_rows
from crossfusion_core.models.registry import model_options
from crossfusion_core.synthetic.settings import SyntheticSettings
from crossfusion_core.training.sampling import inner_validation_split
from crossfusion_core.training.settings import TrainingSettings

COUNTED = "counted from the survival table, before patients without tissue are left out"
PROBE_COMPONENTS = ("training", "model_options", "linear_probe", "n_components")


def check_folds(
    dataset: CohortDataset,
    synthetic: SyntheticSettings,
    slides: Sequence[CohortSlide],
    training: TrainingSettings,
    origins: ConfigOrigins,
) -> None:
    """Fold files, fold count, time bins per fold and the probe's components; the first problem raises."""
    splits_dir = dataset.splits_dir
    if splits_dir is not None:
        _check_fold_files(splits_dir, training, origins)
        if training.repeats != 1:
            raise origins.error(
                ("training", "repeats"),
                f"repeats={training.repeats}, but the cohort's folds are the fixed files of {splits_dir}",
                "set training.repeats: 1 (the study's folds are one repeat)",
            )
    rows = known_survival_rows(dataset, synthetic, [s.slide_id for s in slides])
    if rows is None:
        return
    patients = patient_table(rows).set_index("case_id", drop=False)
    if splits_dir is None:
        _check_fold_count(training, len(patients), origins)
    fitted = [
        _fitted_items(k, fold, patients, training, origins)
        for k, fold in enumerate(_folds(patients, training, splits_dir, origins))
    ]
    _check_probe([len(items) for items in fitted], training, origins)


def _check_fold_files(folder: Path, training: TrainingSettings, origins: ConfigOrigins) -> None:
    missing = [k for k in range(training.n_folds) if not (folder / f"splits_{k}.csv").is_file()]
    if missing:
        raise origins.error(
            ("training", "n_folds"),
            f"n_folds={training.n_folds} but {folder} lacks {[f'splits_{k}.csv' for k in missing]}",
            f"set n_folds to the number of fold files in dataset.splits_dir ({folder})",
        )


def _check_fold_count(training: TrainingSettings, n_patients: int, origins: ConfigOrigins) -> None:
    try:
        check_fold_count(training.n_folds, n_patients)
    except PipelineInputError as error:
        raise origins.error(("training", "n_folds"), error.problem, error.fix) from None


def _folds(
    patients: pd.DataFrame, training: TrainingSettings, splits_dir: Path | None, origins: ConfigOrigins
) -> list[FoldSplit]:
    """The splits job's folds; a split file's own problem names that file."""
    try:
        with _quietly():
            return cohort_folds(
                patients,
                training.n_folds,
                training.split_seed,
                training.n_bins,
                splits_dir,
                repeats=training.repeats,
            )
    except PipelineInputError as error:
        if error.path is not None:
            raise
        raise origins.error(  # the strata's time bins, over the whole cohort
            ("training", "n_bins"),
            f"the {len(patients)} patients, binned to stratify the folds: {error.problem} ({COUNTED})",
            _bins_fix(training),
        ) from None
    except ValueError as error:
        raise origins.error(
            ("training", "n_folds"),
            f"the {len(patients)} patients cannot be cut into {training.n_folds} folds stratified on time "
            f"bin x censorship ({error})",
            "lower training.n_folds or training.n_bins",
        ) from None


@contextlib.contextmanager
def _quietly() -> Iterator[None]:
    """Without the splits job's warnings (patients its folds drop, small strata): they belong in its
    log, not in every dry run and every cluster job's start, which all build the DAG again."""
    logger = logging.getLogger(cohort_folds.__module__)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            yield
    finally:
        logger.setLevel(level)


def _fitted_items(
    index: int, fold: FoldSplit, patients: pd.DataFrame, training: TrainingSettings, origins: ConfigOrigins
) -> pd.DataFrame:
    """The items ``train`` fits on in this fold (as training.fold_data makes them), after checking the
    time bins it draws first."""
    train = patients.loc[list(fold.train)]
    binned = _as_items(
        patients.loc[list(fold.train + fold.val)] if training.selects_on_held_out else train, training.items
    )
    try:
        edges = time_bin_edges(binned, training.n_bins)
    except PipelineInputError as error:
        raise origins.error(
            ("training", "n_bins"),
            f"fold {index} trains on {len(binned)} {training.items}s: {error.problem} ({COUNTED})",
            _bins_fix(training),
        ) from None
    return _as_items(_fitted(index, train, edges, training, origins), training.items)


def _bins_fix(training: TrainingSettings) -> str:
    return (
        f"lower training.n_bins (now {training.n_bins}), or lower training.n_folds so that each fold "
        "trains on more patients"
    )


def _as_items(patients: pd.DataFrame, items: str) -> pd.DataFrame:
    """One row per patient, or per slide with its patient's label (``items: slide``)."""
    return patients if items == "patient" else patients.explode("slide_ids", ignore_index=True)


def _fitted(
    index: int, train: pd.DataFrame, edges: Any, training: TrainingSettings, origins: ConfigOrigins
) -> pd.DataFrame:
    """The training patients a model is fitted on: without the inner validation split, if any."""
    if not training.selects_on_inner_split:
        return train
    censorship = train["censorship"].to_numpy()
    strata = 2 * label_bins(train["survival_months"], edges) + censorship
    try:
        fit_rows, _ = inner_validation_split(strata, censorship, training.inner_val_fraction, training.seed)
    except ValueError as error:
        raise origins.error(
            ("training", "selection"),
            f"fold {index}: {error} ({COUNTED})",
            "set selection: final, or lower training.n_folds so that each fold trains on more patients",
        ) from None
    return train.iloc[fit_rows]


def _check_probe(n_fitted: Sequence[int], training: TrainingSettings, origins: ConfigOrigins) -> None:
    """PCA finds at most one component fewer than the items it is fitted on (see models.probe_fit)."""
    if "linear_probe" not in training.models or not n_fitted:
        return
    n_components = model_options("linear_probe", training.model_options.get("linear_probe")).n_components
    if not n_components:
        return
    fold = min(range(len(n_fitted)), key=n_fitted.__getitem__)
    allowed = n_fitted[fold] - 1
    if n_components > allowed:
        raise origins.error(
            PROBE_COMPONENTS,
            f"n_components={n_components} exceeds the {allowed} components that fold {fold}'s "
            f"{n_fitted[fold]} training {training.items}s allow ({COUNTED})",
            f"set n_components to at most {allowed} (0 keeps every feature), or lower training.n_folds",
        )
