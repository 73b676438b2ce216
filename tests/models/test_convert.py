"""The checkpoint converter: an original best_model.pt becomes a model.pt that loads and predicts."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.models.checkpoint import load_checkpoint
from crossfusion_core.models.convert import main


def test_cli_round_trip(tmp_path: Path, parity: dict) -> None:
    original_path, output_path = tmp_path / "best_model.pt", tmp_path / "fold_0" / "model.pt"
    torch.save({f"module.{key}": value for key, value in parity["state_dict"].items()}, original_path)
    main([str(original_path), str(output_path), "--bin-edges", "0", "12.5", "30", "60", "200"])

    model, info = load_checkpoint(output_path)
    assert info.model_name == "crossfusion"
    assert info.backbone_dim == 96
    assert info.n_bins == 4
    assert info.bin_edges == (0.0, 12.5, 30.0, 60.0, 200.0)
    assert info.model_options.embed_dim == 64
    assert (info.best_epoch, info.protocol) == (None, None)
    with torch.no_grad():
        output = model(parity["x5"], parity["x10"], parity["x20"])
    torch.testing.assert_close(output.risk, parity["risk"], rtol=1e-4, atol=1e-6)
    assert list(tmp_path.glob("**/*.partial*")) == []


def test_not_a_crossfusion_file(tmp_path: Path) -> None:
    original_path = tmp_path / "best_model.pt"
    torch.save({"weight": torch.zeros(2)}, original_path)
    with pytest.raises(PipelineInputError, match=r"best_model\.pt.*not a CrossFusion state dict"):
        main([str(original_path), str(tmp_path / "model.pt")])
