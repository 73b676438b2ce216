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
    use instead of stratified folds drawn from ``training.split_seed``.
    """

    slide_sheet: Path
    clinical_table: Path
    splits_dir: Path | None = None

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> LocalSource:
        values = dict(mapping)
        require(values.pop("kind", KIND) == KIND, "source", "kind is not 'local'", "set source.kind: local")
        reject_unknown_keys(values, cls, "source")
        for key in ("slide_sheet", "clinical_table"):
            require(
                bool(values.get(key)), "source", f"{key} is missing", "see config/cohorts/local_example.yaml"
            )
        splits_dir = values.get("splits_dir")
        return cls(
            slide_sheet=Path(values["slide_sheet"]),
            clinical_table=Path(values["clinical_table"]),
            splits_dir=Path(splits_dir) if splits_dir else None,
        )
