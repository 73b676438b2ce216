"""The `segmentation` and `patching` config sections, checked once where the workflow hands them over."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crossfusion_core.scales import FIXED_BY, MAGNIFICATIONS
from crossfusion_core.settings import require, section_values

SEGMENTATION_METHODS = ("otsu", "morphological")


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
    """Patch side and how much tissue a 10x patch needs. The scales patches are cut at are not settings
    but the table in crossfusion_core/scales.py: no model, feature folder or checkpoint could take others."""

    patch_size_px: int = 256
    min_tissue_fraction: float = 0.25

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None) -> PatchingSettings:
        mapping = dict(mapping or {})
        scales = ", ".join(f"{magnification}x" for magnification in MAGNIFICATIONS)
        require(
            "magnifications" not in mapping,
            "patching",
            f"`magnifications` is not an option: patches are cut at {scales}",
            f"remove it; {FIXED_BY}",
        )
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
