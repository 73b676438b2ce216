"""Bring your own features: import CLAM or TRIDENT feature files into our per-scale layout.

CLAM writes `h5_files/{slide}.h5` (`features` (N, D), `coords` (N, 2)); TRIDENT writes
`features_{encoder}/{slide}.h5` (`features` (N, D) or (1, N, D), `coords` with the scale's attributes).
Both lack our cross-scale `parent_index`, so it is taken from our patches file when one is given (after
checking the coordinates are the same patches) or rebuilt from geometry: a patch's parent is the
coarser patch that contains its centre.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from crossfusion_core.errors import FeatureMismatchError
from crossfusion_core.features.feature_files import write_feature_file
from crossfusion_core.features.patch_table import PatchTable, read_patch_table
from crossfusion_core.features.settings import ExternalFeatures


@dataclass(frozen=True)
class ExternalScale:
    """One external feature file, flattened to (N, D) and (N, 2), with what it says about its scale."""

    path: Path
    magnification: int
    features: np.ndarray
    coords_level0: np.ndarray
    attrs: dict[str, object]
    encoder: str


def import_external_features(
    slide_id: str,
    external: ExternalFeatures,
    patches_h5: str | Path | None,
    expected_dim: int | None,
    out_paths: Mapping[int, str | Path],
    patch_size_px: int = 256,
) -> None:
    """Check and convert one slide's external features; ``patch_size_px`` is used only if files omit it."""
    scales = [
        read_external_scale(external_file(external, m, slide_id), m, external.format)
        for m in sorted(out_paths)
    ]
    _check_dims(scales, expected_dim)
    table = read_patch_table(patches_h5, out_paths.keys()) if patches_h5 is not None else None
    if table is not None:
        scales = [_aligned_to_table(scale, table) for scale in scales]
    sizes = [_size_level0(scale, table) for scale in scales]
    for i, scale in enumerate(scales):
        parent = None if i == 0 else _parent_index(scales[i - 1], sizes[i - 1], scale, sizes[i], table)
        write_feature_file(
            out_paths[scale.magnification],
            scale.features,
            scale.coords_level0,
            _attrs(scale, sizes[i], patch_size_px),
            parent,
        )


def external_file(external: ExternalFeatures, magnification: int, slide_id: str) -> Path:
    """Where the given format keeps ``slide_id``'s features for one magnification."""
    if magnification not in external.dirs:
        raise FeatureMismatchError(
            None, f"no external feature folder for {magnification}x", "add it to features.external.dirs"
        )
    root = external.dirs[magnification]
    pattern = "h5_files" if external.format == "clam" else "features_*"
    candidates = [root / f"{slide_id}.h5", *sorted(root.glob(f"{pattern}/{slide_id}.h5"))]
    found = [path for path in candidates if path.is_file()]
    if len(found) != 1:
        raise FeatureMismatchError(
            root,
            f"expected exactly one {external.format.upper()} feature file for {slide_id} "
            f"({root}/{pattern}/{slide_id}.h5), found {len(found)}: {[str(p) for p in found]}",
            "point features.external.dirs at the folder of one encoder's output",
        )
    return found[0]


def read_external_scale(path: Path, magnification: int, fmt: str) -> ExternalScale:
    """Read a CLAM or TRIDENT file, dropping TRIDENT's optional leading batch axis."""
    try:
        with h5py.File(path, "r") as handle:
            features = np.asarray(handle["features"][()], dtype=np.float32)
            coords = np.asarray(handle["coords"][()], dtype=np.int64)
            attrs = {**dict(handle.attrs), **dict(handle["coords"].attrs)}
    except (OSError, KeyError) as exc:
        raise FeatureMismatchError(path, f"not a {fmt.upper()} feature file ({exc})") from exc
    features = features[0] if features.ndim == 3 and features.shape[0] == 1 else features
    coords = coords[0] if coords.ndim == 3 and coords.shape[0] == 1 else coords
    if features.ndim != 2 or coords.shape != (len(features), 2):
        raise FeatureMismatchError(
            path, f"features {features.shape} and coords {coords.shape} do not describe the same N patches"
        )
    encoder = str(
        attrs.get("encoder", path.parent.name.removeprefix("features_") if fmt == "trident" else fmt)
    )
    return ExternalScale(path, magnification, features, coords, attrs, encoder)


def _check_dims(scales: list[ExternalScale], expected_dim: int | None) -> None:
    dims = {scale.magnification: scale.features.shape[1] for scale in scales}
    if len(set(dims.values())) != 1 or (expected_dim is not None and expected_dim not in dims.values()):
        raise FeatureMismatchError(
            scales[0].path.parent,
            f"feature dimensions per magnification {dims} differ from each other or from the expected "
            f"{expected_dim}",
            "import the output of one encoder for all scales, the one the model is configured for",
        )


def _aligned_to_table(scale: ExternalScale, table: PatchTable) -> ExternalScale:
    """Reorder ``scale`` to the patches file's row order; any patch not in both is an error."""
    ours = table.scale(scale.magnification).coords_level0
    row_of = {tuple(c): i for i, c in enumerate(ours.tolist())}
    rows = np.array([row_of.get(tuple(c), -1) for c in scale.coords_level0.tolist()], dtype=np.int64)
    extra = scale.coords_level0[rows < 0]
    if len(extra) or len(rows) != len(ours) or len(np.unique(rows)) != len(rows):
        raise FeatureMismatchError(
            scale.path,
            f"{scale.magnification}x coordinates do not match {table.path}: "
            f"{len(scale.coords_level0)} external vs {len(ours)} ours, "
            f"{len(extra)} external not in ours (first: {extra[:1].tolist()})",
            "extract the external features on our patch coordinates, or import without a patches file",
        )
    order = np.argsort(rows)
    return ExternalScale(
        scale.path, scale.magnification, scale.features[order], ours, scale.attrs, scale.encoder
    )


def _size_level0(scale: ExternalScale, table: PatchTable | None) -> int:
    """Patch side in level-0 pixels: from the file, else our patches file, else the coordinate grid step."""
    if "patch_size_level0" in scale.attrs:
        return int(scale.attrs["patch_size_level0"])
    if table is not None:
        return table.scale(scale.magnification).patch_size_level0
    steps = [np.diff(np.unique(scale.coords_level0[:, axis])) for axis in (0, 1)]
    steps = np.concatenate([s[s > 0] for s in steps])
    if len(steps) == 0:
        raise FeatureMismatchError(
            scale.path,
            "the patch size in level-0 pixels is neither stored (attr patch_size_level0) nor inferable from "
            "a grid of coordinates",
            "pass the slide's patches file so sizes and parents come from it",
        )
    return int(steps.min())


def _parent_index(
    coarse: ExternalScale, coarse_size: int, fine: ExternalScale, fine_size: int, table: PatchTable | None
) -> np.ndarray:
    """Row in ``coarse`` of the patch containing each ``fine`` patch's centre."""
    if table is not None and table.scale(fine.magnification).parent_index is not None:
        return table.scale(fine.magnification).parent_index
    offsets = np.unique(coarse.coords_level0 % coarse_size, axis=0)
    if len(offsets) > 1:
        raise FeatureMismatchError(
            coarse.path,
            f"{coarse.magnification}x patches are not on one grid",
            "pass the slide's patches file",
        )
    offset = offsets[0] if len(offsets) else np.zeros(2, np.int64)
    centres = fine.coords_level0 + fine_size // 2
    parent_corner = (centres - offset) // coarse_size * coarse_size + offset
    row_of = {tuple(c): i for i, c in enumerate(coarse.coords_level0.tolist())}
    parent = np.array([row_of.get(tuple(c), -1) for c in parent_corner.tolist()], dtype=np.int64)
    orphans = fine.coords_level0[parent < 0]
    if len(orphans):
        raise FeatureMismatchError(
            fine.path,
            f"{len(orphans)} {fine.magnification}x patches lie in no {coarse.magnification}x patch "
            f"(first at level-0 {orphans[0].tolist()})",
            "import coarse-scale features that cover every fine patch, or pass the slide's patches file",
        )
    return parent


def _attrs(scale: ExternalScale, size_level0: int, patch_size_px: int) -> dict[str, object]:
    patch_size = int(scale.attrs.get("patch_size", patch_size_px))
    level0_magnification = scale.attrs.get(
        "level0_magnification", scale.magnification * size_level0 / patch_size
    )
    return {
        "patch_size": patch_size,
        "patch_size_level0": size_level0,
        "target_magnification": scale.magnification,
        "level0_magnification": level0_magnification,
        "encoder": scale.encoder,
        "source": str(scale.path),
    }
