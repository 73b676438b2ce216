"""The slide sheet of a local cohort: ``slide_id, case_id, path`` (optional ``mpp``), one row per slide.

A slide id is a name, not a file name: it names every result of the slide (``patches/{slide}.h5``) and
maps to the slide's file only through the sheet, so a cohort may mix SVS, pyramidal TIFF, NDPI, MRXS,
SCN, ... files in any folder layout. Relative paths are taken from the sheet's own folder, so a sheet
and its slides can move together.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.local.tables import TableRow, duplicated_groups, named_lines, read_rows

REQUIRED_COLUMNS = ("slide_id", "case_id", "path")
SLIDE_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")
"""Slide ids become file names and path wildcards: no separators, spaces or ``;`` (it joins ids)."""
SLIDE_FILE_SUFFIXES = (".svs", ".tif", ".tiff", ".ndpi", ".mrxs", ".scn", ".vms", ".vmu", ".bif", ".svslide")
"""Formats OpenSlide reads; an id ending like this is a file name given where a name is meant."""
SHEET_FIX = "check dataset.slide_sheet in your cohort config"


@dataclass(frozen=True)
class LocalSlide:
    """One row of the sheet: the slide's id, its patient, its file and, where given, its level-0 mpp."""

    slide_id: str
    case_id: str
    path: Path
    mpp: float | None
    line: int


def read_slide_sheet(sheet_path: str | Path) -> tuple[LocalSlide, ...]:
    """Every slide of the sheet, checked: ids, paths, mpp, duplicates and that each file exists."""
    sheet_path = Path(sheet_path)
    rows = read_rows(sheet_path, REQUIRED_COLUMNS, "slide sheet", SHEET_FIX)
    slides = tuple(_slide(sheet_path, row) for row in rows)
    _refuse_duplicates(sheet_path, rows, slides)
    _refuse_missing_files(sheet_path, slides)
    return slides


def _slide(sheet_path: Path, row: TableRow) -> LocalSlide:
    where = f"line {row.line}"
    for column in REQUIRED_COLUMNS:
        if not row.cells.get(column):
            raise PipelineInputError(sheet_path, f"{where}: empty {column}", f"give every slide a {column}")
    slide_id = row.cells["slide_id"]
    if not SLIDE_ID_PATTERN.fullmatch(slide_id):
        raise PipelineInputError(
            sheet_path,
            f"{where}: slide_id {slide_id!r} is not a plain name",
            "use letters, digits and . _ + - only (it names the slide's result files)",
        )
    if slide_id.lower().endswith(SLIDE_FILE_SUFFIXES):
        raise PipelineInputError(
            sheet_path,
            f"{where}: slide_id {slide_id!r} looks like a file name",
            f"give the file in the path column and a name as slide_id (e.g. {Path(slide_id).stem!r})",
        )
    return LocalSlide(
        slide_id=slide_id,
        case_id=row.cells["case_id"],
        path=_slide_file(sheet_path, row.cells["path"]),
        mpp=_mpp(sheet_path, row),
        line=row.line,
    )


def _slide_file(sheet_path: Path, value: str) -> Path:
    """The path as written if absolute, else relative to the sheet's folder (normalised, not resolved)."""
    path = Path(os.path.expanduser(value))
    return path if path.is_absolute() else Path(os.path.normpath(sheet_path.parent / path))


def _mpp(sheet_path: Path, row: TableRow) -> float | None:
    value = row.cells.get("mpp", "")
    if not value:
        return None
    try:
        mpp = float(value)
    except ValueError:
        mpp = math.nan
    if not (math.isfinite(mpp) and mpp > 0):
        raise PipelineInputError(
            sheet_path,
            f"line {row.line}: mpp {value!r} is not a positive number of microns per pixel",
            "give the level-0 mpp (e.g. 0.25 for a 40x scan) or leave the cell empty to use the header",
        )
    return mpp


def _refuse_duplicates(sheet_path: Path, rows: Sequence[TableRow], slides: Sequence[LocalSlide]) -> None:
    for group in duplicated_groups(rows, "slide_id"):
        raise PipelineInputError(
            sheet_path,
            f"slide_id {group[0].cells['slide_id']!r} is listed on {named_lines(group)}",
            "give each slide its own slide_id",
        )
    by_file: dict[Path, list[LocalSlide]] = {}
    for slide in slides:
        by_file.setdefault(slide.path, []).append(slide)
    for same_file in (group for group in by_file.values() if len(group) > 1):
        lines = ", ".join(f"line {slide.line} ({slide.slide_id})" for slide in same_file)
        raise PipelineInputError(
            sheet_path,
            f"one file, {same_file[0].path}, is listed for several slides: {lines}",
            "list each slide file once",
        )


def _refuse_missing_files(sheet_path: Path, slides: Sequence[LocalSlide]) -> None:
    missing = [slide for slide in slides if not slide.path.is_file()]
    if missing:
        shown = "; ".join(f"line {slide.line} ({slide.slide_id}): {slide.path}" for slide in missing[:10])
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        raise PipelineInputError(
            sheet_path,
            f"{len(missing)} slide file(s) do not exist: {shown}{more}",
            "correct the path column (relative paths start at the sheet's folder)",
        )
