"""Importing CLAM- and TRIDENT-layout feature files written here to those tools' specs."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from crossfusion_core.errors import FeatureMismatchError
from crossfusion_core.features.external import import_external_features
from crossfusion_core.features.feature_files import read_feature_file
from crossfusion_core.features.patch_table import read_patch_table
from crossfusion_core.features.settings import ExternalFeatures
from features.patch_files import MAGNIFICATIONS, write_patch_grid

DIM = 8


@pytest.fixture
def patches(svs_20x: Path, tmp_path: Path) -> Path:
    return write_patch_grid(tmp_path / "patches.h5", svs_20x)


def _write_external(
    root: Path, fmt: str, patches: Path, dims: dict[int, int] | None = None, shuffle: bool = True
) -> tuple[ExternalFeatures, dict[int, np.ndarray]]:
    """External files whose features encode their own coordinates, in a shuffled row order."""
    table = read_patch_table(patches, MAGNIFICATIONS)
    rng = np.random.default_rng(0)
    dirs, truth = {}, {}
    for scale in table.scales:
        m = scale.magnification
        order = rng.permutation(scale.count) if shuffle else np.arange(scale.count)
        coords = scale.coords_level0[order]
        features = np.repeat(coords.astype(np.float32), (dims or {}).get(m, DIM) // 2, axis=1)
        truth[m] = np.repeat(scale.coords_level0.astype(np.float32), DIM // 2, axis=1)
        dirs[m] = root / f"{m}x_256px_0px_overlap"
        if fmt == "clam":
            path = dirs[m] / "h5_files" / "SLIDE.h5"
        else:
            path = dirs[m] / "features_uni_v1" / "SLIDE.h5"
            features = features[None]
        path.parent.mkdir(parents=True)
        with h5py.File(path, "w") as handle:
            handle["features"] = features
            handle["coords"] = coords
            if fmt == "trident":
                handle["coords"].attrs.update(
                    patch_size=256,
                    patch_size_level0=scale.patch_size_level0,
                    target_magnification=m,
                    level0_magnification=20,
                )
    return ExternalFeatures(format=fmt, dirs=dirs), truth


@pytest.mark.parametrize("fmt", ["clam", "trident"])
def test_import_with_patches_file_reorders_to_our_patches(
    fmt: str, patches: Path, tmp_path: Path, out_paths: dict[int, Path]
) -> None:
    external, truth = _write_external(tmp_path / "ext", fmt, patches)
    import_external_features("SLIDE", external, patches, DIM, out_paths)
    table = read_patch_table(patches, MAGNIFICATIONS)
    for scale in table.scales:
        written = read_feature_file(out_paths[scale.magnification])
        np.testing.assert_array_equal(written.features, truth[scale.magnification])
        np.testing.assert_array_equal(written.coords_level0, scale.coords_level0)
        if scale.parent_index is not None:
            np.testing.assert_array_equal(written.parent_index, scale.parent_index)


@pytest.mark.parametrize("fmt", ["clam", "trident"])
def test_import_without_patches_file_rebuilds_parents_from_geometry(
    fmt: str, patches: Path, tmp_path: Path, out_paths: dict[int, Path]
) -> None:
    external, _ = _write_external(tmp_path / "ext", fmt, patches)
    import_external_features("SLIDE", external, None, None, out_paths)
    files = {m: read_feature_file(out_paths[m]) for m in MAGNIFICATIONS}
    assert files[20].attrs["encoder"] == ("uni_v1" if fmt == "trident" else "clam")
    for coarse, fine in ((5, 10), (10, 20)):
        parent_corner = files[coarse].coords_level0[files[fine].parent_index]
        size = int(files[coarse].attrs["patch_size_level0"])
        inside = (files[fine].coords_level0 >= parent_corner) & (
            files[fine].coords_level0 < parent_corner + size
        )
        assert inside.all()
        assert files[fine].features.shape == (len(files[fine].coords_level0), DIM)


def test_dimensions_that_differ_between_scales_are_named(
    patches: Path, tmp_path: Path, out_paths: dict[int, Path]
) -> None:
    external, _ = _write_external(tmp_path / "ext", "clam", patches, dims={20: 2 * DIM})
    with pytest.raises(FeatureMismatchError, match=r"\{5: 8, 10: 8, 20: 16\}"):
        import_external_features("SLIDE", external, patches, None, out_paths)


def test_dimension_other_than_the_backbone_is_rejected(
    patches: Path, tmp_path: Path, out_paths: dict[int, Path]
) -> None:
    external, _ = _write_external(tmp_path / "ext", "trident", patches)
    with pytest.raises(FeatureMismatchError, match="expected 1024"):
        import_external_features("SLIDE", external, patches, 1024, out_paths)


def test_coordinates_not_in_our_patches_are_reported(
    patches: Path, tmp_path: Path, out_paths: dict[int, Path]
) -> None:
    external, _ = _write_external(tmp_path / "ext", "clam", patches, shuffle=False)
    with h5py.File(external.dirs[10] / "h5_files" / "SLIDE.h5", "r+") as handle:
        handle["coords"][0] = (7, 7)
    with pytest.raises(FeatureMismatchError, match=r"1 external not in ours \(first: \[\[7, 7\]\]\)"):
        import_external_features("SLIDE", external, patches, None, out_paths)


def test_fine_patch_outside_every_coarse_patch_is_an_error(
    patches: Path, tmp_path: Path, out_paths: dict[int, Path]
) -> None:
    external, _ = _write_external(tmp_path / "ext", "clam", patches, shuffle=False)
    with h5py.File(external.dirs[20] / "h5_files" / "SLIDE.h5", "r+") as handle:
        handle["coords"][0] = (100_000, 0)
    with pytest.raises(
        FeatureMismatchError, match=r"1 20x patches lie in no 10x patch \(first at level-0 \[100000, 0\]\)"
    ):
        import_external_features("SLIDE", external, None, None, out_paths)


def test_missing_external_file_says_where_it_was_looked_for(
    tmp_path: Path, out_paths: dict[int, Path]
) -> None:
    external = ExternalFeatures(format="trident", dirs={m: tmp_path / f"x{m}" for m in MAGNIFICATIONS})
    with pytest.raises(FeatureMismatchError, match=r"features_\*/SLIDE.h5"):
        import_external_features("SLIDE", external, None, None, out_paths)
