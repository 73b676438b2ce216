"""Area downsampling: OpenCV's fast 2x2 average gives Pillow's numbers, every other factor is Pillow's."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from crossfusion_core.wsi.resampling import area_resized, box_reduced


def _blocks_of_every_sum() -> np.ndarray:
    """2x2 blocks whose sums run through 0..1020 (every rounding case), in all three channels."""
    sums = np.arange(4 * 255 + 1)
    values = np.stack([sums // 4 + (i < sums % 4) for i in range(4)], axis=-1).astype(np.uint8)
    blocks = values.reshape(-1, 1, 2, 2).transpose(1, 2, 0, 3).reshape(2, -1)
    return np.repeat(blocks[..., None], 3, axis=2)


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_box_average_equals_pillows_reduce(factor: int):
    rng = np.random.default_rng(factor)
    rgb = rng.integers(0, 256, (factor * 40, factor * 30, 3), dtype=np.uint8)
    expected = np.asarray(Image.fromarray(rgb).reduce(factor))
    np.testing.assert_array_equal(box_reduced(rgb, factor), expected)


def test_every_2x2_rounding_case_equals_pillow():
    rgb = _blocks_of_every_sum()
    np.testing.assert_array_equal(box_reduced(rgb, 2), np.asarray(Image.fromarray(rgb).reduce(2)))


def test_a_box_of_a_region_is_cut_then_averaged():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (64, 96, 3), dtype=np.uint8)
    box = (10, 6, 42, 38)
    cut = np.ascontiguousarray(rgb[6:38, 10:42])
    np.testing.assert_array_equal(
        area_resized(rgb, (16, 16), box), np.asarray(Image.fromarray(cut).reduce(2))
    )
    np.testing.assert_array_equal(area_resized(rgb, (32, 32), box), cut)
    odd = np.asarray(Image.fromarray(cut).resize((20, 20), resample=Image.Resampling.BOX))
    np.testing.assert_array_equal(area_resized(rgb, (20, 20), box), odd)
