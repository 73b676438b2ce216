"""Survival table, planted risk and GDC-style manifest of the synthetic cohort.

Survival times come from a known model, an exponential with log-hazard ``risk_effect * true_risk``
around ``baseline_hazard_per_month``, censored independently by an exponential censoring time whose
rate is solved so that ``censoring_rate`` of patients are censored on average. The oracle C-index
of ``true_risk`` is then the ceiling any model can reach, which makes the cohort a real test.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.io import write_csv
from crossfusion_core.synthetic.cohort import SyntheticSettings, SyntheticSlide, cohort_plan

SURVIVAL_COLUMNS = [
    "case_id",
    "slide_id",
    "site",
    "is_female",
    "oncotree_code",
    "age",
    "survival_months",
    "censorship",
]
"""The columns (and order) of the original study's survival tables, e.g. tcga_blca_survival.csv."""

MANIFEST_COLUMNS = ["id", "filename", "md5", "size", "state"]
MANIFEST_NAMESPACE = uuid.UUID("6f1c5a52-2f0e-4d55-9a55-0b7c2f3b9e11")
"""Fixed namespace so a slide id always maps to the same GDC-like file uuid."""


def survival_table(settings: SyntheticSettings, plan: list[SyntheticSlide] | None = None) -> pd.DataFrame:
    """One row per slide: times drawn per patient from the known hazard model (censorship 1 = censored)."""
    plan = cohort_plan(settings) if plan is None else plan
    patients = _patients(plan)
    rng = np.random.default_rng([settings.seed, 2])
    hazard = settings.baseline_hazard_per_month * np.exp(settings.risk_effect * patients["true_risk"])
    event_months = rng.exponential(1.0 / hazard)
    censor_rate = _censoring_hazard(hazard.to_numpy(), settings.censoring_rate)
    censor_months = rng.exponential(1.0 / censor_rate, len(patients)) if censor_rate > 0 else np.inf
    patients["survival_months"] = np.maximum(np.minimum(event_months, censor_months), 0.1).round(2)
    patients["censorship"] = (censor_months < event_months).astype(int)
    patients["age"] = np.clip(rng.normal(66, 10, len(patients)), 30, 90).round().astype(int)
    patients["is_female"] = (rng.random(len(patients)) < 0.3).astype(int)
    patients["site"] = "SY"
    patients["oncotree_code"] = "SYN"
    slides = pd.DataFrame(
        {"case_id": [s.case_id for s in plan], "slide_id": [f"{s.slide_id}.svs" for s in plan]}
    )
    return slides.merge(patients, on="case_id", how="left")[SURVIVAL_COLUMNS]


def true_risk_table(plan: list[SyntheticSlide]) -> pd.DataFrame:
    """``case_id, true_risk``: the log-hazard score each patient's times were drawn from."""
    return _patients(plan)[["case_id", "true_risk"]]


def manifest_table(slide_paths: Mapping[str, Path]) -> pd.DataFrame:
    """GDC manifest rows for the written slides, with their real md5 and size in bytes."""
    rows = []
    for slide_id, path in slide_paths.items():
        path = Path(path)
        if not path.is_file():
            raise PipelineInputError(path, f"slide {slide_id} was not written", "rerun synthetic_slide")
        rows.append(
            {
                "id": str(uuid.uuid5(MANIFEST_NAMESPACE, slide_id)),
                "filename": f"{slide_id}.svs",
                "md5": _md5(path),
                "size": path.stat().st_size,
                "state": "released",
            }
        )
    return pd.DataFrame(rows, columns=MANIFEST_COLUMNS)


def write_synthetic_clinical(
    settings: SyntheticSettings,
    slide_paths: Mapping[str, Path],
    survival_csv: str | Path,
    true_risk_csv: str | Path,
    manifest_tsv: str | Path,
) -> None:
    """Write survival table, planted risks and manifest for the slides in ``slide_paths``.

    Times are drawn for the whole planned cohort and then narrowed to the given slides, so leaving a
    slide out (``slides.exclude``) changes no other patient's survival.
    """
    plan = cohort_plan(settings)
    unknown = sorted(set(slide_paths) - {s.slide_id for s in plan})
    if unknown:
        raise PipelineInputError(
            None,
            f"slides {unknown[:3]} are not in the synthetic cohort (seed={settings.seed})",
            "pass only slide ids from cohort_plan",
        )
    survival = survival_table(settings, plan)
    survival = survival[survival["slide_id"].str.removesuffix(".svs").isin(set(slide_paths))]
    risks = true_risk_table(plan)
    write_csv(survival_csv, survival)
    write_csv(true_risk_csv, risks[risks["case_id"].isin(set(survival["case_id"]))])
    write_csv(manifest_tsv, manifest_table(slide_paths), sep="\t")


def _censoring_hazard(event_hazards: np.ndarray, censoring_rate: float) -> float:
    """Rate of exponential censoring times that censors ``censoring_rate`` of patients on average.

    With event hazard h and censoring hazard c a patient is censored with probability c / (c + h);
    the mean over the cohort's very unequal hazards is solved for c on a log scale.
    """
    if censoring_rate <= 0:
        return 0.0

    def excess(log_rate: float) -> float:
        rate = np.exp(log_rate)
        return float(np.mean(rate / (rate + event_hazards))) - censoring_rate

    return float(np.exp(brentq(excess, -30.0, 30.0)))


def _patients(plan: list[SyntheticSlide]) -> pd.DataFrame:
    first_slides = [s for s in plan if s.slide_index == 0]
    return pd.DataFrame(
        {"case_id": [s.case_id for s in first_slides], "true_risk": [s.true_risk for s in first_slides]}
    )


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
