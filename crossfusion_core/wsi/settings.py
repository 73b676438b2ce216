"""The `segmentation` and `patching` config sections."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from crossfusion_core.scales import FIXED_BY, MAGNIFICATIONS
from crossfusion_core.settings import ConfigProblem, Count, Settings


class SegmentationSettings(Settings):
    """How the tissue mask is found: Otsu threshold (plus opening/closing for ``morphological``).

    Areas are in square microns and the mask's resolution in microns per pixel, so one setting means the
    same tissue on a 20x and a 40x scan.
    """

    section: ClassVar[str] = "segmentation"
    method: Literal["otsu", "morphological"] = "otsu"
    mask_mpp: float = Field(8.0, gt=0)
    min_region_um2: float = Field(40000.0, ge=0)
    min_hole_um2: float = Field(20000.0, ge=0)


class PatchingSettings(Settings):
    """Patch side and how much tissue a 10x patch needs. The scales patches are cut at are not settings
    but the table in crossfusion_core/scales.py: no model, feature folder or checkpoint could take others."""

    section: ClassVar[str] = "patching"
    patch_size_px: Count = Field(256, ge=16)
    min_tissue_fraction: float = Field(0.25, ge=0, le=1)

    @model_validator(mode="before")
    @classmethod
    def _no_magnifications(cls, values: Any) -> Any:
        """The scales used to be a setting; a config that still sets them is told why it cannot."""
        if isinstance(values, dict) and "magnifications" in values:
            scales = ", ".join(f"{magnification}x" for magnification in MAGNIFICATIONS)
            raise ConfigProblem(
                f"`magnifications` is not an option: patches are cut at {scales}",
                f"remove it; {FIXED_BY}",
                key=("magnifications",),
            )
        return values
