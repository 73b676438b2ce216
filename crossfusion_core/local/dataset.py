"""The ``dataset`` config section of a local cohort (see config/cohorts/local_example.yaml)."""

from __future__ import annotations

from typing import ClassVar, Literal

from crossfusion_core.settings import GivenPath, OptionalPath, Settings


class LocalDataset(Settings):
    """Where a local cohort's slides and clinical data are listed; paths are relative to the run folder.

    ``splits_dir``: optional folder of fold files (``splits_{k}.csv``, the original study's format) to
    use instead of stratified folds drawn from ``training.split_seed``. ``clinical_table`` is None for
    slides without survival, which only a deployment target may be (the config checks say so).
    """

    section: ClassVar[str] = "dataset"
    kind: Literal["local"] = "local"
    slide_sheet: GivenPath
    clinical_table: OptionalPath = None
    splits_dir: OptionalPath = None

    @property
    def has_survival(self) -> bool:
        """Whether the cohort can be trained and scored: its patients' survival is in a clinical table."""
        return self.clinical_table is not None
