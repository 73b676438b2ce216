"""The fold's feature standardisation: statistics of the training patches, carried through model.pt."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from crossfusion_core.models.checkpoint import load_checkpoint, read_checkpoint_info, save_checkpoint
from crossfusion_core.models.registry import build_model
from crossfusion_core.models.standardized import Standardized, fit_standardization

DIM = 6


def _items(n_patients: int, offset: float, scale: float) -> list[tuple[torch.Tensor, ...]]:
    generator = torch.Generator().manual_seed(1)
    return [
        tuple(offset + scale * torch.randn(n, DIM, generator=generator) for n in (3, 7, 20))
        for _ in range(n_patients)
    ]


def test_statistics_are_per_scale_over_every_training_patch() -> None:
    items = _items(5, offset=4.0, scale=3.0)
    model = Standardized(build_model("abmil", DIM, 4, {"hidden_dim": 8}), DIM)
    fit_standardization(model, items)
    for row in range(3):
        patches = torch.cat([item[row] for item in items]).double()
        torch.testing.assert_close(model.center[row], patches.mean(0).float())
        torch.testing.assert_close(model.spread[row], patches.std(0, unbiased=False).float())
    standardised = torch.cat([model.standardised(*item)[2] for item in items])
    torch.testing.assert_close(standardised.mean(0), torch.zeros(DIM), atol=1e-5, rtol=0)


def test_a_shifted_and_scaled_cohort_gives_the_same_predictions() -> None:
    """What standardisation is for: the model sees features relative to the training cohort."""
    torch.manual_seed(0)
    inner = build_model("abmil", DIM, 4, {"hidden_dim": 8}).eval()
    risks = []
    for offset, scale in ((0.0, 1.0), (50.0, 7.0)):
        model = Standardized(inner, DIM).eval()
        items = _items(4, offset, scale)
        fit_standardization(model, items)
        with torch.no_grad():
            risks.append(torch.cat([model(*item).risk for item in items]))
    torch.testing.assert_close(risks[0], risks[1], atol=1e-4, rtol=1e-4)


def test_checkpoint_keeps_the_bare_weights_and_restores_the_statistics(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = Standardized(build_model("crossfusion", DIM, 4, {"embed_dim": 8, "num_heads": 2}), DIM)
    fit_standardization(model, _items(3, offset=2.0, scale=0.5))
    model.eval()
    save_checkpoint(
        tmp_path / "model.pt", model, "crossfusion", {"embed_dim": 8, "num_heads": 2}, DIM, 4, None
    )
    payload = torch.load(tmp_path / "model.pt", weights_only=True)
    assert set(payload["state_dict"]) == set(model.model.state_dict())
    reloaded, _ = load_checkpoint(tmp_path / "model.pt")
    assert isinstance(reloaded, Standardized)
    bags = _items(1, offset=2.0, scale=0.5)[0]
    with torch.no_grad():
        torch.testing.assert_close(reloaded(*bags).risk, model(*bags).risk)
        assert set(reloaded.patch_scores(*bags)) == {"x5", "x10", "x20"}
    assert read_checkpoint_info(tmp_path / "model.pt").model_name == "crossfusion"


def test_components_whiten_the_training_patches_of_each_scale(tmp_path: Path) -> None:
    items = _items(6, offset=1.0, scale=2.0)
    model = Standardized(build_model("abmil", 3, 4, {"hidden_dim": 8}), DIM, n_components=3)
    fit_standardization(model, items)
    for row in range(3):
        reduced = torch.cat([model.standardised(*item)[row] for item in items]).double()
        covariance = torch.cov(reduced.T, correction=0)
        torch.testing.assert_close(covariance, torch.eye(3, dtype=torch.float64), atol=1e-4, rtol=0)
    save_checkpoint(tmp_path / "model.pt", model, "abmil", {"hidden_dim": 8}, DIM, 4, None)
    reloaded, info = load_checkpoint(tmp_path / "model.pt")
    assert info.backbone_dim == DIM and reloaded.components.shape == (3, DIM, 3)
    with torch.no_grad():
        torch.testing.assert_close(reloaded(*items[0]).risk, model.eval()(*items[0]).risk)


def test_patient_components_follow_what_differs_between_patients_not_between_patches() -> None:
    """Features 0 and 1 move together from patch to patch but average out per patient; feature 5 varies
    little within a patient but shifts the whole bag from one patient to the next. The leading patch
    axis is the shared one of features 0 and 1, the leading patient axis feature 5; either is scaled to
    unit variance over the training patches."""
    generator = torch.Generator().manual_seed(2)
    items = []
    for shift in torch.linspace(-2.0, 2.0, 12):
        bags = []
        for n in (4, 9, 30):
            bag = 0.1 * torch.randn(n, DIM, generator=generator)
            bag[:, :2] += 10.0 * torch.randn(n, 1, generator=generator)
            bag[:, 5] += shift
            bags.append(bag)
        items.append(tuple(bags))
    leading = {}
    for basis in ("patches", "patients"):
        model = Standardized(build_model("abmil", 1, 4, {"hidden_dim": 8}), DIM, 1, basis)
        fit_standardization(model, items)
        leading[basis] = set(torch.nonzero(model.components[2, :, 0].abs() > 0.3).flatten().tolist())
        reduced = torch.cat([model.standardised(*item)[2] for item in items]).double()
        assert reduced.std(unbiased=False).item() == pytest.approx(1.0, abs=1e-3)
    assert leading == {"patches": {0, 1}, "patients": {5}}
