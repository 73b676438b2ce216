"""The multi-scale patch coordinates of one slide, read from `patches/{slide}.h5` and checked.

Extraction and feature import both need the same view of that file (coordinates, sizes and the
parent links between scales), so it is read and validated in one place.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.scales import scale_at

SCALE_ATTRS = ("patch_size", "patch_size_level0", "target_magnification", "level0_magnification")


@dataclass(frozen=True)
class ScalePatches:
    """The patches of one magnification: level-0 top-left corners plus the attributes they came with."""

    magnification: int
    coords_level0: np.ndarray
    patch_size_px: int
    patch_size_level0: int
    parent_index: np.ndarray | None
    attrs: dict[str, object] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return len(self.coords_level0)


@dataclass(frozen=True)
class PatchTable:
    """All scales of one slide, finest last, as written by the patching stage."""

    path: Path
    scales: tuple[ScalePatches, ...]

    @property
    def total(self) -> int:
        return sum(scale.count for scale in self.scales)

    def scale(self, magnification: int) -> ScalePatches:
        return next(s for s in self.scales if s.magnification == magnification)


def read_patch_table(patches_h5: str | Path, magnifications: Iterable[int]) -> PatchTable:
    """Read the given magnifications from a patches file, coarsest first, checking shapes and links."""
    patches_h5 = Path(patches_h5)
    if not patches_h5.is_file():
        raise PipelineInputError(patches_h5, "patches file does not exist", "run the `patch` step first")
    with h5py.File(patches_h5, "r") as handle:
        scales = tuple(_read_scale(handle, patches_h5, m) for m in sorted(magnifications))
    table = PatchTable(path=patches_h5, scales=scales)
    _check_parent_links(table)
    return table


def _read_scale(handle: h5py.File, path: Path, magnification: int) -> ScalePatches:
    name = scale_at(magnification).group
    if name not in handle or "coords" not in handle[name]:
        raise PipelineInputError(path, f"group {name}/coords is missing", "re-run the `patch` step")
    group = handle[name]
    coords = np.asarray(group["coords"][()], dtype=np.int64).reshape(-1, 2)
    missing = [a for a in SCALE_ATTRS if a not in group.attrs]
    if missing:
        raise PipelineInputError(path, f"group {name} lacks attributes {missing}", "re-run the `patch` step")
    parent = np.asarray(group["parent_index"][()], dtype=np.int64) if "parent_index" in group else None
    return ScalePatches(
        magnification=magnification,
        coords_level0=coords,
        patch_size_px=int(group.attrs["patch_size"]),
        patch_size_level0=int(group.attrs["patch_size_level0"]),
        parent_index=parent,
        attrs={k: _plain(v) for k, v in group.attrs.items()},
    )


def _check_parent_links(table: PatchTable) -> None:
    for coarse, fine in zip(table.scales, table.scales[1:], strict=False):
        if fine.parent_index is None:
            continue
        if len(fine.parent_index) != fine.count or (
            fine.count and (fine.parent_index.min() < 0 or fine.parent_index.max() >= coarse.count)
        ):
            raise PipelineInputError(
                table.path,
                f"{scale_at(fine.magnification).group}/parent_index does not index the "
                f"{coarse.count} rows of {scale_at(coarse.magnification).group}/coords",
                "re-run the `patch` step",
            )


def _plain(value: object) -> object:
    """h5py attribute values as plain Python scalars, so they can be written back unchanged."""
    return value.item() if isinstance(value, np.generic) else value
