"""The synthetic cohort's `dataset` section: its kind alone, survival for every patient, drawn folds."""

from __future__ import annotations

import pytest

from crossfusion_core.settings import SettingsError
from crossfusion_core.synthetic.dataset import SyntheticDataset


def test_the_synthetic_dataset_has_survival_and_no_fold_files() -> None:
    dataset = SyntheticDataset.from_mapping({"kind": "synthetic"})
    assert dataset == SyntheticDataset() and dataset.has_survival and dataset.splits_dir is None


def test_the_synthetic_dataset_takes_no_other_key() -> None:
    """Its slides come from the `synthetic` section; a path given here would be silently unused."""
    with pytest.raises(SettingsError) as refused:
        SyntheticDataset.from_mapping({"kind": "synthetic", "splits_dir": "folds"})
    assert refused.value.key == ("splits_dir",) and "unknown key" in refused.value.problem
