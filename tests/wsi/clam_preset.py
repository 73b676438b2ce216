"""CLAM's TCGA segmentation preset, written from its documentation, to compare our tissue masks with.

CLAM (github.com/mahmoodlab/CLAM: presets/tcga.csv, WholeSlideImage.segmentTissue) segments at the
pyramid level nearest a 64x downsample, which on TCGA's 20x and 40x scans is about 8 um/px: HSV
saturation, a 7 px median blur, a fixed threshold (8; the preset sets ``use_otsu`` false), closing with
a 4 x 4 square; then tissue regions are kept above ``a_t`` and holes (the 8 largest of each region)
above ``a_h``, both counted in reference patches of 512 x 512 level-0 pixels. CLAM measures contour
polygons; here regions and holes are counted in pixels, a difference of about half a perimeter.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage

TCGA_SEGMENTATION_MPP = 8.0
"""The mpp of CLAM's segmentation level on TCGA scans (16x of 0.5 um/px, or 32x of 0.25 um/px)."""


@dataclass(frozen=True)
class ClamPreset:
    """The segmentation parameters of presets/tcga.csv, in CLAM's units."""

    saturation_threshold: int = 8
    median_px: int = 7
    close_px: int = 4
    tissue_area_patches: float = 16.0
    hole_area_patches: float = 4.0
    max_holes: int = 8
    reference_patch_px: int = 512
    use_otsu: bool = False


def clam_tissue_mask(rgb: np.ndarray, mask_mpp: float, level0_mpp: float, preset: ClamPreset) -> np.ndarray:
    """CLAM's tissue mask (bool) of an RGB thumbnail at ``mask_mpp`` of a slide scanned at ``level0_mpp``."""
    saturation = cv2.medianBlur(cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)[..., 1], preset.median_px)
    if preset.use_otsu:
        threshold, _ = cv2.threshold(saturation, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    else:
        threshold = preset.saturation_threshold
    square = np.ones((preset.close_px, preset.close_px), np.uint8)
    foreground = cv2.morphologyEx((saturation > threshold).astype(np.uint8), cv2.MORPH_CLOSE, square) > 0
    patch_px = (preset.reference_patch_px * level0_mpp / mask_mpp) ** 2
    regions, n_regions = ndimage.label(foreground, structure=np.ones((3, 3)))
    mask = np.zeros_like(foreground)
    for label in range(1, n_regions + 1):
        region = regions == label
        if region.sum() > preset.tissue_area_patches * patch_px:
            mask |= _with_large_holes(region, preset.hole_area_patches * patch_px, preset.max_holes)
    return mask


def _with_large_holes(region: np.ndarray, min_hole_px: float, max_holes: int) -> np.ndarray:
    """``region`` with every hole filled except its ``max_holes`` largest above ``min_hole_px``."""
    filled = ndimage.binary_fill_holes(region)
    holes, n_holes = ndimage.label(filled & ~region)
    sizes = ndimage.sum_labels(np.ones(holes.shape), holes, np.arange(1, n_holes + 1))
    largest_first = np.argsort(sizes)[::-1][:max_holes]
    kept = [index + 1 for index in largest_first if sizes[index] > min_hole_px]
    return filled & ~np.isin(holes, kept)


def iou(first: np.ndarray, second: np.ndarray) -> float:
    """Intersection over union of two boolean masks of one shape."""
    union = np.logical_or(first, second).sum()
    return float(np.logical_and(first, second).sum() / union) if union else 1.0
