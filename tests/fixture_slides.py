"""Pixels of the small fixture slides, shared by conftest.py and the tests that write their own slides."""

from __future__ import annotations

import numpy as np

SLIDE_EXTENT_UM = (1024.0, 768.0)
"""Physical width and height of the fixture slides: 4 x 3 patches of 256 um (10x) each."""


def tissue_rgb(level0_mpp: float, seed: int = 0) -> np.ndarray:
    """A white field with one pink, nucleus-dotted elliptical tissue piece filling its middle."""
    rng = np.random.default_rng(seed)
    width_px = round(SLIDE_EXTENT_UM[0] / level0_mpp)
    height_px = round(SLIDE_EXTENT_UM[1] / level0_mpp)
    y_um, x_um = np.ogrid[:height_px, :width_px]
    y_um = y_um * level0_mpp - SLIDE_EXTENT_UM[1] / 2
    x_um = x_um * level0_mpp - SLIDE_EXTENT_UM[0] / 2
    tissue = (x_um / 380.0) ** 2 + (y_um / 270.0) ** 2 < 1.0
    rgb = np.full((height_px, width_px, 3), 242, np.uint8)
    rgb[tissue] = (226, 150, 196)
    nuclei = tissue & (rng.random(tissue.shape) < 0.02 * level0_mpp)
    rgb[nuclei] = (70, 40, 130)
    return rgb
