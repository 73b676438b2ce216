"""CrossFusion against the original implementation's stored outputs."""

from __future__ import annotations

import pytest
import torch

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.models.crossfusion import CrossFusion


def test_matches_original_outputs(original_model: CrossFusion, parity: dict) -> None:
    with torch.no_grad():
        output = original_model(parity["x5"], parity["x10"], parity["x20"])
    torch.testing.assert_close(output.logits, parity["logits"], rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(output.hazards, parity["hazards"], rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(output.survival, parity["S"], rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(output.risk, parity["risk"], rtol=1e-4, atol=1e-6)


def test_accepts_bags_without_batch_dimension(original_model: CrossFusion, parity: dict) -> None:
    with torch.no_grad():
        output = original_model(parity["x5"][0], parity["x10"][0], parity["x20"][0])
    torch.testing.assert_close(output.risk, parity["risk"], rtol=1e-4, atol=1e-6)


def test_eval_is_deterministic_and_training_is_not(original_model: CrossFusion, parity: dict) -> None:
    bags = (parity["x5"], parity["x10"], parity["x20"])
    with torch.no_grad():
        first, second = original_model(*bags).logits, original_model(*bags).logits
        assert torch.equal(first, second)
        original_model.train()
        torch.manual_seed(0)
        dropped = original_model(*bags).logits
    assert not torch.allclose(dropped, first)


def test_mismatched_state_dict_names_the_keys(parity: dict) -> None:
    state_dict = dict(parity["state_dict"])
    del state_dict["final_ln.weight"]
    state_dict["extra.weight"] = torch.zeros(1)
    with pytest.raises(PipelineInputError, match=r"final\.norm\.weight.*extra\.weight"):
        CrossFusion.from_original_state_dict(state_dict, **parity["config"])


def test_wrong_size_is_reported(parity: dict) -> None:
    config = {**parity["config"], "backbone_dim": 128}
    with pytest.raises(PipelineInputError, match="wrong shapes"):
        CrossFusion.from_original_state_dict(parity["state_dict"], **config)


def test_identity_projection_when_backbone_matches_embedding() -> None:
    model = CrossFusion(backbone_dim=32, embed_dim=32, num_heads=2, n_bins=3)
    assert not any(key.startswith("project.") for key in model.state_dict())
    assert model(torch.randn(2, 32), torch.randn(5, 32), torch.randn(17, 32)).logits.shape == (1, 3)
