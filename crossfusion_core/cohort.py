"""Which slides a run covers and where each one's file is, decided from the config alone.

The workflow calls this while it builds its DAG, so it never opens a slide or touches the network.
Each dataset gives its own mapping from slide id to file: synthetic slides are planned from the
`synthetic` section and written by the workflow, TCGA ones come from the (committed) GDC manifest,
narrowed to the slides of the survival table when the study's table is the only clinical source (a
slide without survival data would be downloaded, segmented and featurised for nothing), and local ones
from the user's slide sheet, checked against the clinical table.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar

import pandas as pd
from pydantic import AfterValidator, ConfigDict, Field, model_validator

from crossfusion_core.local.dataset import LocalDataset
from crossfusion_core.settings import ConfigProblem, Names, PositiveCount, Settings
from crossfusion_core.synthetic.dataset import SYNTHETIC_SLIDE_SUFFIX, SyntheticDataset
from crossfusion_core.synthetic.settings import SyntheticSettings
from crossfusion_core.tcga.dataset import TcgaDataset

CohortDataset = Annotated[SyntheticDataset | TcgaDataset | LocalDataset, Field(discriminator="kind")]
"""The ``dataset`` section: its ``kind`` (generated, the GDC, or your own slide sheet) picks its keys."""


def _positive_mpp(mpp: float) -> float:
    """An mpp of 0, below 0 or not finite would only fail when the slide is read, deep inside a job."""
    if not (math.isfinite(mpp) and mpp > 0):
        raise ConfigProblem(
            f"{mpp!r} is not a positive mpp", "give level-0 microns per pixel, e.g. 0.25 for a 40x scan"
        )
    return mpp


class SlideSettings(Settings):
    """The `slides` config section: per-slide corrections, by slide id.

    ``mpp_override``: level-0 microns per pixel of slides whose header lacks it or is wrong (it wins
    over a local sheet's ``mpp`` column); ``exclude``: slides left out of the whole run (a damaged scan);
    ``batches``: how many jobs each per-slide stage is split into (see :mod:`crossfusion_core.slide_batches`).
    """

    # Slide ids such as 1234 are numbers to YAML.
    model_config = ConfigDict(coerce_numbers_to_str=True)
    section: ClassVar[str] = "slides"
    mpp_override: dict[str, Annotated[float, AfterValidator(_positive_mpp)]] = Field(default_factory=dict)
    exclude: Names = ()
    batches: PositiveCount = 8

    @model_validator(mode="before")
    @classmethod
    def _blank_is_default(cls, values: Any) -> Any:
        """``exclude:`` with nothing after it (YAML's null) means no slide, as leaving the key out does."""
        if isinstance(values, dict):
            return {key: value for key, value in values.items() if value is not None}
        return values


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
    """The slides a dataset lists (before ``slides.exclude``) and the file that lists them."""

    slides: tuple[CohortSlide, ...]
    listed_in: str


def cohort(dataset: CohortDataset, synthetic: SyntheticSettings, synthetic_dir: str | Path) -> Cohort:
    """The cohort of ``dataset``; synthetic slides are placed in ``synthetic_dir``."""
    if isinstance(dataset, SyntheticDataset):
        return _synthetic_cohort(synthetic, Path(synthetic_dir))
    if isinstance(dataset, LocalDataset):
        return _local_cohort(dataset)
    return _tcga_cohort(dataset)


def cohort_slide_ids(
    dataset: CohortDataset, synthetic: SyntheticSettings, exclude: Iterable[str] = ()
) -> list[str]:
    """Slide ids of the cohort, in a stable order, without the excluded ones."""
    excluded = set(exclude)
    return [s.slide_id for s in cohort(dataset, synthetic, ".").slides if s.slide_id not in excluded]


def _synthetic_cohort(synthetic: SyntheticSettings, slide_dir: Path) -> Cohort:
    from crossfusion_core.synthetic.cohort import cohort_plan

    plan = cohort_plan(synthetic)
    slides = tuple(
        CohortSlide(s.slide_id, slide_dir / f"{s.slide_id}{SYNTHETIC_SLIDE_SUFFIX}", s.case_id) for s in plan
    )
    return Cohort(slides, "the synthetic cohort plan (config section `synthetic`)")


def _local_cohort(local: LocalDataset) -> Cohort:
    from crossfusion_core.local.clinical import check_cohort, read_clinical_table
    from crossfusion_core.local.sheet import read_slide_sheet

    sheet = read_slide_sheet(local.slide_sheet)
    if local.clinical_table is not None:
        clinical = read_clinical_table(local.clinical_table)
        check_cohort(sheet, clinical, local.slide_sheet, local.clinical_table)
    slides = tuple(CohortSlide(s.slide_id, s.path, s.case_id, s.mpp) for s in sheet)
    return Cohort(slides, str(local.slide_sheet))


def _tcga_cohort(tcga: TcgaDataset) -> Cohort:
    from crossfusion_core.tcga.manifest import slides_by_id

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
