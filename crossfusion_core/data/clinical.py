"""The survival table: one row per slide on disk, one row per patient for labels.

The table follows the original study's layout (``case_id, slide_id, survival_months, censorship``,
``censorship`` 1 = censored). Its ``slide_id`` is the pipeline's slide id, except that the study's TCGA
tables (and the synthetic ones, written alike) name each slide by its SVS file: :func:`slide_stem` drops
that suffix. A local cohort's slide ids never carry one (its sheet refuses ids that look like file
names). Labels, splits and predictions are per patient, so :func:`patient_table` folds the slides of a
patient into one row.

About TCGA-COAD: its table (and its split files) use a slide-like string as ``case_id``
(``TCGA-A6-2683-01Z-00-DX1.<uuid>``). The split files name those same strings, so they are kept as they
are: rewriting them to the 12-character patient barcode would break the match with the study's folds.
The ids are therefore never derived from barcodes here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from crossfusion_core.errors import PipelineInputError

REQUIRED_COLUMNS = ("case_id", "slide_id", "survival_months", "censorship")
STUDY_SLIDE_SUFFIX = ".svs"
"""The file suffix in the ``slide_id`` of the study's tables (never part of a pipeline slide id)."""
MAX_NAMED = 10
"""At most this many offending patients are listed in an error message."""


def named_ids(case_ids: pd.Series | list[str]) -> str:
    """A short, sorted, comma-separated list of ids for error messages."""
    ids = sorted({str(c) for c in case_ids})
    more = f" (and {len(ids) - MAX_NAMED} more)" if len(ids) > MAX_NAMED else ""
    return ", ".join(ids[:MAX_NAMED]) + more


def slide_stem(slide_id: str) -> str:
    """The pipeline's slide id of a table's ``slide_id``: the name of its feature, patch and tissue files."""
    return slide_id.removesuffix(STUDY_SLIDE_SUFFIX)


def load_survival_table(path: str | Path) -> pd.DataFrame:
    """Read and check the per-slide survival table.

    Returns the required columns with ``case_id``/``slide_id`` as strings, ``survival_months`` as float
    and ``censorship`` as int. Every problem raises :class:`PipelineInputError` naming the file and the
    offending patients, because a silently dropped patient changes every fold downstream.
    """
    path = Path(path)
    if not path.is_file():
        raise PipelineInputError(path, "survival table does not exist", "run the clinical step first")
    table = pd.read_csv(path, dtype={"case_id": str, "slide_id": str})
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise PipelineInputError(
            path,
            f"survival table lacks column(s) {', '.join(missing)} (has {', '.join(map(str, table.columns))})",
            f"the table needs {', '.join(REQUIRED_COLUMNS)}",
        )
    table = table[list(REQUIRED_COLUMNS)].copy()
    if table.empty:
        raise PipelineInputError(path, "survival table has no rows")
    _check_ids(path, table)
    table["survival_months"] = _numeric_column(path, table, "survival_months")
    table["censorship"] = _numeric_column(path, table, "censorship")
    _check_values(path, table)
    table["censorship"] = table["censorship"].astype(int)
    return table.reset_index(drop=True)


def _check_ids(path: Path, table: pd.DataFrame) -> None:
    for column in ("case_id", "slide_id"):
        blank = table[column].isna() | (table[column].astype(str).str.strip() == "")
        if blank.any():
            rows = ", ".join(str(i + 2) for i in np.flatnonzero(blank.to_numpy())[:MAX_NAMED])
            raise PipelineInputError(path, f"empty {column} on line(s) {rows}")
    duplicated = table["slide_id"].duplicated(keep=False)
    if duplicated.any():
        raise PipelineInputError(
            path,
            f"slide(s) listed more than once: {named_ids(table.loc[duplicated, 'slide_id'])}",
            "keep one row per slide",
        )


def _numeric_column(path: Path, table: pd.DataFrame, column: str) -> pd.Series:
    values = pd.to_numeric(table[column], errors="coerce")
    bad = values.isna() & table[column].notna()
    if bad.any():
        raise PipelineInputError(
            path, f"non-numeric {column} for patient(s) {named_ids(table.loc[bad, 'case_id'])}"
        )
    return values.astype(float)


def _check_values(path: Path, table: pd.DataFrame) -> None:
    times = table["survival_months"]
    bad_time = times.isna() | (times < 0) | ~np.isfinite(times.fillna(0))
    if bad_time.any():
        raise PipelineInputError(
            path,
            f"missing, infinite or negative survival_months for patient(s) "
            f"{named_ids(table.loc[bad_time, 'case_id'])}",
            "survival times are months from diagnosis, zero or more",
        )
    bad_censorship = ~table["censorship"].isin([0, 1])
    if bad_censorship.any():
        raise PipelineInputError(
            path,
            f"censorship not 0 or 1 for patient(s) {named_ids(table.loc[bad_censorship, 'case_id'])}",
            "use 1 = censored (alive at last follow-up), 0 = death observed",
        )
    per_patient = table.groupby("case_id")[["survival_months", "censorship"]].nunique()
    inconsistent = per_patient[(per_patient > 1).any(axis=1)].index
    if len(inconsistent):
        raise PipelineInputError(
            path,
            "slides of the same patient disagree on survival_months or censorship: "
            f"{named_ids(inconsistent)}",
        )


def patient_table(slides: pd.DataFrame) -> pd.DataFrame:
    """One row per patient: ``case_id, slide_ids`` (tuple of stems), ``survival_months, censorship``.

    Order follows the first appearance of each patient in the table, so results do not depend on how
    pandas sorts strings.
    """
    grouped = slides.groupby("case_id", sort=False)
    patients = grouped.agg(
        survival_months=("survival_months", "first"),
        censorship=("censorship", "first"),
    )
    patients.insert(0, "slide_ids", grouped["slide_id"].agg(lambda s: tuple(slide_stem(x) for x in s)))
    return patients.reset_index()


def load_patients(path: str | Path) -> pd.DataFrame:
    """:func:`patient_table` of the checked table at ``path``."""
    return patient_table(load_survival_table(path))
