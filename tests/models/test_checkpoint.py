"""model.pt: what one writer stores, the readers give back; broken files are named, not half-loaded."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.models.checkpoint import load_checkpoint, read_checkpoint_info, save_checkpoint
from crossfusion_core.models.options import ABMILOptions
from crossfusion_core.models.registry import build_model
from crossfusion_core.training.settings import FoldTrainingSettings, TrainingSettings

EDGES = [0.0, 10.0, 20.5, 40.0, 99.0]


def _saved_abmil(path: Path) -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_model("abmil", 12, 4, {"hidden_dim": 8}).eval()
    save_checkpoint(path, model, "abmil", {"hidden_dim": 8}, 12, 4, EDGES, best_epoch=3, protocol="final")
    return model


def test_round_trip_keeps_weights_options_and_training_fields(tmp_path: Path) -> None:
    model = _saved_abmil(tmp_path / "fold_0" / "model.pt")
    reloaded, info = load_checkpoint(tmp_path / "fold_0" / "model.pt")
    assert (info.model_name, info.backbone_dim, info.n_bins) == ("abmil", 12, 4)
    assert info.bin_edges == tuple(EDGES)
    assert (info.best_epoch, info.protocol) == (3, "final")
    assert info.model_options == ABMILOptions(hidden_dim=8)  # the other options: their defaults
    assert read_checkpoint_info(tmp_path / "fold_0" / "model.pt") == info
    assert not reloaded.training
    bags = (torch.randn(2, 12), torch.randn(5, 12), torch.randn(9, 12))
    with torch.no_grad():
        torch.testing.assert_close(reloaded(*bags).risk, model(*bags).risk)
    assert [p.name for p in (tmp_path / "fold_0").iterdir()] == ["model.pt"]


def test_missing_checkpoint_is_named(tmp_path: Path) -> None:
    with pytest.raises(PipelineInputError, match=r"model\.pt: checkpoint does not exist"):
        read_checkpoint_info(tmp_path / "model.pt")


def test_truncated_checkpoint_is_named(tmp_path: Path) -> None:
    _saved_abmil(tmp_path / "model.pt")
    data = (tmp_path / "model.pt").read_bytes()
    (tmp_path / "model.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(PipelineInputError, match=r"model\.pt: cannot read the checkpoint"):
        load_checkpoint(tmp_path / "model.pt")


def test_incomplete_checkpoint_is_rejected(tmp_path: Path) -> None:
    torch.save({"state_dict": {}}, tmp_path / "model.pt")
    with pytest.raises(PipelineInputError, match="not a crossfusion-workflow checkpoint"):
        load_checkpoint(tmp_path / "model.pt")


def test_weights_of_another_size_are_rejected(tmp_path: Path) -> None:
    _saved_abmil(tmp_path / "model.pt")
    payload = torch.load(tmp_path / "model.pt", weights_only=True)
    payload["model_options"]["hidden_dim"] = 16
    torch.save(payload, tmp_path / "model.pt")
    with pytest.raises(PipelineInputError, match="do not fit model 'abmil'"):
        load_checkpoint(tmp_path / "model.pt")


def test_what_a_deployment_checks_travels_in_the_checkpoint(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build_model("abmil", 12, 4, {"hidden_dim": 8}).eval()
    training = TrainingSettings(n_bins=3, steps=400, models=("abmil",), final_model=True)
    recorded = training.fold_settings.model_dump(mode="json")
    save_checkpoint(
        tmp_path / "model.pt", model, "abmil", {}, 12, 4, EDGES, backbone="uni", training_settings=recorded
    )
    info = read_checkpoint_info(tmp_path / "model.pt")
    assert info.backbone == "uni"
    assert info.scales == (
        {"group": "x5", "magnification": 5, "mpp": 2.0},
        {"group": "x10", "magnification": 10, "mpp": 1.0},
        {"group": "x20", "magnification": 20, "mpp": 0.5},
    )
    assert FoldTrainingSettings.model_validate(info.training_settings) == FoldTrainingSettings(
        n_bins=3, steps=400
    )
    stored = torch.load(tmp_path / "model.pt", weights_only=True)["training_settings"]
    assert "models" not in stored and "final_model" not in stored


def test_stored_options_that_are_no_longer_valid_name_the_file(tmp_path: Path) -> None:
    _saved_abmil(tmp_path / "model.pt")
    payload = torch.load(tmp_path / "model.pt", weights_only=True)
    payload["model_options"]["hiden_dim"] = payload["model_options"].pop("hidden_dim")
    torch.save(payload, tmp_path / "model.pt")
    with pytest.raises(PipelineInputError, match=r"model\.pt: the stored settings .*unknown key 'hiden_dim'"):
        read_checkpoint_info(tmp_path / "model.pt")


def test_a_checkpoint_from_before_the_deployment_fields_reads_as_unknown(tmp_path: Path) -> None:
    _saved_abmil(tmp_path / "model.pt")
    payload = torch.load(tmp_path / "model.pt", weights_only=True)
    for key in ("backbone", "scales", "training_settings"):
        del payload[key]
    torch.save(payload, tmp_path / "model.pt")
    info = read_checkpoint_info(tmp_path / "model.pt")
    assert (info.backbone, info.scales, info.training_settings) == (None, None, None)
