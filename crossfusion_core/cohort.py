"""Which slides a run covers, decided from the config alone.

The workflow calls this while it builds its DAG, so it must never open a slide or touch the network:
synthetic slide ids come from the cohort plan, TCGA ones from the (committed) GDC manifest, narrowed
to the slides of the survival table when the study's table is the only clinical source (a slide
without survival data would be downloaded, segmented and featurised for nothing).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd


def cohort_slide_ids(
    source: Mapping[str, Any], synthetic: Mapping[str, Any], exclude: Iterable[str] = ()
) -> list[str]:
    """Slide ids of the cohort, in a stable order, without the excluded ones."""
    excluded = set(exclude)
    return [slide_id for slide_id in _all_slide_ids(source, synthetic) if slide_id not in excluded]


def _all_slide_ids(source: Mapping[str, Any], synthetic: Mapping[str, Any]) -> list[str]:
    if source["kind"] == "synthetic":
        from crossfusion_core.synthetic.cohort import cohort_plan
        from crossfusion_core.synthetic.settings import SyntheticSettings

        return [slide.slide_id for slide in cohort_plan(SyntheticSettings.from_mapping(synthetic))]
    return _tcga_slide_ids(source)


def _tcga_slide_ids(source: Mapping[str, Any]) -> list[str]:
    from crossfusion_core.tcga.manifest import slide_ids_from_manifest
    from crossfusion_core.tcga.source import TcgaSource

    tcga = TcgaSource.from_mapping(source)
    slide_ids = slide_ids_from_manifest(tcga.manifest, tcga.slide_pattern)
    if tcga.survival_table is None or tcga.fill_missing_from_gdc:
        return slide_ids
    with_survival = set(
        pd.read_csv(tcga.survival_table, usecols=["slide_id"])["slide_id"].str.removesuffix(".svs")
    )
    return [slide_id for slide_id in slide_ids if slide_id in with_survival]
