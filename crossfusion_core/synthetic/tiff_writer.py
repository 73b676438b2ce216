"""Write a generic pyramidal TIFF (OpenSlide's ``generic-tiff``) from an RGB array.

Whole-slide images also come as plain tiled TIFFs (converted slides, other scanners' exports), which
OpenSlide reads through its ``generic-tiff`` driver and the tile reader decodes directly. This writer
makes such files for tests and local cohorts: a tiled level 0 whose resolution tags give the microns
per pixel (OpenSlide's ``openslide.mpp-x``), then tiled reduced-resolution pages marked as such (the
driver skips tiled pages that are not). Tiles are JPEG by default, in YCbCr (the usual coding) or RGB
(as Aperio scanners store them), or losslessly compressed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np
import tifffile

from crossfusion_core.io import atomic_path

MICRONS_PER_CM = 10_000
COMPRESSIONS = ("jpeg", "deflate", "lzw", "none")
JPEG_COLOUR_SPACES = {"ycbcr": "YCBCR", "rgb": "RGB"}


def write_pyramidal_tiff(
    path: str | Path,
    rgb: np.ndarray,
    level0_mpp: float,
    tile_size_px: int = 256,
    downsamples: Sequence[int] = (1, 4, 16),
    compression: str = "jpeg",
    jpeg_quality: int = 85,
    jpeg_colour_space: str = "ycbcr",
) -> Path:
    """Write ``rgb`` (H, W, 3) uint8 as a tiled pyramidal TIFF at ``path``, atomically.

    ``downsamples`` are the levels' integer reductions of level 0 (first 1); ``compression`` is one of
    :data:`COMPRESSIONS`; ``jpeg_colour_space`` ("ycbcr" or "rgb") is how JPEG tiles code colour.
    """
    path = Path(path)
    _check_inputs(rgb, tile_size_px, downsamples, compression, jpeg_colour_space)
    codec = _codec(compression, jpeg_quality, jpeg_colour_space)
    with atomic_path(path) as tmp, tifffile.TiffWriter(tmp, bigtiff=rgb.nbytes > 2**31) as tiff:
        for downsample in downsamples:
            level = rgb if downsample == 1 else area_downscaled(rgb, downsample)
            pixels_per_cm = MICRONS_PER_CM / (level0_mpp * downsample)
            tiff.write(
                edge_padded_tiles(level, tile_size_px),
                shape=level.shape,
                dtype=np.uint8,
                tile=(tile_size_px, tile_size_px),
                photometric="rgb",
                subfiletype=0 if downsample == 1 else tifffile.FILETYPE.REDUCEDIMAGE,
                resolution=(pixels_per_cm, pixels_per_cm),
                resolutionunit=tifffile.RESUNIT.CENTIMETER,
                metadata=None,
                **codec,
            )
    return path


def edge_padded_tiles(image: np.ndarray, tile_size_px: int) -> Iterator[np.ndarray]:
    """Tiles in row-major order, the last row and column padded by repeating the edge pixels.

    Zero padding would bleed dark colour into the slide's right and bottom edge through JPEG's chroma
    upsampling; repeated edge pixels keep the border the colour of the background.
    """
    height, width = image.shape[:2]
    for y in range(0, height, tile_size_px):
        for x in range(0, width, tile_size_px):
            tile = image[y : y + tile_size_px, x : x + tile_size_px]
            pad = ((0, tile_size_px - tile.shape[0]), (0, tile_size_px - tile.shape[1]), (0, 0))
            yield np.pad(tile, pad, mode="edge") if any(p[1] for p in pad) else tile


def area_downscaled(rgb: np.ndarray, downsample: float) -> np.ndarray:
    """Area-averaged reduction, the way scanners build their pyramid levels."""
    height, width = rgb.shape[:2]
    size = (max(1, int(width // downsample)), max(1, int(height // downsample)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def _codec(compression: str, jpeg_quality: int, jpeg_colour_space: str) -> dict[str, object]:
    """tifffile's ``compression`` and ``compressionargs`` for one of :data:`COMPRESSIONS`."""
    if compression == "jpeg":
        args = {"level": jpeg_quality, "outcolorspace": JPEG_COLOUR_SPACES[jpeg_colour_space]}
        return {"compression": "jpeg", "compressionargs": args}
    return {"compression": None if compression == "none" else compression}


def _check_inputs(
    rgb: np.ndarray,
    tile_size_px: int,
    downsamples: Sequence[int],
    compression: str,
    jpeg_colour_space: str,
) -> None:
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"rgb must be (H, W, 3) uint8, got {rgb.shape} {rgb.dtype}")
    if tile_size_px % 16:
        raise ValueError(f"tile_size_px must be a multiple of 16 (TIFF rule), got {tile_size_px}")
    if downsamples[0] != 1 or list(downsamples) != sorted(set(downsamples)):
        raise ValueError(f"downsamples must start at 1 and increase, got {tuple(downsamples)}")
    if compression not in COMPRESSIONS:
        raise ValueError(f"compression must be one of {COMPRESSIONS}, got {compression!r}")
    if jpeg_colour_space not in JPEG_COLOUR_SPACES:
        raise ValueError(f"jpeg_colour_space must be one of {tuple(JPEG_COLOUR_SPACES)}")
