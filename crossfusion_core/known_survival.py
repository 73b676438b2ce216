"""The cohort's survival table as far as it is known while the DAG is built, before any job runs.

The clinical job writes ``results/{cohort}/clinical/survival.csv``, which the dry run cannot read, but
for most cohorts the same rows are already determined: the synthetic table is a pure function of the
``synthetic`` section, a local cohort's rows come from its slide sheet and clinical table, and a TCGA
cohort whose study table covers its slides needs no GDC. The rows come in the order the job writes
them, because the stratified folds drawn from them depend on it (a shuffled KFold). Only a TCGA table
built, or filled, from the GDC cases endpoint is unknown (None) until its job has run.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from crossfusion_core.cohort import CohortDataset
from crossfusion_core.data.clinical import slide_stem
from crossfusion_core.local.dataset import LocalDataset
from crossfusion_core.synthetic.dataset import SyntheticDataset
from crossfusion_core.synthetic.settings import SyntheticSettings


def known_survival_rows(
    dataset: CohortDataset, synthetic: SyntheticSettings, slide_ids: Sequence[str]
) -> pd.DataFrame | None:
    """The survival rows (``case_id, slide_id, survival_months, censorship``) of the run's slides."""
    if isinstance(dataset, SyntheticDataset):
        return _synthetic_rows(synthetic, slide_ids)
    if isinstance(dataset, LocalDataset):
        return _local_rows(dataset, slide_ids)
    from crossfusion_core.tcga.clinical import known_survival_rows as tcga_rows

    return tcga_rows(dataset, slide_ids)


def _synthetic_rows(synthetic: SyntheticSettings, slide_ids: Sequence[str]) -> pd.DataFrame:
    """As the synthetic clinical job narrows the whole plan's table to the run's slides."""
    from crossfusion_core.synthetic.clinical import survival_table

    table = survival_table(synthetic)
    return table[table["slide_id"].map(slide_stem).isin(set(slide_ids))].reset_index(drop=True)


def _local_rows(local: LocalDataset, slide_ids: Sequence[str]) -> pd.DataFrame:
    from crossfusion_core.local.clinical import local_survival_table, read_clinical_table
    from crossfusion_core.local.sheet import read_slide_sheet

    return local_survival_table(
        read_slide_sheet(local.slide_sheet), read_clinical_table(local.clinical_table), slide_ids
    )
