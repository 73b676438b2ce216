"""A feature cohort shared by the training tests: 48 patients whose 10x features carry their risk."""

from __future__ import annotations

import pytest
from data.feature_files import write_feature_cohort

from crossfusion_core.data.splits import write_fold_splits


@pytest.fixture(scope="package")
def cohort(tmp_path_factory):
    """(the cohort's files, the split file of fold 0 of 3)."""
    root = tmp_path_factory.mktemp("cohort")
    cohort = write_feature_cohort(root, n_patients=48, dim=8)
    splits = [root / "splits" / f"splits_{k}.csv" for k in range(3)]
    write_fold_splits(cohort.survival_csv, 3, 0, splits)
    return cohort, splits[0]
