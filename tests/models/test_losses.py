"""The survival losses against examples worked out by hand."""

from __future__ import annotations

import math

import pytest
import torch

from crossfusion_core.models.losses import cox_partial_likelihood_loss, nll_survival_loss


def logit(p: float) -> float:
    return math.log(p / (1 - p))


def test_nll_matches_hand_computation() -> None:
    # hazards 0.5, 0.2, 0.25 -> survival 0.5, 0.4, 0.3
    logits = torch.tensor([[logit(0.5), logit(0.2), logit(0.25)]] * 4, requires_grad=True)
    label_bin = torch.tensor([1, 1, 0, 2])
    censorship = torch.tensor([0, 1, 0, 1])
    loss = nll_survival_loss(logits, label_bin, censorship, alpha=0.2)
    died_in_bin_1 = -math.log(0.5) - math.log(0.2)  # survived bin 0, died in bin 1
    censored_after_bin_1 = -math.log(0.4)  # survived through bin 1
    died_in_bin_0 = -math.log(0.5)
    censored_after_bin_2 = -math.log(0.3)
    expected = (died_in_bin_1 + 0.8 * censored_after_bin_1 + died_in_bin_0 + 0.8 * censored_after_bin_2) / 4
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    loss.backward()
    assert torch.isfinite(logits.grad).all()


def test_nll_alpha_weights_only_observed_deaths() -> None:
    logits = torch.tensor([[0.3, -0.2], [1.0, 0.5]])
    censored = nll_survival_loss(logits, torch.tensor([0, 1]), torch.tensor([1, 1]), alpha=0.0)
    assert nll_survival_loss(
        logits, torch.tensor([0, 1]), torch.tensor([1, 1]), alpha=0.5
    ).item() == pytest.approx(0.5 * censored.item())
    dead = nll_survival_loss(logits, torch.tensor([0, 1]), torch.tensor([0, 0]), alpha=0.0)
    assert nll_survival_loss(
        logits, torch.tensor([0, 1]), torch.tensor([0, 0]), alpha=0.7
    ).item() == pytest.approx(dead.item())


def test_nll_stays_finite_for_confident_wrong_predictions() -> None:
    logits = torch.tensor([[-60.0, -60.0]], requires_grad=True)
    loss = nll_survival_loss(logits, torch.tensor([0]), torch.tensor([0]))
    assert loss.item() == pytest.approx(60.0, rel=1e-3)
    loss.backward()
    assert logits.grad.abs().max() > 0.5, "a confidently wrong model still gets a gradient"


def test_cox_matches_hand_computation() -> None:
    risk = torch.tensor([1.0, 0.0, 2.0], requires_grad=True)
    months = torch.tensor([1.0, 2.0, 3.0])
    censorship = torch.tensor([0, 1, 0])
    loss = cox_partial_likelihood_loss(risk, months, censorship)
    # deaths at t=1 (risk set: all three) and t=3 (risk set: itself, contributes 0)
    expected = (math.log(math.e + 1 + math.e**2) - 1.0) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    loss.backward()
    assert risk.grad[0] < 0 < risk.grad[1], "the earliest death is pushed up, a survivor down"


def test_cox_without_deaths_is_zero_but_differentiable() -> None:
    risk = torch.tensor([0.5, -0.5], requires_grad=True)
    loss = cox_partial_likelihood_loss(risk, torch.tensor([1.0, 2.0]), torch.tensor([1, 1]))
    loss.backward()
    assert loss.item() == 0.0 and torch.equal(risk.grad, torch.zeros(2))
