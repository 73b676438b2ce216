"""Aligned 5x/10x/20x patch grids on real SVS files, written in the patches h5 contract."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.synthetic.svs_writer import write_aperio_svs
from crossfusion_core.wsi.patching import SlideWsiFiles, segment_and_patch
from crossfusion_core.wsi.settings import PatchingSettings, SegmentationSettings
from crossfusion_core.wsi.slide import slide_geometry


def _patch(slide, tmp_path) -> dict:
    """Segment and patch ``slide``; return the patches h5 as {group: {dataset or attr: value}}."""
    files = SlideWsiFiles(tmp_path / "mask.h5", tmp_path / "mask.png", tmp_path / "p.h5", tmp_path / "qc.png")
    segment_and_patch(slide, SegmentationSettings(), PatchingSettings(), None, files)
    with h5py.File(tmp_path / "p.h5") as h5:
        content = {name: {key: h5[name][key][()] for key in h5[name]} | dict(h5[name].attrs) for name in h5}
        return content | {"root": dict(h5.attrs)}


def _assert_nested(parents, parent_size, children, child_size, parent_index):
    assert child_size * 2 == parent_size
    offset = children - parents[parent_index]
    assert ((offset >= 0) & (offset + child_size <= parent_size)).all()
    assert np.all(np.bincount(parent_index, minlength=len(parents)) >= 1)


@pytest.mark.parametrize(
    ("fixture", "sizes_level0"), [("svs_40x", (2048, 1024, 512)), ("svs_20x", (1024, 512, 256))]
)
def test_grids_nest_inside_the_slide(request, tmp_path, fixture, sizes_level0):
    slide = request.getfixturevalue(fixture)
    patches = _patch(slide, tmp_path)
    x5, x10, x20 = patches["x5"], patches["x10"], patches["x20"]
    assert (x5["patch_size_level0"], x10["patch_size_level0"], x20["patch_size_level0"]) == sizes_level0
    assert len(x10["coords"]) >= 4 and len(x20["coords"]) == 4 * len(x10["coords"])
    assert np.bincount(x20["parent_index"]).tolist() == [4] * len(x10["coords"])
    _assert_nested(x5["coords"], sizes_level0[0], x10["coords"], sizes_level0[1], x10["parent_index"])
    _assert_nested(x10["coords"], sizes_level0[1], x20["coords"], sizes_level0[2], x20["parent_index"])
    assert len(np.unique(x5["coords"], axis=0)) == len(x5["coords"])
    assert (x5["coords"] % sizes_level0[0] == 0).all()
    geometry = slide_geometry(slide)
    assert (x5["coords"] + sizes_level0[0] <= (geometry.width_level0, geometry.height_level0)).all()
    assert x10["coords"].dtype == np.int64
    assert (x10["tissue_fraction"] >= 0.25).all()
    assert x10["target_mpp"] == 1.0 and x20["target_magnification"] == 20 and x5["patch_size"] == 256
    assert patches["root"]["empty"] == False  # noqa: E712 (numpy bool)


def test_same_tissue_gives_same_physical_patches_at_40x_and_20x(svs_40x, svs_20x, tmp_path):
    at_40x = _patch(svs_40x, tmp_path / "40x")
    at_20x = _patch(svs_20x, tmp_path / "20x")
    for group in ("x5", "x10", "x20"):
        np.testing.assert_array_equal(at_40x[group]["coords"], 2 * at_20x[group]["coords"])


def test_real_scan_gives_aligned_bags(cmu_svs, tmp_path):
    patches = _patch(cmu_svs, tmp_path)
    fine_size = patches["x20"]["patch_size_level0"]
    assert fine_size == round(256 * 0.5 / 0.499)
    assert patches["x10"]["patch_size_level0"] == 2 * fine_size
    assert len(patches["x10"]["coords"]) >= 3
    _assert_nested(
        patches["x5"]["coords"],
        4 * fine_size,
        patches["x10"]["coords"],
        2 * fine_size,
        patches["x10"]["parent_index"],
    )
    assert (tmp_path / "qc.png").read_bytes()[:4] == b"\x89PNG"


def test_blank_slide_gives_empty_bags(tmp_path):
    slide = write_aperio_svs(tmp_path / "blank.svs", np.full((1024, 1024, 3), 241, np.uint8), 0.5, 20)
    with pytest.warns(UserWarning, match="no tissue"):
        patches = _patch(slide, tmp_path)
    assert patches["root"]["empty"]
    for group in ("x5", "x10", "x20"):
        assert patches[group]["coords"].shape == (0, 2)
    assert patches["x10"]["parent_index"].shape == (0,)


def test_settings_refuse_magnifications_the_scale_table_fixes():
    with pytest.raises(PipelineInputError, match=r"magnifications.*crossfusion_core/scales\.py"):
        PatchingSettings.from_mapping({"magnifications": {"coarse": 5, "source": 10, "fine": 20}})
    with pytest.raises(PipelineInputError, match="unknown"):
        PatchingSettings.from_mapping({"patch_size": 256})
    assert PatchingSettings.from_mapping({"patch_size_px": 224}).patch_size_px == 224
