"""A trained cohort and a deployment target as real files: feature h5 files with a planted signal, three
linear-probe fold models trained on the first cohort (closed form: a second or two), and the second
cohort drawn from the same design with another seed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from data.feature_files import FeatureCohort, write_feature_cohort

from crossfusion_core.data.splits import write_fold_splits
from crossfusion_core.training.fold import train_fold
from crossfusion_core.training.settings import TrainingSettings

N_FOLDS = 3
BACKBONE = "toy"
PROBE = {"n_components": 0, "penalty": 0.3}


@dataclass(frozen=True)
class Deployment:
    trained: FeatureCohort
    run_dir: Path
    target: FeatureCohort

    @property
    def fold_dirs(self) -> list[Path]:
        return [self.run_dir / f"fold_{fold}" for fold in range(N_FOLDS)]

    @property
    def checkpoints(self) -> list[Path]:
        return [folder / "model.pt" for folder in self.fold_dirs]


@pytest.fixture(scope="package")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    root = tmp_path_factory.mktemp("deployment")
    trained = write_feature_cohort(root / "a", n_patients=48, seed=0)
    splits = [root / "a" / "splits" / f"splits_{k}.csv" for k in range(N_FOLDS)]
    write_fold_splits(trained.survival_csv, N_FOLDS, 0, splits)
    run_dir = root / "a" / "linear_probe" / BACKBONE
    for fold, split in enumerate(splits):
        train_fold(
            TrainingSettings.from_mapping({"models": ["linear_probe"], "n_folds": N_FOLDS}),
            "linear_probe",
            PROBE,
            trained.survival_csv,
            split,
            trained.feature_dirs,
            run_dir / f"fold_{fold}",
            threads=1,
            backbone=BACKBONE,
        )
    return Deployment(trained, run_dir, write_feature_cohort(root / "b", n_patients=30, seed=1))
