"""One synthetic slide on disk: the Aperio SVS and the map of where risk was planted."""

from __future__ import annotations

from pathlib import Path

import cv2
import h5py
import numpy as np

from crossfusion_core.io import atomic_path
from crossfusion_core.synthetic.cohort import SyntheticSettings, SyntheticSlide, planned_slide
from crossfusion_core.synthetic.svs_writer import write_aperio_svs
from crossfusion_core.synthetic.tissue import MASK_MPP, RENDER_MPP, render_tissue

NUCLEAR_MAGNIFICATION = 20.0
ARCHITECTURE_MAGNIFICATION = 5.0


def write_synthetic_slide(
    settings: SyntheticSettings, slide_id: str, svs_path: str | Path, truth_h5_path: str | Path
) -> SyntheticSlide:
    """Draw ``slide_id`` and write its SVS and truth h5; the same settings give the same pixels."""
    slide = planned_slide(settings, slide_id)
    rng = np.random.default_rng([settings.seed, 1, slide.patient_index, slide.slide_index])
    drawing = render_tissue(slide, rng)
    write_aperio_svs(
        svs_path,
        _at_scan_resolution(drawing.rgb, slide.level0_mpp),
        level0_mpp=slide.level0_mpp,
        objective_power=slide.scan_magnification,
    )
    _write_truth(truth_h5_path, slide, drawing.nuclear_mask, drawing.architecture_mask)
    return slide


def _at_scan_resolution(rgb: np.ndarray, level0_mpp: float) -> np.ndarray:
    """The drawing enlarged to the scan's level 0 (2x for a 40x slide, unchanged for 20x).

    Pixel replication, not interpolation: a 20x read of the 40x slide then averages back to exactly the
    drawing, so the chromatin speckle still vanishes at 10x (see ``tissue``).
    """
    factor = round(RENDER_MPP / level0_mpp)
    if factor == 1:
        return rgb
    size = (rgb.shape[1] * factor, rgb.shape[0] * factor)
    return cv2.resize(rgb, size, interpolation=cv2.INTER_NEAREST)


def _write_truth(
    path: str | Path, slide: SyntheticSlide, nuclear: np.ndarray, architecture: np.ndarray
) -> None:
    """Truth h5: ``high_risk_mask`` (either phenotype) plus one mask per phenotype, at ``MASK_MPP``.

    ``risk_scale_*`` attrs give the magnification at which each phenotype is meant to be seen, so a
    heatmap check can compare the matching attention scale with the matching mask.
    """
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as h5:
        h5.create_dataset(
            "high_risk_mask", data=(nuclear | architecture).astype(np.uint8), compression="gzip"
        )
        h5.create_dataset("nuclear_mask", data=nuclear.astype(np.uint8), compression="gzip")
        h5.create_dataset("architecture_mask", data=architecture.astype(np.uint8), compression="gzip")
        h5.attrs.update(
            {
                "mask_mpp": MASK_MPP,
                "slide_id": slide.slide_id,
                "case_id": slide.case_id,
                "level0_mpp": slide.level0_mpp,
                "true_risk": slide.true_risk,
                "nuclear_score": slide.nuclear_score,
                "architecture_score": slide.architecture_score,
                "risk_scale_nuclear": NUCLEAR_MAGNIFICATION,
                "risk_scale_architecture": ARCHITECTURE_MAGNIFICATION,
            }
        )
