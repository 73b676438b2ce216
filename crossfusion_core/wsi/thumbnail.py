"""Low-resolution views of a whole slide at a stated mpp, for masks and QC figures."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import openslide

from crossfusion_core.errors import SlideReadError
from crossfusion_core.wsi.slide import SlideGeometry, open_slide, slide_geometry


def thumbnail_shape(geometry: SlideGeometry, mpp: float) -> tuple[int, int]:
    """(rows, cols) of the whole slide at ``mpp`` microns per pixel."""
    scale = geometry.level0_mpp / mpp
    return max(1, round(geometry.height_level0 * scale)), max(1, round(geometry.width_level0 * scale))


def read_thumbnail(
    slide_path: str | Path, mpp: float, mpp_override: float | None = None
) -> tuple[np.ndarray, SlideGeometry]:
    """The whole slide as RGB uint8 at ``mpp``: read at the best pyramid level, then area-resized."""
    geometry = slide_geometry(slide_path, mpp_override)
    level = geometry.best_level_for_mpp(mpp)
    rows, cols = thumbnail_shape(geometry, mpp)
    slide = open_slide(slide_path)
    try:
        region = slide.read_region((0, 0), level, geometry.level_dimensions[level])
        rgba = np.asarray(region)
    except openslide.OpenSlideError as exc:
        raise SlideReadError(
            slide_path, f"cannot decode level {level} ({exc})", "re-download the slide"
        ) from exc
    finally:
        slide.close()
    rgb = _flatten_on_white(rgba)
    return cv2.resize(rgb, (cols, rows), interpolation=cv2.INTER_AREA), geometry


def _flatten_on_white(rgba: np.ndarray) -> np.ndarray:
    """OpenSlide marks pixels outside the scanned area as transparent; they are glass, so white."""
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0
    return (rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
