"""Writing and reading our per-scale feature files (CLAM/TRIDENT layout, see docs/architecture.md).

`features` (N, D) float32 and `coords` (N, 2) int64 level-0 top-left corners, with the scale's
attributes on the file root (our contract) and mirrored on `coords` (where TRIDENT keeps them), so the
files open in tools written for either layout. x10 and x20 also carry `parent_index`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from crossfusion_core.errors import FeatureMismatchError
from crossfusion_core.io import atomic_path

REQUIRED_ATTRS = (
    "patch_size",
    "patch_size_level0",
    "target_magnification",
    "level0_magnification",
    "encoder",
)


@dataclass(frozen=True)
class FeatureFile:
    """The content of one feature file."""

    features: np.ndarray
    coords_level0: np.ndarray
    parent_index: np.ndarray | None
    attrs: dict[str, object]

    @property
    def empty(self) -> bool:
        return len(self.features) == 0


def write_feature_file(
    path: str | Path,
    features: np.ndarray,
    coords_level0: np.ndarray,
    attrs: Mapping[str, object],
    parent_index: np.ndarray | None = None,
) -> None:
    """Write one scale's features atomically; shapes are checked before anything touches the disk."""
    features = np.asarray(features, dtype=np.float32)
    coords_level0 = np.asarray(coords_level0, dtype=np.int64).reshape(-1, 2)
    if features.ndim != 2 or len(features) != len(coords_level0):
        raise FeatureMismatchError(
            path,
            f"{features.shape} features for {len(coords_level0)} coordinates",
            "this is a bug: report it",
        )
    missing = [a for a in REQUIRED_ATTRS if a not in attrs]
    if missing:
        raise FeatureMismatchError(path, f"attributes {missing} are missing", "this is a bug: report it")
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as handle:
        handle.create_dataset("features", data=features)
        coords = handle.create_dataset("coords", data=coords_level0)
        if parent_index is not None:
            handle.create_dataset("parent_index", data=np.asarray(parent_index, dtype=np.int64))
        for key, value in attrs.items():
            handle.attrs[key] = value
            coords.attrs[key] = value


def read_feature_file(path: str | Path) -> FeatureFile:
    """Read one feature file, warning (not failing) when it holds no patches so later stages can skip it."""
    path = Path(path)
    try:
        with h5py.File(path, "r") as handle:
            loaded = FeatureFile(
                features=np.asarray(handle["features"][()], dtype=np.float32),
                coords_level0=np.asarray(handle["coords"][()], dtype=np.int64),
                parent_index=np.asarray(handle["parent_index"][()]) if "parent_index" in handle else None,
                attrs=dict(handle.attrs),
            )
    except (OSError, KeyError) as exc:
        raise FeatureMismatchError(
            path, f"not a readable feature file ({exc})", "re-run extract_features"
        ) from exc
    if loaded.empty:
        warnings.warn(f"{path}: no patches (empty slide); it will be skipped", stacklevel=2)
    return loaded
