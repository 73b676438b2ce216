"""The ``source`` config section of a TCGA cohort (config/cohorts/tcga_*.yaml), checked once.

A typo in a cohort overlay (``survival_tabel``) would otherwise silently fall back to the GDC and
fail hours later offline; checking the section at the edge makes it fail at the start instead.

The section mixes what a job makes with how the GDC is reached. Only the first may rerun a job, so the
rules take it as params (:meth:`TcgaSource.manifest_row` for a download, :meth:`TcgaSource.table_choices`
for the survival table) and their scripts read the rest from the run's config (see
:mod:`crossfusion_core.tcga.fetch`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.tcga.manifest import SLIDE_SUFFIX, slides_by_id

PROJECT_PATTERN = re.compile(r"TCGA-[A-Z]+")


def _source_error(problem: str, fix: str) -> PipelineInputError:
    """No file is named: the workflow's config checks name the overlay that set the key."""
    return PipelineInputError(None, f"config section `source`: {problem}", fix)


@dataclasses.dataclass(frozen=True)
class TcgaSource:
    """Where a TCGA cohort's slides and clinical data come from.

    ``projects`` holds one GDC project, or two for the merged cohorts (COADREAD, GBMLGG).
    ``fill_missing_from_gdc`` decides what happens to slides the survival table does not cover: taken
    from the GDC cases endpoint (COADREAD: the table covers only COAD) or left out (the study's choice).
    """

    projects: tuple[str, ...]
    manifest: Path
    data_dir: Path
    splits_dir: Path | None = None
    survival_table: Path | None = None
    fill_missing_from_gdc: bool = False
    gdc_api: str = "https://api.gdc.cancer.gov"
    token_file: Path | None = None
    slide_pattern: str = "-DX"
    retries: int = 5
    backoff_s: float = 2.0
    timeout_s: float = 60.0

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> TcgaSource:
        """Build from ``config["source"]``; unknown keys and wrong values fail with the key's name."""
        values = dict(mapping)
        if values.pop("kind", "tcga") != "tcga":
            raise _source_error("kind is not 'tcga'", "use TcgaSource only for source.kind: tcga")
        known = {item.name for item in dataclasses.fields(cls)} - {"projects"} | {"project"}
        unknown = sorted(set(values) - known)
        if unknown:
            raise _source_error(f"unknown key(s) {unknown}", f"use only kind and {sorted(known)}")
        for key in ("project", "manifest", "data_dir"):
            if not values.get(key):
                raise _source_error(f"{key} is missing", "see config/cohorts/tcga_blca.yaml for an example")
        source = cls(
            projects=_projects(values.pop("project")),
            manifest=Path(values.pop("manifest")),
            data_dir=Path(values.pop("data_dir")),
            splits_dir=_optional_path(values.pop("splits_dir", None)),
            survival_table=_optional_path(values.pop("survival_table", None)),
            token_file=_optional_path(values.pop("token_file", None)),
            **values,
        )
        source.check()
        return source

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

    def check(self) -> None:
        """Values that would only fail deep inside a download or a clinical query."""
        if not self.gdc_api.startswith(("http://", "https://")):
            raise _source_error(
                f"gdc_api {self.gdc_api!r} is not an http(s) URL", "use https://api.gdc.cancer.gov"
            )
        if not isinstance(self.retries, int) or self.retries < 0:
            raise _source_error(f"retries={self.retries!r} must be a whole number >= 0", "set retries: 5")
        if not self.backoff_s >= 0 or not self.timeout_s > 0:
            raise _source_error(
                "backoff_s must be >= 0 and timeout_s > 0", "set backoff_s: 2.0, timeout_s: 60"
            )
        if not self.slide_pattern:
            raise _source_error("slide_pattern is empty", 'use "-DX" for diagnostic slides')
        if not isinstance(self.fill_missing_from_gdc, bool):
            raise _source_error("fill_missing_from_gdc must be true or false", "set it to false")


def _projects(value: str | list[str]) -> tuple[str, ...]:
    projects = (value,) if isinstance(value, str) else tuple(value)
    bad = [project for project in projects if not PROJECT_PATTERN.fullmatch(str(project))]
    if not projects or bad:
        raise _source_error(
            f"project {value!r} is not a GDC project id", "use e.g. TCGA-BLCA or [TCGA-GBM, TCGA-LGG]"
        )
    return projects


def _optional_path(value: str | None) -> Path | None:
    return None if value in (None, "") else Path(value)
