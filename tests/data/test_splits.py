"""Split files: the study's own load without overlap; generated ones are stratified and deterministic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from reference_data import TCGA_REFERENCE

from crossfusion_core.data.clinical import load_patients
from crossfusion_core.data.splits import read_fold_split, stratum_labels, write_fold_splits
from crossfusion_core.errors import PipelineInputError
from data.feature_files import write_feature_cohort

REFERENCE = TCGA_REFERENCE
SPLIT_FILES = sorted((REFERENCE / "splits").glob("tcga_*/splits_*.csv"))


def test_every_shared_split_file_loads_without_overlap() -> None:
    assert len(SPLIT_FILES) == 35
    for cohort in sorted({p.parent for p in SPLIT_FILES}):
        held_out = [set(read_fold_split(cohort / f"splits_{k}.csv").val) for k in range(5)]
        for k in range(5):
            split = read_fold_split(cohort / f"splits_{k}.csv")
            assert not set(split.train) & set(split.val)
            assert len(split.val) < len(split.train)
        assert sum(map(len, held_out)) == len(set().union(*held_out)), f"{cohort}: a patient held out twice"


def test_reference_copy_keeps_format_and_drops_unknown_patients(tmp_path) -> None:
    outs = [tmp_path / f"splits_{k}.csv" for k in range(5)]
    survival = REFERENCE / "survival" / "tcga_luad_survival.csv"
    write_fold_splits(survival, 5, 0, outs, splits_dir=REFERENCE / "splits" / "tcga_luad")
    original = read_fold_split(REFERENCE / "splits" / "tcga_luad" / "splits_0.csv")
    copied = read_fold_split(outs[0])
    known = set(load_patients(survival)["case_id"])
    assert copied.train == tuple(c for c in original.train if c in known)
    assert len(original.train) - len(copied.train) + len(original.val) - len(copied.val) == 9
    assert outs[0].read_text().splitlines()[0] == ",train,val"


def test_generated_folds_are_stratified_deterministic_and_partition(tmp_path) -> None:
    cohort = write_feature_cohort(tmp_path / "c", n_patients=60, dim=2)
    first = [tmp_path / "a" / f"splits_{k}.csv" for k in range(5)]
    second = [tmp_path / "b" / f"splits_{k}.csv" for k in range(5)]
    write_fold_splits(cohort.survival_csv, 5, 3, first)
    write_fold_splits(cohort.survival_csv, 5, 3, second)
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    splits = [read_fold_split(p) for p in first]
    patients = load_patients(cohort.survival_csv)
    assert sorted(c for s in splits for c in s.val) == sorted(patients["case_id"])
    strata = pd.Series(stratum_labels(patients, 4), index=patients["case_id"])
    for split in splits:
        held = strata.loc[list(split.val)].value_counts()
        expected = strata.value_counts() / 5
        assert np.all(np.abs(held.reindex(expected.index, fill_value=0) - expected) < 1.0)
    other_seed = [tmp_path / "c2" / f"splits_{k}.csv" for k in range(5)]
    write_fold_splits(cohort.survival_csv, 5, 4, other_seed)
    assert read_fold_split(other_seed[0]).val != splits[0].val


def test_overlapping_split_file_is_rejected(tmp_path) -> None:
    path = tmp_path / "splits_0.csv"
    pd.DataFrame({"train": ["A", "B", "C"], "val": ["C", None, None]}).to_csv(path)
    with pytest.raises(PipelineInputError, match="both train and val: C") as info:
        read_fold_split(path)
    assert str(path) in str(info.value)


def _excluded_csv(path: Path, case_ids: list[str]) -> Path:
    """A qc/excluded.csv listing ``case_ids`` (one glass slide each)."""
    rows = [(case_id, f"{case_id}-S1", "no_tissue", "no tissue") for case_id in case_ids]
    pd.DataFrame(rows, columns=["case_id", "slide_id", "reason", "explanation"]).to_csv(path, index=False)
    return path


def test_left_out_patients_are_in_no_drawn_fold(tmp_path, caplog) -> None:
    cohort = write_feature_cohort(tmp_path / "c", n_patients=12, dim=2)
    excluded = _excluded_csv(tmp_path / "excluded.csv", ["SYN-P0003", "SYN-P0007"])
    outs = [tmp_path / f"splits_{k}.csv" for k in range(3)]
    write_fold_splits(cohort.survival_csv, 3, 0, outs, excluded_csv=excluded)
    held_out = sorted(c for p in outs for c in read_fold_split(p).val)
    expected = [f"SYN-P{p:04d}" for p in range(12) if p not in (3, 7)]
    assert held_out == expected
    assert "2 patient(s) without a usable slide are in no fold" in caplog.text
    assert "SYN-P0003, SYN-P0007" in caplog.text


def test_left_out_patients_drop_out_of_the_study_folds(tmp_path) -> None:
    reference = REFERENCE / "splits" / "tcga_blca"
    original = read_fold_split(reference / "splits_2.csv")
    left_out = [original.train[0], original.val[0]]
    outs = [tmp_path / f"splits_{k}.csv" for k in range(5)]
    survival = REFERENCE / "survival" / "tcga_blca_survival.csv"
    excluded = _excluded_csv(tmp_path / "excluded.csv", left_out)
    write_fold_splits(survival, 5, 0, outs, splits_dir=reference, excluded_csv=excluded)
    copied = read_fold_split(outs[2])
    assert copied.train == original.train[1:] and copied.val == original.val[1:]
    assert not set(left_out) & {c for p in outs for s in [read_fold_split(p)] for c in s.train + s.val}


def test_too_few_usable_patients_for_the_folds_is_an_error(tmp_path) -> None:
    cohort = write_feature_cohort(tmp_path / "c", n_patients=4, dim=2)
    excluded = _excluded_csv(tmp_path / "excluded.csv", ["SYN-P0000", "SYN-P0001", "SYN-P0002"])
    outs = [tmp_path / f"splits_{k}.csv" for k in range(2)]
    with pytest.raises(PipelineInputError) as refused:
        write_fold_splits(cohort.survival_csv, 2, 0, outs, excluded_csv=excluded)
    assert refused.value.problem.startswith(
        "n_folds=2 is outside 2 .. 1 (the cohort has 1 patient(s) with a usable"
    )
    assert refused.value.fix == "add patients to the cohort"


def test_repeated_folds_partition_the_cohort_once_per_repeat_with_their_own_seed(tmp_path) -> None:
    """Repeat r draws its folds from seed + r: fold files 0-2 are the seed's, 3-5 the next seed's."""
    cohort = write_feature_cohort(tmp_path / "c", n_patients=30, dim=2)
    repeated = [tmp_path / "r" / f"splits_{k}.csv" for k in range(6)]
    write_fold_splits(cohort.survival_csv, 3, 4, repeated, repeats=2)
    single = [tmp_path / "s" / f"splits_{k}.csv" for k in range(3)]
    write_fold_splits(cohort.survival_csv, 3, 5, single)
    patients = set(load_patients(cohort.survival_csv)["case_id"])
    for repeat in range(2):
        held_out = [set(read_fold_split(p).val) for p in repeated[3 * repeat : 3 * repeat + 3]]
        assert set().union(*held_out) == patients and sum(map(len, held_out)) == len(patients)
    assert [p.read_bytes() for p in repeated[3:]] == [p.read_bytes() for p in single]
    assert repeated[0].read_bytes() != repeated[3].read_bytes()


def test_the_study_fold_files_are_one_repeat(tmp_path) -> None:
    outs = [tmp_path / f"splits_{k}.csv" for k in range(10)]
    survival = REFERENCE / "survival" / "tcga_luad_survival.csv"
    with pytest.raises(PipelineInputError, match="repeats=2"):
        write_fold_splits(survival, 5, 0, outs, splits_dir=REFERENCE / "splits" / "tcga_luad", repeats=2)
