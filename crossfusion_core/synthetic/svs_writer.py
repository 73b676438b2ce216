"""Write a real Aperio-style SVS file from an RGB array.

The pipeline is tested on files that OpenSlide reads through its ``aperio`` driver, exactly as it reads
TCGA slides, so the synthetic slides copy the layout of an Aperio scanner's output: a tiled JPEG
full-resolution page whose ImageDescription starts with ``Aperio Image Library`` and carries
``AppMag`` and ``MPP``, a stripped thumbnail as the second page, then tiled reduced-resolution pages.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tifffile

from crossfusion_core.io import atomic_path
from crossfusion_core.synthetic.tiff_writer import area_downscaled, edge_padded_tiles

APERIO_HEADER = "Aperio Image Library v12.0.15"
THUMBNAIL_MAX_SIDE_PX = 768


def write_aperio_svs(
    path: str | Path,
    rgb_level0: np.ndarray,
    level0_mpp: float,
    objective_power: int | None,
    tile_size_px: int = 256,
    downsamples: Sequence[int] = (1, 4, 16),
    jpeg_quality: int = 85,
    write_mpp: bool = True,
) -> Path:
    """Write ``rgb_level0`` (H, W, 3) uint8 as an Aperio SVS at ``path``, atomically.

    ``objective_power=None`` omits ``AppMag`` and ``write_mpp=False`` omits ``MPP``, so tests can make
    slides whose resolution OpenSlide cannot report.
    """
    path = Path(path)
    _check_inputs(rgb_level0, tile_size_px, downsamples)
    height, width = rgb_level0.shape[:2]
    fields = _description_fields(path, level0_mpp, objective_power, write_mpp)
    tiled = {"tile_size_px": tile_size_px, "jpeg_quality": jpeg_quality}
    with atomic_path(path) as tmp, tifffile.TiffWriter(tmp, bigtiff=rgb_level0.nbytes > 2**31) as tiff:
        geometry = f"{width}x{height} [0,0 {width}x{height}] ({tile_size_px}x{tile_size_px})"
        level0_text = f"{APERIO_HEADER} \r\n{geometry} JPEG/RGB Q={jpeg_quality}{fields}"
        _write_tiled_page(tiff, rgb_level0, level0_text, **tiled)
        thumbnail = area_downscaled(rgb_level0, max(width, height) / THUMBNAIL_MAX_SIDE_PX)
        thumb_size = f"{thumbnail.shape[1]}x{thumbnail.shape[0]}"
        thumb_text = f"{APERIO_HEADER} \r\n{width}x{height} -> {thumb_size} - {fields}"
        tiff.write(
            thumbnail,
            photometric="rgb",
            description=thumb_text,
            metadata=None,
            compression="jpeg",
            rowsperstrip=16,
        )
        for downsample in downsamples[1:]:
            level = area_downscaled(rgb_level0, downsample)
            level_size = f"{level.shape[1]}x{level.shape[0]}"
            level_text = f"{APERIO_HEADER} \r\n{geometry} -> {level_size} JPEG/RGB Q={jpeg_quality}{fields}"
            _write_tiled_page(tiff, level, level_text, **tiled)
    return path


def _check_inputs(rgb_level0: np.ndarray, tile_size_px: int, downsamples: Sequence[int]) -> None:
    if rgb_level0.ndim != 3 or rgb_level0.shape[2] != 3 or rgb_level0.dtype != np.uint8:
        raise ValueError(f"rgb_level0 must be (H, W, 3) uint8, got {rgb_level0.shape} {rgb_level0.dtype}")
    if tile_size_px % 16:
        raise ValueError(f"tile_size_px must be a multiple of 16 (TIFF rule), got {tile_size_px}")
    if downsamples[0] != 1 or list(downsamples) != sorted(set(downsamples)):
        raise ValueError(f"downsamples must start at 1 and increase, got {tuple(downsamples)}")


def _description_fields(path: Path, level0_mpp: float, objective_power: int | None, write_mpp: bool) -> str:
    """The ``|key = value`` part OpenSlide parses into ``aperio.*`` properties."""
    fields = {}
    if objective_power is not None:
        fields["AppMag"] = str(int(objective_power))
    fields["Filename"] = path.stem
    if write_mpp:
        fields["MPP"] = f"{level0_mpp:.4f}"
    fields["ScanScope ID"] = "SYNTHETIC"
    return "".join(f"|{key} = {value}" for key, value in fields.items())


def _write_tiled_page(
    tiff: tifffile.TiffWriter, image: np.ndarray, description: str, tile_size_px: int, jpeg_quality: int
) -> None:
    """One JPEG-tiled page; ``metadata=None`` keeps tifffile's JSON description out of Aperio's place."""
    tiff.write(
        edge_padded_tiles(image, tile_size_px),
        shape=image.shape,
        dtype=np.uint8,
        tile=(tile_size_px, tile_size_px),
        photometric="rgb",
        compression="jpeg",
        compressionargs={"level": jpeg_quality},
        description=description,
        metadata=None,
    )
