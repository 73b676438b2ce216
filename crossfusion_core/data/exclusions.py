"""Patients left out of training because no slide of theirs gives a bag at every scale.

A patient is trained on and scored from the bags of its slides; a slide without a patch at some scale
adds nothing, and a patient left with no such slide cannot be scored at all. Rather than fail every
train job, the run leaves these patients out before the folds are made, warns, and lists them with the
reason in ``qc/excluded.csv`` (shown in the report as ``qc/excluded.html``). A patient keeps its place
as long as one slide is usable; its empty slides are skipped by :mod:`crossfusion_core.data.bags`.

The list is decided once per cohort, from the tissue masks and patch grids: bag sizes are set by the
patch grid, which every backbone's features follow row for row (imported CLAM/TRIDENT features are
checked against it), so the list is the same for every backbone, adding a backbone changes no fold, and
the list changes only when masks or grids change, which is when the features change too. Patients
whose every slide is in ``slides.exclude`` are listed as well: the survival table never sees them.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import h5py
import pandas as pd

from crossfusion_core.data.clinical import load_patients
from crossfusion_core.errors import PipelineInputError
from crossfusion_core.io import write_csv, write_text

LOGGER = logging.getLogger(__name__)

REASONS = {
    "no_tissue": "segmentation found no tissue on the slide (a blank or all-glass scan?)",
    "tissue_too_small": "tissue too small for a single 10x patch (see patching.min_tissue_fraction)",
    "excluded_in_config": "the slide is listed in slides.exclude",
}
"""Why a slide gives no bag, by the code written in the ``reason`` column."""
COLUMNS = ("case_id", "slide_id", "reason", "explanation")
"""One row per slide of each left-out patient."""


def slide_exclusion_reason(tissue_h5: str | Path, patches_h5: str | Path) -> str | None:
    """Why the slide gives no bag at some scale (a key of :data:`REASONS`), or None if it is usable.

    Only attributes and dataset shapes are read, so the whole cohort is checked in seconds.
    """
    with _opened(tissue_h5, "tissue mask") as tissue:
        if "empty" not in tissue.attrs:
            raise PipelineInputError(
                tissue_h5, "tissue mask lacks its 'empty' attribute", "rerun segmentation"
            )
        if bool(tissue.attrs["empty"]):
            return "no_tissue"
    with _opened(patches_h5, "patches file") as patches:
        sizes = [
            len(group["coords"])
            for group in patches.values()
            if isinstance(group, h5py.Group) and "coords" in group
        ]
    if not sizes:
        raise PipelineInputError(patches_h5, "patches file has no scale group with coords", "rerun patching")
    return "tissue_too_small" if min(sizes) == 0 else None


def _opened(path: str | Path, what: str) -> h5py.File:
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise PipelineInputError(
            path, f"{what} cannot be read ({exc})", "rerun the step that writes it"
        ) from exc


def excluded_patients(
    patients: pd.DataFrame,
    slide_reasons: Mapping[str, str | None],
    config_excluded: Mapping[str, str | None],
) -> pd.DataFrame:
    """The :data:`COLUMNS` table of the patients none of whose slides is usable.

    ``patients`` is :func:`~crossfusion_core.data.clinical.patient_table` of the run's survival table,
    ``slide_reasons`` maps each of its slides to :func:`slide_exclusion_reason`, and ``config_excluded``
    maps each slide of ``slides.exclude`` to its patient (None where only the clinical job knows it:
    such a slide is logged, not listed). Patients come in survival-table order, then those the config
    excluded wholly; a left-out patient's config-excluded slides are listed with its other slides.
    """
    excluded_by_case: dict[str, list[str]] = {}
    for slide_id, case_id in config_excluded.items():
        if case_id is None:
            LOGGER.info("slide %s is excluded in the config; its patient is not known here", slide_id)
        else:
            excluded_by_case.setdefault(case_id, []).append(slide_id)
    rows = []
    for row in patients.itertuples(index=False):
        reasons = {slide_id: slide_reasons[slide_id] for slide_id in row.slide_ids}
        if not all(reasons.values()):
            for slide_id, reason in reasons.items():
                if reason is not None:
                    LOGGER.warning(
                        "patient %s stays, without slide %s: %s", row.case_id, slide_id, REASONS[reason]
                    )
            continue
        rows += [(row.case_id, slide_id, reason) for slide_id, reason in reasons.items()]
        rows += [
            (row.case_id, slide_id, "excluded_in_config")
            for slide_id in excluded_by_case.get(row.case_id, [])
        ]
    in_table = set(patients["case_id"])
    for case_id, slide_ids in excluded_by_case.items():
        if case_id not in in_table:
            rows += [(case_id, slide_id, "excluded_in_config") for slide_id in slide_ids]
    table = pd.DataFrame(rows, columns=list(COLUMNS[:3]))
    return table.assign(explanation=table["reason"].map(REASONS))


def write_excluded_patients(
    survival_csv: str | Path,
    tissue_files: Sequence[str | Path],
    patch_files: Sequence[str | Path],
    config_excluded: Mapping[str, str | None],
    out_csv: str | Path,
    out_html: str | Path,
) -> pd.DataFrame:
    """Decide which patients are left out, warn about each, and write the CSV and its report page.

    ``tissue_files`` and ``patch_files`` are the masks and patch grids of the run's slides, named
    ``{slide_id}.h5`` as the file contract has them.
    """
    patients = load_patients(survival_csv)
    tissue, patches = _by_slide(tissue_files), _by_slide(patch_files)
    slide_ids = [slide_id for slide_ids in patients["slide_ids"] for slide_id in slide_ids]
    missing = [slide_id for slide_id in slide_ids if slide_id not in tissue or slide_id not in patches]
    if missing:
        raise PipelineInputError(
            survival_csv,
            f"slide(s) {missing[:10]} have no tissue mask or patches file among this job's inputs",
            "run the workflow again: the survival table and the run's slides disagree",
        )
    reasons = {
        slide_id: slide_exclusion_reason(tissue[slide_id], patches[slide_id]) for slide_id in slide_ids
    }
    table = excluded_patients(patients, reasons, config_excluded)
    for case_id, slides in table.groupby("case_id", sort=False):
        LOGGER.warning(
            "leaving patient %s out of training and evaluation: %s",
            case_id,
            "; ".join(f"{s.slide_id}: {s.explanation}" for s in slides.itertuples()),
        )
    n_patients = len(set(patients["case_id"]) | set(table["case_id"]))
    write_csv(out_csv, table)
    write_text(out_html, exclusion_page(table, n_patients))
    return table


def _by_slide(paths: Sequence[str | Path]) -> dict[str, Path]:
    return {Path(path).stem: Path(path) for path in paths}


def read_excluded_cases(path: str | Path) -> frozenset[str]:
    """The patients listed in an ``excluded.csv`` written by :func:`write_excluded_patients`."""
    path = Path(path)
    if not path.is_file():
        raise PipelineInputError(path, "list of left-out patients does not exist", "run `excluded_patients`")
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [column for column in COLUMNS if column not in table.columns]
    if missing:
        raise PipelineInputError(
            path, f"lacks column(s) {', '.join(missing)}", "run `excluded_patients` again"
        )
    return frozenset(table["case_id"])


def exclusion_page(table: pd.DataFrame, n_patients: int) -> str:
    """A small self-contained HTML page with the table, for Snakemake's report (which shows HTML
    inline but offers a CSV only as a download)."""
    n_left_out = table["case_id"].nunique()
    if n_left_out:
        summary = (
            f"{n_left_out} of {n_patients} patients are left out of training and evaluation: none of "
            "their slides can be used. Their slides, and why each one cannot:"
        )
        body = table.to_html(index=False, border=0, classes="excluded")
    else:
        summary = (
            f"None of the {n_patients} patients is left out: each has a slide with patches at every scale."
        )
        body = ""
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>Patients left out</title>\n"
        "<style>body{font-family:sans-serif} table{border-collapse:collapse} "
        "td,th{padding:2px 10px;text-align:left;border-bottom:1px solid #ccc}</style></head>\n"
        f"<body><h3>Patients left out</h3><p>{html.escape(summary)}</p>\n{body}\n</body></html>\n"
    )
