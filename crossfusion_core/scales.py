"""The three scales every stage shares, defined once: patching cuts them, features are extracted at
them, bags and models take them in this order, plots paint them.

A scale has three spellings in the pipeline and they all come from here: its objective power
(``magnification``, the key of feature folders in the code), the h5 group and feature-folder name
(``group``, ``x5``) and the name model options use (``name``, ``coarse``). The scales are fixed rather
than configurable because every downstream piece is built for exactly these three: the models take
``model(x5, x10, x20)``, the feature folders are ``x5/x10/x20`` and checkpoints name their weights by
scale. Torch-free and cheap to import: rules/common.smk reads it while Snakemake builds the DAG.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crossfusion_core.errors import PipelineInputError

MPP_AT_1X = 10.0
"""Microns per pixel at magnification 1x by the usual convention (10x = 1.0 mpp, 20x = 0.5 mpp)."""

FIXED_BY = "the scales are fixed by crossfusion_core/scales.py"
"""The fix of every error about an unknown scale: there is nothing in the config to change."""


def mpp_for_magnification(magnification: float) -> float:
    """Microns per pixel of an image at ``magnification`` (e.g. 20 -> 0.5)."""
    return MPP_AT_1X / magnification


def magnification_for_mpp(mpp: float) -> float:
    """Nominal magnification of an image at ``mpp`` microns per pixel (e.g. 0.25 -> 40)."""
    return MPP_AT_1X / mpp


@dataclass(frozen=True)
class Scale:
    """One scale: its model-option name, its objective power and what the multi-scale model does with it."""

    name: str
    magnification: int
    role: str

    @property
    def group(self) -> str:
        """The h5 group of patches files and the feature folder of this scale (``x5``)."""
        return f"x{self.magnification}"

    @property
    def mpp(self) -> float:
        """Microns per pixel of a patch at this scale."""
        return mpp_for_magnification(self.magnification)


SCALES = (
    Scale("coarse", 5, "context: the 10x tokens cross-attend to the 5x tokens (tissue architecture)"),
    Scale("source", 10, "query: the tissue grid; its tokens read the other two scales and are fused"),
    Scale("fine", 20, "detail: the 10x tokens cross-attend to the 20x tokens (cells and nuclei)"),
)
"""Coarsest first, the order of ``model(x5, x10, x20)``; each magnification is a whole multiple of the
previous one, so every patch splits into whole children."""

SCALE_NAMES = tuple(scale.name for scale in SCALES)
MAGNIFICATIONS = tuple(scale.magnification for scale in SCALES)
SCALE_GROUPS = tuple(scale.group for scale in SCALES)


def children_per_side(parent: Scale, child: Scale) -> int:
    """How many ``child`` patches span a ``parent`` patch along one side (5x -> 10x: 2).

    A patch has the same side in pixels at every scale, so the ratio of magnifications is the ratio of
    physical sides; the table keeps it whole (see ``SCALES``).
    """
    return child.magnification // parent.magnification


def scale_named(name: str) -> Scale:
    """The scale a model option names (``"coarse"``)."""
    return _lookup({scale.name: scale for scale in SCALES}, name, "scale name")


def scale_at(magnification: float) -> Scale:
    """The scale at ``magnification`` (5, 10 or 20)."""
    return _lookup({scale.magnification: scale for scale in SCALES}, magnification, "magnification")


def scale_of_group(group: str) -> Scale:
    """The scale an h5 group or feature folder stands for (``"x5"``)."""
    return _lookup({scale.group: scale for scale in SCALES}, group, "scale group")


def _lookup(by_key: Mapping[Any, Scale], key: object, kind: str) -> Scale:
    if key not in by_key:
        raise PipelineInputError(None, f"{kind} {key!r} is not one of {list(by_key)}", FIXED_BY)
    return by_key[key]
