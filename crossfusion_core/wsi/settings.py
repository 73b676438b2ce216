"""The `segmentation` and `patching` config sections, checked once where the workflow hands them over."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crossfusion_core.settings import reject_unknown_keys, require, section_values

SEGMENTATION_METHODS = ("otsu", "morphological")
MAGNIFICATIONS = ("coarse", "source", "fine")
"""The keys of `patching.magnifications`; each sets the field ``<key>_magnification``."""


@dataclass(frozen=True)
class SegmentationSettings:
    """How the tissue mask is found: Otsu threshold (plus opening/closing for ``morphological``)."""

    method: str = "otsu"
    mask_mpp: float = 8.0
    min_region_um2: float = 40000.0
    min_hole_um2: float = 20000.0

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None) -> SegmentationSettings:
        settings = cls(**section_values(mapping, cls, "segmentation"))
        require(
            settings.method in SEGMENTATION_METHODS,
            "segmentation",
            f"method={settings.method!r}",
            f"use one of {list(SEGMENTATION_METHODS)}",
        )
        require(settings.mask_mpp > 0, "segmentation", f"mask_mpp={settings.mask_mpp}", "use e.g. 8.0")
        require(
            settings.min_region_um2 >= 0 and settings.min_hole_um2 >= 0,
            "segmentation",
            "min_region_um2 and min_hole_um2 must not be negative",
            "use 0 to keep every region / hole",
        )
        return settings


@dataclass(frozen=True)
class PatchingSettings:
    """Patch side and the three magnifications; each is an integer multiple of the next coarser one."""

    patch_size_px: int = 256
    coarse_magnification: float = 5.0
    source_magnification: float = 10.0
    fine_magnification: float = 20.0
    min_tissue_fraction: float = 0.25

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None) -> PatchingSettings:
        mapping = dict(mapping or {})
        reject_unknown_keys(
            mapping, cls, "patching", known=("patch_size_px", "magnifications", "min_tissue_fraction")
        )
        magnifications = dict(mapping.pop("magnifications", None) or {})
        unknown = sorted(set(magnifications) - set(MAGNIFICATIONS))
        require(not unknown, "patching", f"unknown magnifications {unknown}", "use coarse, source, fine")
        for scale, value in magnifications.items():
            mapping[f"{scale}_magnification"] = value
        settings = cls(**section_values(mapping, cls, "patching"))
        settings._check()
        return settings

    def _check(self) -> None:
        require(self.patch_size_px >= 16, "patching", f"patch_size_px={self.patch_size_px}", "use 256")
        require(
            0 <= self.min_tissue_fraction <= 1,
            "patching",
            f"min_tissue_fraction={self.min_tissue_fraction}",
            "use a fraction such as 0.25",
        )
        for low, high in (
            (self.coarse_magnification, self.source_magnification),
            (self.source_magnification, self.fine_magnification),
        ):
            ratio = high / low if low > 0 else 0
            require(
                ratio >= 2 and ratio == round(ratio),
                "patching",
                f"magnifications {low:g}x -> {high:g}x are not an integer ratio of at least 2",
                "use e.g. {coarse: 5, source: 10, fine: 20} so each patch splits into whole children",
            )

    @property
    def children_per_side(self) -> tuple[int, int]:
        """How many children a patch has per side: (coarse -> source, source -> fine)."""
        return (
            round(self.source_magnification / self.coarse_magnification),
            round(self.fine_magnification / self.source_magnification),
        )
