"""Fixtures shared by the model tests: the original implementation's outputs on a small model."""

from __future__ import annotations

import pytest
import torch
from reference_data import CROSSFUSION_REFERENCE

from crossfusion_core.models.crossfusion import CrossFusion

REFERENCE_DIR = CROSSFUSION_REFERENCE
PARITY_PATH = REFERENCE_DIR / "crossfusion_parity_small.pt"


@pytest.fixture(scope="session")
def parity() -> dict:
    """State dict (original names), inputs and outputs of the original CrossFusion, in eval mode."""
    return torch.load(PARITY_PATH, weights_only=True)


@pytest.fixture
def original_model(parity: dict) -> CrossFusion:
    return CrossFusion.from_original_state_dict(parity["state_dict"], **parity["config"]).eval()


@pytest.fixture
def structured_bags() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """96-dim bags (the parity model's size) of two kinds of patch, so attention has a preference."""
    generator = torch.Generator().manual_seed(3)

    def bag(n_patches: int) -> torch.Tensor:
        kinds = torch.randn(2, 96, generator=generator) * 3
        labels = torch.arange(n_patches) % 3 == 0
        return kinds[labels.long()] + 0.3 * torch.randn(n_patches, 96, generator=generator)

    return bag(7), bag(23), bag(90)
