"""Tissue segmentation: which parts of a slide are tissue, as a low-resolution mask.

tiatoolbox's maskers threshold grey level, which splits pale pink stroma from purple nests. They are
given the thumbnail's HSV saturation instead (inverted, so tissue is the dark class they look for), as
CLAM segments: glass is grey-white whatever the stain, while stroma and nuclei are both coloured. A floor
on saturation keeps a blank slide's noise from becoming tissue. Marker ink is removed, then specks
dropped and small holes filled in physical units (scikit-image).

Marker ink: H&E never makes green dominate red, nor blue exceed red by much, nor near-black grey, so
pixels that are green-dominant, strongly blue (blue - red > 70) or dark and unsaturated are ink.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import h5py
import numpy as np
from matplotlib.figure import Figure
from skimage.morphology import disk, remove_small_holes, remove_small_objects

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.io import atomic_path
from crossfusion_core.wsi.settings import SegmentationSettings
from crossfusion_core.wsi.thumbnail import read_thumbnail

if TYPE_CHECKING:
    from tiatoolbox.tools.tissuemask import TissueMasker

MIN_TISSUE_SATURATION = 20
"""HSV saturation (0-255) below which a pixel is glass whatever Otsu says; blank glass is ~5."""
INK_MARGIN_UM = 16.0


@dataclass(frozen=True)
class TissueMask:
    """A slide's tissue mask (uint8 0/1 at ``mask_mpp``) and the slide geometry it refers to."""

    mask: np.ndarray
    mask_mpp: float
    level0_mpp: float
    level0_width: int
    level0_height: int
    slide_path: str

    @property
    def tissue_fraction(self) -> float:
        return float(self.mask.mean()) if self.mask.size else 0.0

    @property
    def empty(self) -> bool:
        return not self.mask.any()


def segment_slide(
    slide_path: str | Path,
    settings: SegmentationSettings,
    mpp_override: float | None,
    mask_h5_path: str | Path,
    qc_png_path: str | Path,
) -> TissueMask:
    """Find the tissue of ``slide_path``, write the mask h5 and a QC PNG; warn if there is none."""
    rgb, geometry = read_thumbnail(slide_path, settings.mask_mpp, mpp_override)
    result = TissueMask(
        mask=tissue_mask(rgb, settings).astype(np.uint8),
        mask_mpp=settings.mask_mpp,
        level0_mpp=geometry.level0_mpp,
        level0_width=geometry.width_level0,
        level0_height=geometry.height_level0,
        slide_path=str(slide_path),
    )
    if result.empty:
        warnings.warn(f"{slide_path}: no tissue found; the slide gives empty patch bags", stacklevel=2)
    write_tissue_mask(mask_h5_path, result)
    write_tissue_qc(qc_png_path, rgb, result)
    return result


def tissue_mask(rgb: np.ndarray, settings: SegmentationSettings) -> np.ndarray:
    """Boolean tissue mask of an RGB thumbnail taken at ``settings.mask_mpp``."""
    saturation = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)[..., 1]
    ink = cv2.dilate(ink_mask(rgb).astype(np.uint8), disk(_px(INK_MARGIN_UM, settings.mask_mpp))) > 0
    saturation = np.where(ink, 0, saturation).astype(np.uint8)  # ink must not pull the threshold up
    mask = _masker(settings).fit_transform([np.repeat(255 - saturation[..., None], 3, axis=2)])[0]
    mask = mask & (saturation > MIN_TISSUE_SATURATION)
    pixel_um2 = settings.mask_mpp**2
    mask = remove_small_objects(mask, max_size=int(settings.min_region_um2 / pixel_um2))
    return remove_small_holes(mask, max_size=int(settings.min_hole_um2 / pixel_um2))


def _masker(settings: SegmentationSettings) -> TissueMasker:
    """tiatoolbox's masker named by ``settings.method``, its morphology sized in microns."""
    from tiatoolbox.tools.tissuemask import MorphologicalMasker, OtsuTissueMasker

    if settings.method == "morphological":
        return MorphologicalMasker(mpp=settings.mask_mpp, min_region_size=0)
    return OtsuTissueMasker()


def ink_mask(rgb: np.ndarray) -> np.ndarray:
    """Pixels of green, blue or black marker ink (colours H&E staining does not produce)."""
    red, green, blue = (rgb[..., i].astype(np.int16) for i in range(3))
    brightest = np.maximum(np.maximum(red, green), blue)
    darkest = np.minimum(np.minimum(red, green), blue)
    green_ink = green > red + 20
    blue_ink = blue > red + 70
    black_ink = (brightest < 90) & (brightest - darkest < 35)
    return green_ink | blue_ink | black_ink


def write_tissue_mask(path: str | Path, tissue: TissueMask) -> None:
    """The mask h5 of the file contract: dataset ``mask`` and the slide's geometry as attrs."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as h5:
        h5.create_dataset("mask", data=tissue.mask.astype(np.uint8), compression="gzip")
        h5.attrs.update(
            {
                "mask_mpp": tissue.mask_mpp,
                "level0_mpp": tissue.level0_mpp,
                "level0_width": tissue.level0_width,
                "level0_height": tissue.level0_height,
                "tissue_fraction": tissue.tissue_fraction,
                "empty": tissue.empty,
                "slide_path": tissue.slide_path,
            }
        )


def read_tissue_mask(path: str | Path) -> TissueMask:
    """Load a mask h5 written by :func:`segment_slide`, with a clear error if it is not one."""
    path = Path(path)
    try:
        with h5py.File(path, "r") as h5:
            attrs = dict(h5.attrs)
            return TissueMask(
                mask=h5["mask"][()].astype(np.uint8),
                mask_mpp=float(attrs["mask_mpp"]),
                level0_mpp=float(attrs["level0_mpp"]),
                level0_width=int(attrs["level0_width"]),
                level0_height=int(attrs["level0_height"]),
                slide_path=str(attrs["slide_path"]),
            )
    except (OSError, KeyError) as exc:
        raise PipelineInputError(
            path, f"not a tissue mask h5 (dataset `mask` with geometry attrs): {exc}", "rerun `segment`"
        ) from exc


def write_tissue_qc(path: str | Path, rgb: np.ndarray, tissue: TissueMask) -> None:
    """Thumbnail with the mask outline, to check the segmentation at a glance."""
    figure = Figure(figsize=(6, 6 * rgb.shape[0] / max(rgb.shape[1], 1) + 0.4), dpi=100)
    axes = figure.add_subplot()
    axes.imshow(rgb)
    if not tissue.empty and tissue.mask.shape[0] > 1 and tissue.mask.shape[1] > 1:
        axes.contour(tissue.mask, levels=[0.5], colors="lime", linewidths=1.2)
    name = Path(tissue.slide_path).name
    axes.set_title(
        f"{name}\ntissue {100 * tissue.tissue_fraction:.1f}% at {tissue.mask_mpp:g} um/px", fontsize=8
    )
    axes.set_axis_off()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, bbox_inches="tight")


def _px(length_um: float, mpp: float) -> int:
    return max(1, round(length_um / mpp))
