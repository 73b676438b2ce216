"""Which slides a run covers, decided from the config alone.

The workflow calls this while it builds its DAG, so it must never open a slide or touch the network:
synthetic slide ids come from the cohort plan, TCGA ones from the (committed) GDC manifest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any


def cohort_slide_ids(
    source: Mapping[str, Any], synthetic: Mapping[str, Any], exclude: Iterable[str] = ()
) -> list[str]:
    """Slide ids of the cohort, in a stable order, without the excluded ones."""
    excluded = set(exclude)
    return [slide_id for slide_id in _all_slide_ids(source, synthetic) if slide_id not in excluded]


def _all_slide_ids(source: Mapping[str, Any], synthetic: Mapping[str, Any]) -> list[str]:
    if source["kind"] == "synthetic":
        from crossfusion_core.synthetic.cohort import SyntheticSettings, cohort_plan

        return [slide.slide_id for slide in cohort_plan(SyntheticSettings.from_mapping(synthetic))]
    from crossfusion_core.tcga.manifest import slide_ids_from_manifest

    return slide_ids_from_manifest(Path(source["manifest"]), source.get("slide_pattern", "-DX"))
