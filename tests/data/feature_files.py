"""A small cohort written as real files: a survival table and 5x/10x/20x feature h5 files per slide.

Survival times follow each patient's planted risk (log-hazard), and the 10x ("source") features of a
patient carry that risk along one fixed direction in feature space, so a model that reads 10x can learn
it. Files follow the extract_features contract (``features``, ``coords``, ``parent_index``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from crossfusion_core.scales import MAGNIFICATIONS


@dataclass(frozen=True)
class FeatureCohort:
    survival_csv: Path
    feature_dirs: dict[int, Path]
    true_risk: pd.Series


def write_feature_file(path: Path, features: np.ndarray, parents: int | None = None) -> Path:
    """One slide's features at one magnification, in the contract's layout."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = features.shape[0]
    with h5py.File(path, "w") as handle:
        handle["features"] = features.astype(np.float32)
        handle["coords"] = np.stack([np.arange(n) * 256, np.zeros(n)], axis=1).astype(np.int64)
        if parents is not None:
            handle["parent_index"] = (np.arange(n) % max(parents, 1)).astype(np.int64)
        handle.attrs["patch_size"] = 256
    return path


def write_feature_cohort(
    root: Path, n_patients: int = 40, dim: int = 8, seed: int = 0, signal: float = 3.0
) -> FeatureCohort:
    """Patients ``SYN-Pxxxx`` with one slide each (the first two patients with two), files under ``root``."""
    rng = np.random.default_rng(seed)
    direction = np.zeros(dim)
    direction[0] = 1.0
    risk = rng.normal(size=n_patients)
    months = rng.exponential(12.0 * np.exp(-1.5 * risk)) + 0.1
    censorship = (rng.random(n_patients) < 0.25).astype(int)
    dirs = {m: root / "features" / f"x{m}" for m in MAGNIFICATIONS}
    rows = []
    for p in range(n_patients):
        case_id = f"SYN-P{p:04d}"
        for s in range(2 if p < 2 else 1):
            slide_id = f"{case_id}-S{s + 1}"
            n5 = int(rng.integers(2, 4))
            n10 = n5 + int(rng.integers(1, 6))
            n20 = 2 * n10 + int(rng.integers(0, 5))
            x10 = rng.normal(size=(n10, dim)) + signal * risk[p] * direction
            write_feature_file(feature_path_for(dirs, 5, slide_id), rng.normal(size=(n5, dim)))
            write_feature_file(feature_path_for(dirs, 10, slide_id), x10, parents=n5)
            write_feature_file(feature_path_for(dirs, 20, slide_id), rng.normal(size=(n20, dim)), parents=n10)
            rows.append((case_id, f"{slide_id}.svs", round(float(months[p]), 2), int(censorship[p])))
    table = pd.DataFrame(rows, columns=["case_id", "slide_id", "survival_months", "censorship"])
    survival_csv = root / "clinical" / "survival.csv"
    survival_csv.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(survival_csv, index=False)
    ids = [f"SYN-P{p:04d}" for p in range(n_patients)]
    return FeatureCohort(survival_csv, dirs, pd.Series(risk, index=ids))


def feature_path_for(dirs: dict[int, Path], magnification: int, slide_id: str) -> Path:
    return dirs[magnification] / f"{slide_id}.h5"
