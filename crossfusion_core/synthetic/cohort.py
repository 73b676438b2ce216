"""The synthetic cohort's plan: who the patients are, which slides they have, how risky they are.

The workflow calls :func:`cohort_plan` while building its DAG to learn the slide ids, so it is a pure
function of the settings: no file is opened and the same settings always give the same plan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from crossfusion_core.synthetic.settings import SyntheticSettings

__all__ = ["SyntheticSettings", "SyntheticSlide", "cohort_plan", "planned_slide"]


@dataclass(frozen=True)
class SyntheticSlide:
    """One planned slide and its patient's latent scores.

    The two scores are planted at different scales: ``nuclear_score`` as nuclear size and density
    (visible at 20x), ``architecture_score`` as crowded, solid gland architecture (visible at 5x).
    ``true_risk`` is the log-hazard score the survival times are drawn from.
    """

    case_id: str
    slide_id: str
    patient_index: int
    slide_index: int
    scan_magnification: int
    nuclear_score: float
    architecture_score: float
    true_risk: float
    tissue_size_um: float
    two_pieces: bool
    pen_mark: bool

    @property
    def level0_mpp(self) -> float:
        """Microns per level-0 pixel of the scan (40x -> 0.25, 20x -> 0.5)."""
        return 10.0 / self.scan_magnification


def cohort_plan(settings: SyntheticSettings) -> list[SyntheticSlide]:
    """All slides of the cohort, patient by patient, deterministic in ``settings``."""
    rng = np.random.default_rng([settings.seed, 0])
    n_patients = settings.n_patients
    nuclear = rng.standard_normal(n_patients)
    architecture = rng.standard_normal(n_patients)
    slides_per_patient = 1 + (rng.random(n_patients) < settings.second_slide_fraction)
    n_slides = int(slides_per_patient.sum())
    is_40x = _exact_share(rng, n_slides, settings.fraction_40x)
    two_pieces = _exact_share(rng, n_slides, settings.two_piece_fraction)
    pen_mark = _exact_share(rng, n_slides, settings.pen_mark_fraction)
    sizes_um = rng.uniform(*settings.tissue_size_um, size=n_slides)
    plan = []
    for patient in range(n_patients):
        for slide in range(int(slides_per_patient[patient])):
            row = len(plan)
            plan.append(
                SyntheticSlide(
                    case_id=f"SYN-P{patient + 1:04d}",
                    slide_id=f"SYN-P{patient + 1:04d}-S{slide + 1}",
                    patient_index=patient,
                    slide_index=slide,
                    scan_magnification=40 if is_40x[row] else 20,
                    nuclear_score=float(nuclear[patient]),
                    architecture_score=float(architecture[patient]),
                    true_risk=float((nuclear[patient] + architecture[patient]) / math.sqrt(2)),
                    tissue_size_um=float(sizes_um[row]),
                    two_pieces=bool(two_pieces[row]),
                    pen_mark=bool(pen_mark[row]),
                )
            )
    return plan


def planned_slide(settings: SyntheticSettings, slide_id: str) -> SyntheticSlide:
    """The plan of ``slide_id``; a clear error if the cohort has no such slide."""
    for slide in cohort_plan(settings):
        if slide.slide_id == slide_id:
            return slide
    raise KeyError(
        f"{slide_id} is not a slide of the synthetic cohort (seed={settings.seed}, "
        f"n_patients={settings.n_patients}); slide ids look like SYN-P0001-S1"
    )


def _exact_share(rng: np.random.Generator, n: int, fraction: float) -> np.ndarray:
    """A boolean mask with exactly round(fraction * n) randomly placed True values.

    An exact share guarantees that a small cohort still mixes 40x and 20x scans, one- and two-piece
    tissue, clean and pen-marked slides.
    """
    chosen = np.zeros(n, bool)
    chosen[rng.permutation(n)[: round(fraction * n)]] = True
    return chosen
