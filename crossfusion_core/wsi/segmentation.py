"""Tissue segmentation: which parts of a slide are tissue, as a low-resolution mask.

tiatoolbox's maskers threshold grey level, which splits pale pink stroma from purple nests. They are
given the thumbnail's HSV saturation instead (inverted, so tissue is the dark class they look for), as
CLAM segments: glass is grey-white whatever the stain, while stroma and nuclei are both coloured. A floor
on saturation keeps a blank slide's noise from becoming tissue. Marker ink is removed, then specks
dropped and small holes filled in physical units (scikit-image).

Marker ink is told from stain by colour in HSV (see :func:`ink_mask`): a rule that called every dark,
low-chroma pixel black ink took dense hematoxylin (lymphocyte aggregates, solid nests: the tissue a
survival model needs most) for pen and cut it out of the mask.
"""

from __future__ import annotations

import importlib.util
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import cv2
import h5py
import numpy as np
from matplotlib.figure import Figure
from scipy import ndimage
from skimage.morphology import disk, remove_small_holes, remove_small_objects

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.io import atomic_path
from crossfusion_core.wsi.settings import SegmentationSettings
from crossfusion_core.wsi.slide import SlideGeometry
from crossfusion_core.wsi.thumbnail import read_thumbnail

if TYPE_CHECKING:
    from tiatoolbox.tools.tissuemask import TissueMasker

MIN_TISSUE_SATURATION = 20
"""HSV saturation (0-255) below which a pixel is glass whatever Otsu says; blank glass is ~5."""
INK_MARGIN_UM = 16.0
"""Ink is widened by this much: a stroke's soft edge blends into the tissue colour it covers."""
MIN_INK_UM2 = 4000.0
"""Smaller ink regions are not marker strokes (tens of microns wide, millimetres long) but flecks of
pigment, tissue-marking dye or stain precipitate, which sit on tissue that must stay in the mask."""

GREEN_INK_HUE = (35, 85)
"""OpenCV hue range (degrees / 2) of green marker, 70-170 degrees: no H&E stain is green."""
GREEN_INK_MIN_SATURATION = 40
BLUE_INK_HUE = (85, 130)
"""Cyan to blue, 170-260 degrees. Dense hematoxylin reaches the violet end too, but darkly."""
BLUE_INK_MIN_SATURATION = 100
BLUE_INK_MIN_VALUE = 130
"""Blue marker is bright and saturated (value >= ~145 in scans and the synthetic cohort); hematoxylin
at blue hues stays below ~130 on the CMU scan, whatever the resolution."""
BLACK_INK_SEED = (100, 40)
"""(value below, saturation below): achromatic dark pixels, black ink on glass or pale tissue.
Hematoxylin keeps the saturation of its purple however dark it gets (>= 60 on the CMU scan)."""
BLACK_INK_REACH = (110, 100)
"""(value below, saturation below) of the pixels a black stroke is followed into from its seeds: over
stained tissue the ink picks up some of the stain's colour."""
TISSUEMASK_MODULE = "tiatoolbox.tools.tissuemask"


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
    return segment_thumbnail(rgb, geometry, settings, mask_h5_path, qc_png_path)


def segment_thumbnail(
    rgb: np.ndarray,
    geometry: SlideGeometry,
    settings: SegmentationSettings,
    mask_h5_path: str | Path,
    qc_png_path: str | Path,
) -> TissueMask:
    """:func:`segment_slide` on a thumbnail already read at ``settings.mask_mpp`` (patching reuses it)."""
    result = TissueMask(
        mask=tissue_mask(rgb, settings).astype(np.uint8),
        mask_mpp=settings.mask_mpp,
        level0_mpp=geometry.level0_mpp,
        level0_width=geometry.width_level0,
        level0_height=geometry.height_level0,
        slide_path=str(geometry.path),
    )
    if result.empty:
        warnings.warn(f"{geometry.path}: no tissue found; the slide gives empty patch bags", stacklevel=2)
    write_tissue_mask(mask_h5_path, result)
    write_tissue_qc(qc_png_path, rgb, result)
    return result


def tissue_mask(rgb: np.ndarray, settings: SegmentationSettings) -> np.ndarray:
    """Boolean tissue mask of an RGB thumbnail taken at ``settings.mask_mpp``."""
    saturation = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)[..., 1]
    ink = ink_mask(rgb, settings.mask_mpp).astype(np.uint8)
    ink = cv2.dilate(ink, disk(_px(INK_MARGIN_UM, settings.mask_mpp))) > 0
    saturation = np.where(ink, 0, saturation).astype(np.uint8)  # ink must not pull the threshold up
    mask = _masker(settings).fit_transform([np.repeat(255 - saturation[..., None], 3, axis=2)])[0]
    mask = mask & (saturation > MIN_TISSUE_SATURATION)
    pixel_um2 = settings.mask_mpp**2
    mask = remove_small_objects(mask, max_size=int(settings.min_region_um2 / pixel_um2))
    return remove_small_holes(mask, max_size=int(settings.min_hole_um2 / pixel_um2))


def _masker(settings: SegmentationSettings) -> TissueMasker:
    """tiatoolbox's masker named by ``settings.method``, its morphology sized in microns."""
    maskers = _tissuemask_module()
    if settings.method == "morphological":
        return maskers.MorphologicalMasker(mpp=settings.mask_mpp, min_region_size=0)
    return maskers.OtsuTissueMasker()


def _tissuemask_module() -> ModuleType:
    """tiatoolbox's module of tissue maskers, imported without the rest of ``tiatoolbox.tools``.

    ``import tiatoolbox.tools.tissuemask`` first runs ``tiatoolbox/tools/__init__.py``, which imports
    every tool (registration with umap and torchvision's models, graph, stain tools): 15-20 s of a
    segmentation job on two cores. The masker module needs none of them, so its installed file is run
    on its own, under its own name (the importlib recipe for importing a source file directly); a
    process that already imported it the usual way keeps that module.
    """
    if TISSUEMASK_MODULE in sys.modules:
        return sys.modules[TISSUEMASK_MODULE]
    package = importlib.util.find_spec("tiatoolbox")
    if package is None or not package.submodule_search_locations:
        raise ModuleNotFoundError("tiatoolbox is not installed: it provides the tissue maskers")
    source = Path(next(iter(package.submodule_search_locations))) / "tools" / "tissuemask.py"
    spec = importlib.util.spec_from_file_location(TISSUEMASK_MODULE, source)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"{source}: tiatoolbox's tissue masker module is missing")
    module = importlib.util.module_from_spec(spec)
    sys.modules[TISSUEMASK_MODULE] = module
    spec.loader.exec_module(module)
    return module


def ink_mask(rgb: np.ndarray, mask_mpp: float) -> np.ndarray:
    """Pixels of green, blue or black marker ink on an RGB thumbnail taken at ``mask_mpp``.

    Told apart from the stains in HSV. Green: a green hue, which H&E never has. Blue: a cyan-to-blue
    hue that is also bright and strongly saturated; hematoxylin reaches blue-violet hues only where it
    is dense, and there it is dark. Black: achromatic and dark where the stroke lies on glass or pale
    tissue, then followed (hysteresis) into the darker, more coloured pixels it makes over stained
    tissue; hematoxylin, however dense, stays too saturated to start such a region. Regions smaller
    than :data:`MIN_INK_UM2` are flecks, not strokes, and are kept as tissue.
    """
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    hue, saturation, value = (hsv[..., i].astype(np.int16) for i in range(3))
    green = _in_range(hue, GREEN_INK_HUE) & (saturation >= GREEN_INK_MIN_SATURATION)
    blue = (
        _in_range(hue, BLUE_INK_HUE) & (saturation >= BLUE_INK_MIN_SATURATION) & (value >= BLUE_INK_MIN_VALUE)
    )
    seeds = (value < BLACK_INK_SEED[0]) & (saturation < BLACK_INK_SEED[1])
    reach = (value < BLACK_INK_REACH[0]) & (saturation < BLACK_INK_REACH[1])
    ink = green | blue | _grown_from(seeds, reach)
    return remove_small_objects(ink, max_size=int(MIN_INK_UM2 / mask_mpp**2))


def _in_range(values: np.ndarray, bounds: tuple[int, int]) -> np.ndarray:
    return (values >= bounds[0]) & (values < bounds[1])


def _grown_from(seeds: np.ndarray, reach: np.ndarray) -> np.ndarray:
    """The connected regions of ``reach`` that hold at least one seed (``seeds`` lie inside ``reach``)."""
    regions, _ = ndimage.label(reach)
    seeded = np.unique(regions[seeds])
    return np.isin(regions, seeded[seeded > 0])


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
