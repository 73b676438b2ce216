"""Which slides a run covers and where each one's file is, decided from the config alone.

The workflow calls this while it builds its DAG, so it never opens a slide or touches the network.
Each source gives its own mapping from slide id to file: synthetic slides are planned from the
`synthetic` section and written by the workflow, TCGA ones come from the (committed) GDC manifest,
narrowed to the slides of the survival table when the study's table is the only clinical source (a
slide without survival data would be downloaded, segmented and featurised for nothing), and local ones
from the user's slide sheet, checked against the clinical table.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from crossfusion_core.settings import require, section_values

SOURCE_KINDS = ("synthetic", "tcga", "local")
"""Where a cohort's slides come from: generated, the GDC, or your own slide sheet."""
SYNTHETIC_SLIDE_SUFFIX = ".svs"
"""The synthetic writer makes Aperio SVS files."""


@dataclass(frozen=True)
class SlideSettings:
    """The `slides` config section: per-slide corrections, by slide id.

    ``mpp_override``: level-0 microns per pixel of slides whose header lacks it or is wrong (it wins
    over a local sheet's ``mpp`` column); ``exclude``: slides left out of the whole run (a damaged scan);
    ``batches``: how many jobs each per-slide stage is split into (see :mod:`crossfusion_core.slide_batches`).
    """

    mpp_override: Mapping[str, float] = field(default_factory=dict)
    exclude: tuple[str, ...] = ()
    batches: int = 8

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None) -> SlideSettings:
        mapping = {key: value for key, value in dict(mapping or {}).items() if value is not None}
        values = section_values(mapping, cls, "slides")
        overrides = {
            str(slide): _mpp(slide, mpp) for slide, mpp in dict(values.get("mpp_override", {})).items()
        }
        settings = cls(overrides, values.get("exclude", ()), values.get("batches", cls.batches))
        require(settings.batches >= 1, "slides", f"batches={settings.batches}", "use a count >= 1")
        return settings


def _mpp(slide_id: str, value: Any) -> float:
    try:
        mpp = float(value)
    except (TypeError, ValueError):
        mpp = math.nan
    require(
        math.isfinite(mpp) and mpp > 0,
        "slides",
        f"mpp_override of {slide_id} is {value!r}, not a positive mpp",
        "give level-0 microns per pixel, e.g. 0.25 for a 40x scan",
    )
    return mpp


@dataclass(frozen=True)
class CohortSlide:
    """One slide of the cohort: its id (the ``slide`` wildcard), its file, its patient where known
    before any job runs, and a level-0 mpp given with the slide list (a local sheet's ``mpp`` column)."""

    slide_id: str
    path: Path
    case_id: str | None
    mpp: float | None = None


@dataclass(frozen=True)
class Cohort:
    """The slides a source lists (before ``slides.exclude``) and the file that lists them."""

    slides: tuple[CohortSlide, ...]
    listed_in: str


def cohort(source: Mapping[str, Any], synthetic: Mapping[str, Any], synthetic_dir: str | Path) -> Cohort:
    """The cohort of ``source``; synthetic slides are placed in ``synthetic_dir``."""
    kind = source["kind"]
    require(kind in SOURCE_KINDS, "source", f"kind={kind!r}", f"use one of {list(SOURCE_KINDS)}")
    if kind == "synthetic":
        extra = sorted(set(source) - {"kind", "splits_dir"})
        require(not extra, "source", f"keys {extra} do not apply to kind synthetic", "remove them")
        return _synthetic_cohort(synthetic, Path(synthetic_dir))
    if kind == "local":
        return _local_cohort(source)
    return _tcga_cohort(source)


def cohort_slide_ids(
    source: Mapping[str, Any], synthetic: Mapping[str, Any], exclude: Iterable[str] = ()
) -> list[str]:
    """Slide ids of the cohort, in a stable order, without the excluded ones."""
    excluded = set(exclude)
    return [s.slide_id for s in cohort(source, synthetic, ".").slides if s.slide_id not in excluded]


def _synthetic_cohort(synthetic: Mapping[str, Any], slide_dir: Path) -> Cohort:
    from crossfusion_core.synthetic.cohort import cohort_plan
    from crossfusion_core.synthetic.settings import SyntheticSettings

    plan = cohort_plan(SyntheticSettings.from_mapping(synthetic))
    slides = tuple(
        CohortSlide(s.slide_id, slide_dir / f"{s.slide_id}{SYNTHETIC_SLIDE_SUFFIX}", s.case_id) for s in plan
    )
    return Cohort(slides, "the synthetic cohort plan (config section `synthetic`)")


def _local_cohort(source: Mapping[str, Any]) -> Cohort:
    from crossfusion_core.local.clinical import check_cohort, read_clinical_table
    from crossfusion_core.local.sheet import read_slide_sheet
    from crossfusion_core.local.source import LocalSource

    local = LocalSource.from_mapping(source)
    sheet = read_slide_sheet(local.slide_sheet)
    if local.clinical_table is not None:
        clinical = read_clinical_table(local.clinical_table)
        check_cohort(sheet, clinical, local.slide_sheet, local.clinical_table)
    slides = tuple(CohortSlide(s.slide_id, s.path, s.case_id, s.mpp) for s in sheet)
    return Cohort(slides, str(local.slide_sheet))


def _tcga_cohort(source: Mapping[str, Any]) -> Cohort:
    from crossfusion_core.tcga.manifest import slides_by_id
    from crossfusion_core.tcga.source import TcgaSource

    tcga = TcgaSource.from_mapping(source)
    items = sorted(slides_by_id(tcga.manifest, tcga.slide_pattern).values(), key=lambda item: item.slide_id)
    case_of: Mapping[str, str | None] = {}
    if tcga.survival_table is not None and not tcga.fill_missing_from_gdc:
        case_of = _tcga_table_cases(tcga.survival_table)
        items = [item for item in items if item.slide_id in case_of]
    slides = tuple(
        CohortSlide(item.slide_id, tcga.data_dir / item.filename, case_of.get(item.slide_id))
        for item in items
    )
    return Cohort(slides, str(tcga.manifest))


def _tcga_table_cases(survival_table: Path) -> dict[str, str]:
    """Slide id -> case id of a study-format table (whose slide ids carry the file suffix)."""
    from crossfusion_core.data.clinical import slide_stem

    table = pd.read_csv(survival_table, usecols=["case_id", "slide_id"], dtype=str)
    return dict(zip(table["slide_id"].map(slide_stem), table["case_id"], strict=True))
