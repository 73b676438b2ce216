"""The planted truth of a synthetic slide, and how well a patch ranking finds it.

Each synthetic slide has a truth file (``synthetic/truth/{slide}.h5``, written by ``slides``) with the
masks of its two high-risk phenotypes at ``MASK_MPP``. A heatmap can then be scored: the patches a model
ranks highest at the phenotype's own scale (20x for the nuclear one, 5x for the architectural one)
should lie in that phenotype's regions more often than patches do on average.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from crossfusion_core.errors import PipelineInputError

REGIONS = {"nuclear": "nuclear_mask", "architecture": "architecture_mask"}


@dataclass(frozen=True)
class PlantedTruth:
    """One slide's phenotype masks (bool, rows x cols at ``mask_mpp``) and its level-0 resolution."""

    masks: dict[str, np.ndarray]
    mask_mpp: float
    level0_mpp: float

    def region_share(self, region: str, coords_level0: np.ndarray, size_level0: float) -> np.ndarray:
        """Share of each square patch (top-left ``coords_level0``, side ``size_level0``) in ``region``."""
        mask = self.masks[region]
        scale = self.level0_mpp / self.mask_mpp
        first = np.floor(np.asarray(coords_level0, float) * scale).astype(int)
        last = np.ceil((np.asarray(coords_level0, float) + size_level0) * scale).astype(int)
        shares = [
            mask[max(y0, 0) : max(y1, y0 + 1), max(x0, 0) : max(x1, x0 + 1)].mean() if mask.size else 0.0
            for (x0, y0), (x1, y1) in zip(first, last, strict=True)
        ]
        return np.nan_to_num(np.asarray(shares, float))


def read_planted_truth(path: str | Path) -> PlantedTruth:
    """The truth file of one synthetic slide, with a clear error when it is not one."""
    path = Path(path)
    try:
        with h5py.File(path, "r") as h5:
            masks = {name: h5[dataset][()].astype(bool) for name, dataset in REGIONS.items()}
            return PlantedTruth(masks, float(h5.attrs["mask_mpp"]), float(h5.attrs["level0_mpp"]))
    except (OSError, KeyError) as exc:
        raise PipelineInputError(
            path, f"not a synthetic truth file ({exc})", "rerun synthetic_slide"
        ) from exc


@dataclass(frozen=True)
class Enrichment:
    """How much of the top-ranked patches lies in a region, against all patches of the slide."""

    top_share: float
    all_share: float
    n_top: int

    @property
    def lift(self) -> float:
        """Top share over the slide's share (1 = no better than chance); NaN when the region is absent."""
        return self.top_share / self.all_share if self.all_share > 0 else float("nan")


def top_patch_enrichment(
    scores: np.ndarray, region_share: np.ndarray, top_fraction: float = 0.1
) -> Enrichment:
    """Mean region share of the ``top_fraction`` highest-scoring patches, and of every patch."""
    scores, region_share = np.asarray(scores, float), np.asarray(region_share, float)
    n_top = max(1, round(top_fraction * len(scores)))
    top = np.argsort(-scores, kind="stable")[:n_top]
    return Enrichment(float(region_share[top].mean()), float(region_share.mean()), n_top)
