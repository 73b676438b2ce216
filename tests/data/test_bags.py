"""Patient bags from real feature h5 files: concatenation, empty slides, wrong dims, missing files."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from crossfusion_core.data.bags import SurvivalBagDataset, patient_bags, read_features
from crossfusion_core.data.clinical import load_patients
from crossfusion_core.errors import FeatureMismatchError, PipelineInputError
from data.feature_files import feature_path_for, write_feature_cohort, write_feature_file


@pytest.fixture
def cohort(tmp_path):
    return write_feature_cohort(tmp_path, n_patients=4, dim=6)


def bags_of(cohort, patients=None):
    patients = load_patients(cohort.survival_csv) if patients is None else patients
    return patient_bags(patients, cohort.feature_dirs, np.arange(len(patients)) % 4)


def test_two_slides_are_concatenated_per_scale(cohort) -> None:
    bags, dim = bags_of(cohort)
    assert dim == 6
    dataset = SurvivalBagDataset(bags, cache=True)
    x5, x10, x20, label_bin, months, censorship, case_id = dataset[0]
    assert case_id == "SYN-P0000" and bags[0].slide_ids == ("SYN-P0000-S1", "SYN-P0000-S2")
    for x, m in ((x5, 5), (x10, 10), (x20, 20)):
        parts = [read_features(feature_path_for(cohort.feature_dirs, m, s)) for s in bags[0].slide_ids]
        torch.testing.assert_close(x, torch.from_numpy(np.concatenate(parts)))
    assert x20.dtype == torch.float32 and x20.shape[1] == 6
    assert (label_bin, censorship) == (0, bags[0].censorship) and months == bags[0].survival_months
    assert dataset[0][0] is x5, "a cached bag is read once"
    assert SurvivalBagDataset(bags, cache=False)[0][0] is not SurvivalBagDataset(bags, cache=False)[0][0]


def test_slide_without_patches_is_skipped_with_warning(cohort, caplog) -> None:
    write_feature_file(feature_path_for(cohort.feature_dirs, 10, "SYN-P0000-S2"), np.zeros((0, 6)))
    with caplog.at_level(logging.WARNING):
        bags, _ = bags_of(cohort)
    assert bags[0].slide_ids == ("SYN-P0000-S1",)
    assert "SYN-P0000-S2" in caplog.text


def test_patient_without_any_patches_is_an_error(cohort) -> None:
    """The folds leave such a patient out (data/exclusions.py); meeting one means stale folds."""
    write_feature_file(feature_path_for(cohort.feature_dirs, 5, "SYN-P0003-S1"), np.zeros((0, 6)))
    with pytest.raises(PipelineInputError, match="patient SYN-P0003 has no slide with tissue") as info:
        bags_of(cohort)
    assert "rerun the `excluded_patients` and `splits` steps" in str(info.value)


def test_wrong_dimension_names_the_file(cohort) -> None:
    bad = write_feature_file(feature_path_for(cohort.feature_dirs, 20, "SYN-P0002-S1"), np.ones((5, 7)))
    with pytest.raises(FeatureMismatchError, match="dimension 7") as info:
        bags_of(cohort)
    assert str(bad) in str(info.value)


def test_missing_feature_file_names_patient_and_file(cohort) -> None:
    missing = feature_path_for(cohort.feature_dirs, 10, "SYN-P0001-S1")
    missing.unlink()
    with pytest.raises(PipelineInputError, match="patient SYN-P0001") as info:
        bags_of(cohort)
    assert str(missing) in str(info.value)
