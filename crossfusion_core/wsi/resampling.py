"""Area-averaged downsampling of RGB pixels, exact box averages where the factor is an integer.

Patch readers halve level-0 pixels all the time (a 40x scan read at 20x, a 10x patch cut from a 20x
region), and that 2x2 box average cost as much as the JPEG decode of the same pixels with Pillow's
``reduce``. OpenCV's ``INTER_AREA`` gives the same numbers for a factor of 2 (the rounded mean of each
2x2 block; tests/wsi/test_resampling.py checks every value) about four times faster, so it does that
case; other integer factors round differently in OpenCV and stay with Pillow's ``reduce``, and
non-integer ones with Pillow's box filter.

OpenCV is made single-threaded when this module is imported: patch readers run in forked DataLoader
workers, where a thread pool inherited from the parent can deadlock, and a tile-sized resize gains
nothing from threads anyway. Where OpenCV is not installed (the GPU smoke test's bare PyTorch stack),
Pillow's ``reduce`` gives the same numbers, slower.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

try:
    import cv2
except ImportError:
    cv2 = None
else:
    cv2.setNumThreads(0)

Box = tuple[int, int, int, int]
"""(left, top, right, bottom) in pixels of the array it refers to."""


def area_resized(rgb: np.ndarray, size_wh: tuple[int, int], box: Box | None = None) -> np.ndarray:
    """``box`` (default: all) of the (height, width, 3) uint8 ``rgb`` area-averaged to ``size_wh``.

    A box already of that size is returned as a view; an integer factor is an exact box average.
    """
    left, top, right, bottom = box or (0, 0, rgb.shape[1], rgb.shape[0])
    part = rgb[top:bottom, left:right]
    if (right - left, bottom - top) == tuple(size_wh):
        return part
    factor = integer_factor((right - left, bottom - top), size_wh)
    if factor is not None:
        return box_reduced(part, factor)
    resized = Image.fromarray(np.ascontiguousarray(part)).resize(size_wh, resample=Image.Resampling.BOX)
    return np.asarray(resized)


def box_reduced(rgb: np.ndarray, factor: int) -> np.ndarray:
    """Each ``factor`` x ``factor`` block of ``rgb`` (whose sides it divides) as its rounded mean."""
    height, width = rgb.shape[0] // factor, rgb.shape[1] // factor
    if factor == 2 and cv2 is not None:
        return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
    return np.asarray(Image.fromarray(np.ascontiguousarray(rgb)).reduce(factor))


def integer_factor(size: tuple[int, int], out_size: tuple[int, int]) -> int | None:
    """The common integer factor from ``size`` down to ``out_size`` (1 when equal), else None."""
    factor_x, factor_y = size[0] / out_size[0], size[1] / out_size[1]
    return int(factor_x) if factor_x == factor_y and factor_x.is_integer() else None
