"""Per-patient bags of patch features at 5x, 10x and 20x, read from the feature h5 files.

A patient with several slides gets one bag per scale: the rows of its slides' ``features`` datasets
concatenated in slide order (the order of the survival table), because labels and predictions are per
patient. ``parent_index`` is not carried over: the models take the three bags only. A slide whose file
has zero patches at some scale (no tissue found) is skipped with a warning. Patients with no usable slide
at all never get here: :mod:`crossfusion_core.data.exclusions` leaves them out before the folds are made,
so meeting one is an error (folds made from other features than the ones read).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from crossfusion_core.errors import FeatureMismatchError, PipelineInputError
from crossfusion_core.scales import MAGNIFICATIONS

LOGGER = logging.getLogger(__name__)
BYTES_PER_VALUE = 4
"""Features are float32."""


@dataclass(frozen=True)
class SlideFeatures:
    """Where one slide's three feature files are and how many patches each holds."""

    slide_id: str
    paths: tuple[Path, Path, Path]
    n_patches: tuple[int, int, int]


@dataclass(frozen=True)
class PatientBag:
    """A patient's survival label and the slides whose features make up its bags."""

    case_id: str
    slides: tuple[SlideFeatures, ...]
    label_bin: int
    survival_months: float
    censorship: int

    @property
    def slide_ids(self) -> tuple[str, ...]:
        return tuple(slide.slide_id for slide in self.slides)

    @property
    def n_patches(self) -> int:
        """Patches over all slides and scales."""
        return sum(sum(slide.n_patches) for slide in self.slides)


def feature_path(feature_dirs: Mapping[int, Path], magnification: int, slide_id: str) -> Path:
    """``{dir for magnification}/{slide_id}.h5``, the feature-extraction contract."""
    return Path(feature_dirs[magnification]) / f"{slide_id}.h5"


def feature_shape(path: Path) -> tuple[int, int]:
    """(N, D) of ``features`` in ``path`` without reading it, so checks stay cheap on big cohorts."""
    try:
        with h5py.File(path, "r") as handle:
            if "features" not in handle:
                raise FeatureMismatchError(path, "feature file has no 'features' dataset")
            shape = handle["features"].shape
    except OSError as exc:
        raise FeatureMismatchError(path, f"feature file cannot be read ({exc})") from exc
    if len(shape) != 2:
        raise FeatureMismatchError(path, f"'features' has shape {shape}, expected (N, D)")
    return int(shape[0]), int(shape[1])


def slide_features(
    case_id: str, slide_id: str, feature_dirs: Mapping[int, Path], backbone_dim: int | None
) -> tuple[SlideFeatures, int]:
    """Locate and shape-check one slide's files; returns them and the feature dim they agree on."""
    paths = tuple(feature_path(feature_dirs, m, slide_id) for m in MAGNIFICATIONS)
    n_patches = []
    for path in paths:
        if not path.is_file():
            raise PipelineInputError(
                path,
                f"patient {case_id} (in the split) has no feature file for slide {slide_id}",
                "extract features for every slide of the survival table, or drop the patient",
            )
        rows, dim = feature_shape(path)
        if backbone_dim is not None and dim != backbone_dim:
            raise FeatureMismatchError(
                path,
                f"features have dimension {dim}, other files of this run have {backbone_dim}",
                "extract every slide with the same backbone",
            )
        backbone_dim = dim
        n_patches.append(rows)
    return SlideFeatures(slide_id, paths, tuple(n_patches)), backbone_dim


def patient_bags(
    patients: pd.DataFrame, feature_dirs: Mapping[int, Path], label_bins: Sequence[int]
) -> tuple[list[PatientBag], int]:
    """One :class:`PatientBag` per row of ``patients`` (from ``clinical.patient_table``) and the feature dim.

    Only file headers are read here; slides with zero patches at any scale are skipped with a warning.
    """
    bags, backbone_dim = [], None
    for row, label_bin in zip(patients.itertuples(index=False), label_bins, strict=True):
        slides = []
        for slide_id in row.slide_ids:
            slide, backbone_dim = slide_features(row.case_id, slide_id, feature_dirs, backbone_dim)
            if min(slide.n_patches) == 0:
                LOGGER.warning(
                    "patient %s: skipping slide %s, it has no tissue patches", row.case_id, slide_id
                )
                continue
            slides.append(slide)
        if not slides:
            raise PipelineInputError(
                None,
                f"patient {row.case_id} has no slide with tissue patches ({', '.join(row.slide_ids)}) "
                "but is in the folds",
                "make the folds from these features: rerun the `excluded_patients` and `splits` steps",
            )
        bags.append(
            PatientBag(
                row.case_id, tuple(slides), int(label_bin), float(row.survival_months), int(row.censorship)
            )
        )
    if backbone_dim is None:
        raise PipelineInputError(None, "no patients to build bags for")
    return bags, backbone_dim


def features_size_bytes(bags: Sequence[PatientBag], backbone_dim: int) -> int:
    """Memory the features of ``bags`` take once loaded, from the file headers alone."""
    return sum(bag.n_patches for bag in bags) * backbone_dim * BYTES_PER_VALUE


def read_features(path: Path) -> np.ndarray:
    """The ``features`` dataset of one file as float32."""
    with h5py.File(path, "r") as handle:
        return np.asarray(handle["features"][...], dtype=np.float32)


def load_bag(bag: PatientBag) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The (N5, D), (N10, D), (N20, D) tensors of a patient, slides concatenated in order."""
    return slide_bags(bag.slides)


def slide_bags(slides: Sequence[SlideFeatures]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The (N5, D), (N10, D), (N20, D) tensors of ``slides`` concatenated in order (a patient's bags,
    whether or not its survival is known)."""
    return tuple(
        torch.from_numpy(np.concatenate([read_features(slide.paths[i]) for slide in slides]))
        for i in range(len(MAGNIFICATIONS))
    )


class SurvivalBagDataset(Dataset):
    """Items ``(x5, x10, x20, label_bin, survival_months, censorship, case_id)``, one per patient.

    With ``cache`` the bags are read once, on first use, and kept in memory, which is what small cohorts
    want (every epoch reads every bag); without it each item is re-read from h5, which is fast enough for
    TCGA-sized bags and keeps memory flat.
    """

    def __init__(self, bags: Sequence[PatientBag], cache: bool) -> None:
        self.bags = list(bags)
        self.cache = cache
        self._loaded: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    def __len__(self) -> int:
        return len(self.bags)

    def __getitem__(self, index: int) -> tuple:
        bag = self.bags[index]
        if index in self._loaded:
            features = self._loaded[index]
        else:
            features = load_bag(bag)
            if self.cache:
                self._loaded[index] = features
        return (*features, bag.label_bin, bag.survival_months, bag.censorship, bag.case_id)
