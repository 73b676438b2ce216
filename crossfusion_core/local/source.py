"""The ``source`` config section of a local cohort (see config/cohorts/local_example.yaml)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crossfusion_core.settings import reject_unknown_keys, require

KIND = "local"


@dataclass(frozen=True)
class LocalSource:
    """Where a local cohort's slides and clinical data are listed; paths are relative to the run folder.

    ``splits_dir``: optional folder of fold files (``splits_{k}.csv``, the original study's format) to
    use instead of stratified folds drawn from ``training.split_seed``. ``clinical_table`` is None for
    slides without survival, which only a deployment target may be (the config checks say so).
    """

    slide_sheet: Path
    clinical_table: Path | None = None
    splits_dir: Path | None = None

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> LocalSource:
        values = dict(mapping)
        require(values.pop("kind", KIND) == KIND, "source", "kind is not 'local'", "set source.kind: local")
        reject_unknown_keys(values, cls, "source")
        require(
            bool(values.get("slide_sheet")),
            "source",
            "slide_sheet is missing",
            "see config/cohorts/local_example.yaml",
        )
        clinical_table, splits_dir = values.get("clinical_table"), values.get("splits_dir")
        return cls(
            slide_sheet=Path(values["slide_sheet"]),
            clinical_table=Path(clinical_table) if clinical_table else None,
            splits_dir=Path(splits_dir) if splits_dir else None,
        )
