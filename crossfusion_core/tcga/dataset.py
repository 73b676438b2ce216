"""The ``dataset`` config section of a TCGA cohort (config/cohorts/tcga_*.yaml), checked once.

A typo in a cohort overlay (``survival_tabel``) would otherwise silently fall back to the GDC and
fail hours later offline; checking the section at the edge makes it fail at the start instead.

The section mixes what a job makes with how the GDC is reached. Only the first may rerun a job, so the
rules take it as params (:meth:`TcgaDataset.manifest_row` for a download, :meth:`TcgaDataset.table_choices`
for the survival table) and their scripts read the rest from the run's config (see
:mod:`crossfusion_core.tcga.fetch`).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from crossfusion_core.settings import ConfigProblem, Count, GivenPath, Names, OptionalPath, Settings
from crossfusion_core.tcga.manifest import SLIDE_SUFFIX, slides_by_id

PROJECT_PATTERN = re.compile(r"TCGA-[A-Z]+")


class TcgaDataset(Settings):
    """Where a TCGA cohort's slides and clinical data come from.

    ``project`` holds one GDC project, or two for the merged cohorts (COADREAD, GBMLGG).
    ``fill_missing_from_gdc`` decides what happens to slides the survival table does not cover: taken
    from the GDC cases endpoint (COADREAD: the table covers only COAD) or left out (the study's choice).
    ``retries``, ``backoff_s`` and ``timeout_s`` shape each download: consecutive failed attempts
    without progress before giving up, the first wait between attempts (doubled each time), and the
    limit per connect or read.
    """

    section: ClassVar[str] = "dataset"
    kind: Literal["tcga"] = "tcga"
    project: Names
    manifest: GivenPath
    data_dir: GivenPath
    splits_dir: OptionalPath = None
    survival_table: OptionalPath = None
    fill_missing_from_gdc: bool = Field(False, strict=True)
    gdc_api: str = "https://api.gdc.cancer.gov"
    token_file: OptionalPath = None
    slide_pattern: str = "-DX"
    retries: Count = Field(5, ge=0)
    backoff_s: float = Field(2.0, ge=0, allow_inf_nan=False)
    timeout_s: float = Field(60.0, gt=0, allow_inf_nan=False)

    @field_validator("project")
    @classmethod
    def _gdc_projects(cls, projects: tuple[str, ...]) -> tuple[str, ...]:
        """A wrong project id would only fail at the GDC, in the clinical job."""
        bad = [project for project in projects if not PROJECT_PATTERN.fullmatch(project)]
        if not projects or bad:
            shown = bad[0] if bad else list(projects)
            raise ConfigProblem(
                f"{shown!r} is not a GDC project id", "use e.g. TCGA-BLCA or [TCGA-GBM, TCGA-LGG]"
            )
        return projects

    @field_validator("gdc_api")
    @classmethod
    def _http_url(cls, url: str) -> str:
        """Any other address would only fail in the first download."""
        if not url.startswith(("http://", "https://")):
            raise ConfigProblem(f"{url!r} is not an http(s) URL", "use https://api.gdc.cancer.gov")
        return url

    @field_validator("slide_pattern")
    @classmethod
    def _some_pattern(cls, pattern: str) -> str:
        """An empty pattern would keep every slide of the manifest, frozen sections included."""
        if not pattern:
            raise ConfigProblem("is empty", 'use "-DX" for diagnostic slides (frozen sections are -TS/-BS)')
        return pattern

    @property
    def projects(self) -> tuple[str, ...]:
        """The GDC projects the cohort's cases are asked from (``project`` as given, always a tuple)."""
        return self.project

    @property
    def has_survival(self) -> bool:
        """The study's table or the GDC gives every kept slide a survival time."""
        return True

    def manifest_row(self, slide_id: str) -> dict[str, Any]:
        """The slide's manifest row (file id, file name, md5, size): all that decides its download."""
        return dataclasses.asdict(slides_by_id(self.manifest, self.slide_pattern)[slide_id])

    def table_choices(self) -> dict[str, Any]:
        """What decides the survival table besides its slides: the projects asked at the GDC, the
        study's table and whether the GDC fills what the table lacks (not how the GDC is reached)."""
        table = None if self.survival_table is None else str(self.survival_table)
        return {"projects": list(self.projects), "survival_table": table, "fill": self.fill_missing_from_gdc}

    @property
    def slide_file_pattern(self) -> str:
        """Where the download of slide ``{slide}`` lands: ``data_dir`` / its manifest file name."""
        return str(self.data_dir / f"{{slide}}{SLIDE_SUFFIX}")
