"""The clinical table of a local cohort, joined to its slide sheet into the pipeline's survival table.

Input: ``case_id, survival_months, censorship`` (1 = censored, 0 = death observed), one row per patient,
and any other columns as covariates. Output: the per-slide table every dataset writes
(``case_id, slide_id, survival_months, censorship``, then the covariates), see docs/architecture.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.io import write_csv
from crossfusion_core.local.sheet import LocalSlide, read_slide_sheet
from crossfusion_core.local.tables import TableRow, duplicated_groups, named_lines, read_rows

REQUIRED_COLUMNS = ("case_id", "survival_months", "censorship")
TABLE_FIX = "check dataset.clinical_table in your cohort config"
SHEET_RERUN_FIX = "the sheet changed while the workflow ran: start the run again"


@dataclass(frozen=True)
class PatientRecord:
    """One patient's follow-up and covariates, with the table line it came from."""

    case_id: str
    survival_months: float
    censorship: int
    covariates: dict[str, str]
    line: int


def read_clinical_table(table_path: str | Path) -> tuple[PatientRecord, ...]:
    """Every patient of the table, checked: one row per case_id, valid times and censorship."""
    table_path = Path(table_path)
    rows = read_rows(table_path, REQUIRED_COLUMNS, "clinical table", TABLE_FIX)
    records = tuple(_record(table_path, row) for row in rows)
    for group in duplicated_groups(rows, "case_id"):
        raise PipelineInputError(
            table_path,
            f"case_id {group[0].cells['case_id']!r} is listed on {named_lines(group)}",
            "keep one row per patient (slides are listed in the slide sheet)",
        )
    return records


def _record(table_path: Path, row: TableRow) -> PatientRecord:
    case_id = row.cells["case_id"]
    if not case_id:
        raise PipelineInputError(table_path, f"line {row.line}: empty case_id", "give every patient an id")
    months = _number(row.cells["survival_months"])
    if not (math.isfinite(months) and months >= 0):
        raise PipelineInputError(
            table_path,
            f"line {row.line} ({case_id}): survival_months {row.cells['survival_months']!r} is not a "
            "number of months >= 0",
            "give months from diagnosis to death or last follow-up",
        )
    censorship = row.cells["censorship"]
    if censorship not in ("0", "1"):
        raise PipelineInputError(
            table_path,
            f"line {row.line} ({case_id}): censorship {censorship!r} is not 0 or 1",
            "use 1 = censored (alive at last follow-up), 0 = death observed",
        )
    covariates = {key: value for key, value in row.cells.items() if key not in REQUIRED_COLUMNS}
    return PatientRecord(case_id, months, int(censorship), covariates, row.line)


def _number(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return math.nan


def check_cohort(
    slides: Sequence[LocalSlide], patients: Sequence[PatientRecord], sheet_path: Path, table_path: Path
) -> None:
    """Every slide has a patient in the table and every patient of the table has a slide in the sheet."""
    known = {patient.case_id for patient in patients}
    orphans = [slide for slide in slides if slide.case_id not in known]
    if orphans:
        lines = ", ".join(f"line {slide.line} ({slide.case_id})" for slide in orphans[:10])
        raise PipelineInputError(
            sheet_path,
            f"{len(orphans)} slide(s) belong to a case_id missing from {table_path}: {lines}",
            "add the patient to the clinical table or remove the slide from the sheet",
        )
    with_slides = {slide.case_id for slide in slides}
    without = [patient for patient in patients if patient.case_id not in with_slides]
    if without:
        lines = ", ".join(f"line {patient.line} ({patient.case_id})" for patient in without[:10])
        raise PipelineInputError(
            table_path,
            f"{len(without)} patient(s) have no slide in {sheet_path}: {lines}",
            "add their slides to the sheet or remove them from the clinical table",
        )


def local_survival_table(
    slides: Sequence[LocalSlide], patients: Sequence[PatientRecord], slide_ids: Sequence[str]
) -> pd.DataFrame:
    """One row per slide of ``slide_ids`` (the run's slides, exclusions applied), in that order."""
    by_slide = {slide.slide_id: slide for slide in slides}
    by_case = {patient.case_id: patient for patient in patients}
    covariates = list(dict.fromkeys(key for patient in patients for key in patient.covariates))
    rows = []
    for slide_id in slide_ids:
        patient = by_case[by_slide[slide_id].case_id]
        rows.append(
            {
                "case_id": patient.case_id,
                "slide_id": slide_id,
                "survival_months": patient.survival_months,
                "censorship": patient.censorship,
                **{key: patient.covariates.get(key, "") for key in covariates},
            }
        )
    return pd.DataFrame(rows, columns=["case_id", "slide_id", "survival_months", "censorship", *covariates])


def write_local_survival(
    sheet_path: str | Path, table_path: str | Path, slide_ids: Sequence[str], out_csv: str | Path
) -> int:
    """Write the survival table of the run's slides; return its number of rows."""
    slides = read_slide_sheet(sheet_path)
    patients = read_clinical_table(table_path)
    check_cohort(slides, patients, Path(sheet_path), Path(table_path))
    unknown = sorted(set(slide_ids) - {slide.slide_id for slide in slides})
    if unknown:
        raise PipelineInputError(sheet_path, f"slide(s) {unknown[:10]} are not in the sheet", SHEET_RERUN_FIX)
    table = local_survival_table(slides, patients, slide_ids)
    write_csv(out_csv, table)
    return len(table)
