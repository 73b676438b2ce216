"""Survival tables of TCGA cohorts: one row per slide, in the original study's format.

Output columns: ``case_id, slide_id`` (with ``.svs``), ``survival_months``, ``censorship`` (1 =
censored, 0 = death observed), then ``age, is_female, site`` where known. Rows come either from a table
in the study's format (BLCA, LUAD, UCEC, COAD) or from the GDC ``cases`` endpoint (BRCA, GBMLGG, READ).

Days become months as ``days / 30``: the study's own COAD table has ``survival_months ==
round(survival_days / 30)`` on all of its 424 rows. Two decimals are kept, as in its other tables.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.io import write_csv
from crossfusion_core.tcga.dataset import TcgaDataset
from crossfusion_core.tcga.gdc import gdc_session, request_json
from crossfusion_core.tcga.manifest import SLIDE_SUFFIX

LOGGER = logging.getLogger(__name__)

DAYS_PER_MONTH = 30.0
REQUIRED_COLUMNS = ["case_id", "slide_id", "survival_months", "censorship"]
OPTIONAL_COLUMNS = ["age", "is_female", "site"]
CASE_BARCODE = re.compile(r"TCGA-[A-Z0-9]{2}-[A-Z0-9]{4}")
CASE_FIELDS = (
    "submitter_id",
    "demographic.vital_status",
    "demographic.days_to_death",
    "demographic.gender",
    "demographic.age_at_index",
    "diagnoses.days_to_last_follow_up",
    "diagnoses.age_at_diagnosis",
    "follow_ups.days_to_follow_up",
)
OFFLINE_FIX = (
    "set dataset.survival_table to a CSV with columns case_id, slide_id, survival_months, censorship "
    "(see config/tcga/README.md), or run where the GDC API is reachable"
)


@dataclass(frozen=True)
class SurvivalReport:
    """What went into a survival table and, per reason, which slides were left out."""

    out_csv: Path
    n_rows: int
    dropped: dict[str, list[str]] = field(default_factory=dict)

    def summary(self) -> str:
        """One line for the log."""
        parts = [f"{len(ids)} {reason}" for reason, ids in sorted(self.dropped.items())]
        return f"{self.out_csv}: {self.n_rows} slides" + (f"; dropped: {'; '.join(parts)}" if parts else "")


def tcga_case_id(slide_id: str) -> str:
    """The patient barcode (``TCGA-2F-A9KO``) that starts every TCGA slide or sample barcode."""
    match = CASE_BARCODE.match(slide_id)
    if match is None:
        raise PipelineInputError(
            None,
            f"{slide_id!r} does not start with a TCGA patient barcode",
            "use TCGA slide file names (TCGA-XX-XXXX-...)",
        )
    return match.group(0)


def _slide_file(slide_id: str) -> str:
    """Slide ids are accepted with or without ``.svs``; tables carry it."""
    return slide_id if slide_id.endswith(SLIDE_SUFFIX) else slide_id + SLIDE_SUFFIX


def survival_table_from_file(
    path: str | Path, slide_ids: Iterable[str], out_csv: str | Path
) -> SurvivalReport:
    """The rows of a study-format table for ``slide_ids``; slides it lacks are reported, not invented."""
    rows, missing = _rows_from_file(Path(path), [_slide_file(slide) for slide in slide_ids])
    return _write(out_csv, rows, {f"not in {Path(path).name}": missing} if missing else {})


def survival_table_from_gdc(
    project: str | Sequence[str],
    slide_ids: Iterable[str],
    api_url: str,
    out_csv: str | Path,
    token_file: str | Path | None = None,
    timeout_s: float = 60.0,
    page_size: int = 500,
) -> SurvivalReport:
    """Survival of every slide's patient from the GDC ``cases`` endpoint of ``project`` (one or more)."""
    projects = [project] if isinstance(project, str) else list(project)
    cases = fetch_cases(projects, api_url, token_file, timeout_s, page_size)
    rows, dropped = _rows_from_cases(cases, [_slide_file(slide) for slide in slide_ids])
    return _write(out_csv, rows, dropped)


def survival_table(dataset: TcgaDataset, slide_ids: Iterable[str], out_csv: str | Path) -> SurvivalReport:
    """The cohort's table as its config says: the given table, the GDC, or the table filled by the GDC."""
    slide_files = [_slide_file(slide) for slide in slide_ids]
    if dataset.survival_table is None:
        return survival_table_from_gdc(
            dataset.projects, slide_files, dataset.gdc_api, out_csv, dataset.token_file, dataset.timeout_s
        )
    rows, missing = _rows_from_file(dataset.survival_table, slide_files)
    dropped: dict[str, list[str]] = {}
    if missing and dataset.fill_missing_from_gdc:
        cases = fetch_cases(list(dataset.projects), dataset.gdc_api, dataset.token_file, dataset.timeout_s)
        gdc_rows, dropped = _rows_from_cases(cases, missing)
        rows = pd.concat([rows, gdc_rows], ignore_index=True)
    elif missing:
        dropped = {f"not in {dataset.survival_table.name}": missing}
    return _write(out_csv, rows, dropped)


def known_survival_rows(dataset: TcgaDataset, slide_ids: Iterable[str]) -> pd.DataFrame | None:
    """The rows :func:`survival_table` would write, in its order, where they need no GDC; else None.

    For the checks made while the DAG is built: they must see the table the clinical job will write.
    """
    if dataset.survival_table is None:
        return None
    rows, missing = _rows_from_file(dataset.survival_table, [_slide_file(slide) for slide in slide_ids])
    return None if missing and dataset.fill_missing_from_gdc else _written_order(rows)


def _written_order(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.dropna(axis="columns", how="all").sort_values("slide_id", ignore_index=True)


def _rows_from_file(path: Path, slide_files: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """Rows of ``slide_files`` from a study-format table, and the slides it does not cover.

    The study's COAD table puts the slide id in ``case_id``: the patient is taken from the barcode.
    """
    try:
        table = pd.read_csv(path)
    except (OSError, ValueError) as error:
        raise PipelineInputError(
            path, f"cannot read the survival table ({error})", "check dataset.survival_table"
        ) from error
    absent = [column for column in REQUIRED_COLUMNS if column not in table.columns]
    if absent:
        raise PipelineInputError(
            path, f"survival table lacks column(s) {absent}", f"provide {REQUIRED_COLUMNS}"
        )
    table = table[table["slide_id"].isin(slide_files)].copy()
    table["case_id"] = [tcga_case_id(slide) for slide in table["slide_id"]]
    _check_values(path, table)
    table["censorship"] = table["censorship"].astype(int)
    covered = set(table["slide_id"])
    columns = REQUIRED_COLUMNS + [column for column in OPTIONAL_COLUMNS if column in table.columns]
    return table[columns].reset_index(drop=True), [slide for slide in slide_files if slide not in covered]


def _check_values(path: Path, table: pd.DataFrame) -> None:
    months = pd.to_numeric(table["survival_months"], errors="coerce")
    bad_months = table.loc[~(months >= 0), "slide_id"].tolist()
    bad_censorship = table.loc[~table["censorship"].isin([0, 1]), "slide_id"].tolist()
    if bad_months or bad_censorship:
        raise PipelineInputError(
            path,
            f"survival_months missing or negative for {bad_months[:3]}, "
            f"censorship not 0/1 for {bad_censorship[:3]}",
            "fix those rows or remove them",
        )


def fetch_cases(
    projects: Sequence[str],
    api_url: str,
    token_file: str | Path | None = None,
    timeout_s: float = 60.0,
    page_size: int = 500,
) -> list[dict[str, Any]]:
    """All case records of ``projects`` with the survival fields, page by page."""
    session = gdc_session(token_file)
    query = {
        "filters": {"op": "in", "content": {"field": "project.project_id", "value": list(projects)}},
        "fields": ",".join(CASE_FIELDS),
        "format": "json",
        "size": page_size,
    }
    cases: list[dict[str, Any]] = []
    while True:
        payload = request_json(
            session,
            "POST",
            f"{api_url.rstrip('/')}/cases",
            timeout_s,
            what=f"the clinical data of {', '.join(projects)}",
            fix=OFFLINE_FIX,
            data=json.dumps({**query, "from": len(cases)}),
            headers={"Content-Type": "application/json"},
        )
        data = payload.get("data") or {}
        hits = data.get("hits") or []
        cases.extend(hits)
        total = int((data.get("pagination") or {}).get("total", len(cases)))
        if not hits or len(cases) >= total:
            return cases


def _rows_from_cases(
    cases: list[Mapping[str, Any]], slide_files: list[str]
) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """One row per slide whose patient has a usable follow-up; the others grouped by reason."""
    by_case = {str(case.get("submitter_id")): case for case in cases}
    rows, dropped = [], {}
    for slide in slide_files:
        case_id = tcga_case_id(slide)
        case = by_case.get(case_id)
        outcome = "case not found at the GDC" if case is None else case_outcome(case)
        if isinstance(outcome, str):
            dropped.setdefault(outcome, []).append(slide)
            continue
        rows.append({"case_id": case_id, "slide_id": slide, **outcome})
    return pd.DataFrame(rows, columns=REQUIRED_COLUMNS + OPTIONAL_COLUMNS), dropped


def case_outcome(case: Mapping[str, Any]) -> dict[str, Any] | str:
    """Months, censorship and covariates of one GDC case, or the reason it cannot be used.

    Dead patients count from ``days_to_death``; the others are censored at their latest follow-up
    (``diagnoses.days_to_last_follow_up`` or ``follow_ups.days_to_follow_up``, the later one).
    """
    demographic = case.get("demographic") or {}
    diagnoses = case.get("diagnoses") or []
    vital_status = str(demographic.get("vital_status") or "").lower()
    if vital_status == "dead":
        days, censorship = _number(demographic.get("days_to_death")), 0
        if days is None:
            return "dead without days_to_death"
    else:
        follow_ups = [item.get("days_to_last_follow_up") for item in diagnoses]
        follow_ups += [item.get("days_to_follow_up") for item in case.get("follow_ups") or []]
        days, censorship = _latest(follow_ups), 1
        if days is None:
            return "no follow-up"
    if days < 0:
        return "negative follow-up time"
    return {
        "survival_months": round(days / DAYS_PER_MONTH, 2),
        "censorship": censorship,
        "age": _age_years(demographic, diagnoses),
        "is_female": {"female": 1, "male": 0}.get(str(demographic.get("gender") or "").lower()),
        "site": tcga_case_id(str(case["submitter_id"])).split("-")[1],
    }


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _latest(values: Iterable[Any]) -> float | None:
    numbers = [number for number in map(_number, values) if number is not None]
    return max(numbers) if numbers else None


def _age_years(demographic: Mapping[str, Any], diagnoses: Sequence[Mapping[str, Any]]) -> float | None:
    """``age_at_index`` is in years; ``age_at_diagnosis`` (the fallback) is in days."""
    age = _number(demographic.get("age_at_index"))
    if age is not None:
        return age
    days = _latest(item.get("age_at_diagnosis") for item in diagnoses)
    return None if days is None else math.floor(days / 365.25)


def _write(out_csv: str | Path, rows: pd.DataFrame, dropped: dict[str, list[str]]) -> SurvivalReport:
    out_csv = Path(out_csv)
    if rows.empty:
        reasons = {reason: len(ids) for reason, ids in dropped.items()}
        raise PipelineInputError(
            out_csv,
            f"no slide has usable survival data (dropped: {reasons})",
            "check the manifest against dataset.survival_table or the GDC project",
        )
    rows = _written_order(rows)
    write_csv(out_csv, rows)
    report = SurvivalReport(out_csv, len(rows), dropped)
    LOGGER.info(report.summary())
    return report
