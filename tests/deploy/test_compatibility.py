"""Checkpoints trained elsewhere against the deployment target: each mismatch names both sides."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from crossfusion_core.deploy.compatibility import check_models_from, trained_models
from crossfusion_core.errors import PipelineInputError
from deploy.trained_runs import write_trained_run

DIM = 12


def _trained_run(root: Path, backbone: str | None = "uni", dim: int = DIM) -> Path:
    return write_trained_run(root, "uni", recorded_backbone=backbone, dim=dim)


def _check(root: Path, backbone: str = "uni", dim: int | None = DIM, folds: int = 2) -> None:
    models = trained_models(root, "abmil", backbone, "ensemble", folds)
    check_models_from(models, "abmil", backbone, dim, "hospital_b, b.yaml")


def test_the_ensemble_reads_every_fold_and_the_final_model_its_folder(tmp_path: Path) -> None:
    folds = trained_models(tmp_path, "abmil", "uni", "ensemble", 3)
    assert [m.checkpoint for m in folds] == [tmp_path / "abmil/uni" / f"fold_{k}/model.pt" for k in range(3)]
    assert folds[1].reference_risks == (
        tmp_path / "abmil/uni/fold_1/training_risks.csv",
        tmp_path / "abmil/uni/fold_1/predictions.csv",
    )
    (final,) = trained_models(tmp_path, "abmil", "uni", "final", 3)
    assert final.checkpoint == tmp_path / "abmil/uni/final/model.pt"
    assert final.reference_risks == (tmp_path / "abmil/uni/final/training_risks.csv",)


def test_matching_checkpoints_pass(tmp_path: Path) -> None:
    _check(_trained_run(tmp_path))
    _check(_trained_run(tmp_path / "external", dim=7), dim=None)  # external features: width unknown yet


def test_another_backbone_names_both(tmp_path: Path) -> None:
    root = _trained_run(tmp_path)
    (root / "abmil" / "uni").rename(root / "abmil" / "conch_v1")
    with pytest.raises(
        PipelineInputError,
        match=r"fold_0/model\.pt: trained on 'uni' features, but the deploy"
        r"ment target \(hospital_b, b\.yaml\) gets 'conch_v1' features",
    ):
        _check(root, backbone="conch_v1")


def test_another_feature_width_names_both(tmp_path: Path) -> None:
    with pytest.raises(
        PipelineInputError,
        match=r"trained on 12-dimensional features, but 'uni' gives the "
        r"deployment target \(hospital_b, b\.yaml\) 1024-dimensional ones",
    ):
        _check(_trained_run(tmp_path), dim=1024)


def test_a_scale_the_target_lacks_names_both(tmp_path: Path) -> None:
    root = _trained_run(tmp_path)
    path = root / "abmil" / "uni" / "fold_1" / "model.pt"
    payload = torch.load(path, weights_only=True)
    payload["scales"][2] = {"group": "x40", "magnification": 40, "mpp": 0.25}  # a model of a 40x pipeline
    torch.save(payload, path)
    with pytest.raises(
        PipelineInputError,
        match=r"fold_1/model\.pt: trained on scale\(s\) \['40x at 0\.25 um/px'\]"
        r", which the deployment target \(hospital_b, b\.yaml\) does not have",
    ):
        _check(root)


def test_a_checkpoint_without_its_backbone_cannot_be_checked(tmp_path: Path) -> None:
    with pytest.raises(PipelineInputError, match="does not record the backbone and scales"):
        _check(_trained_run(tmp_path, backbone=None))


def test_missing_files_are_named_with_what_to_copy(tmp_path: Path) -> None:
    root = _trained_run(tmp_path)
    (root / "abmil" / "uni" / "fold_1" / "predictions.csv").unlink()
    with pytest.raises(
        PipelineInputError, match=r"fold_1/predictions\.csv: deploy\.models_from has no such file"
    ):
        _check(root)
    with pytest.raises(PipelineInputError, match=r"fold_2/model\.pt: deploy\.models_from has no such file"):
        _check(_trained_run(tmp_path / "two_folds"), folds=3)


def test_a_model_in_another_models_folder_is_refused(tmp_path: Path) -> None:
    root = _trained_run(tmp_path)
    (root / "abmil").rename(root / "transmil")
    models = trained_models(root, "transmil", "uni", "ensemble", 2)
    with pytest.raises(
        PipelineInputError, match="holds a 'abmil' model, but sits in the folder of 'transmil'"
    ):
        check_models_from(models, "transmil", "uni", DIM, "hospital_b")
