"""Gradient x input per patch: signed, zero where a model does not look, and the probe's own score."""

from __future__ import annotations

import numpy as np
import torch
from scipy.stats import spearmanr

from crossfusion_core.models.attribution import risk_attribution
from crossfusion_core.models.linear_probe import LinearProbe
from crossfusion_core.models.probe_fit import ProbeTargets, fit_linear_probe
from crossfusion_core.models.registry import build_model
from crossfusion_core.models.standardized import Standardized

DIM = 6


def _bags(seed: int) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(n, DIM, generator=generator) for n in (4, 12, 40)]


def test_for_the_linear_probe_it_ranks_patches_as_the_probes_own_scores() -> None:
    """The probe's risk is a monotone function of the mean of per-patch linear terms, so within a scale
    gradient x input orders the patches exactly as the probe's patch scores do (mean pooling: with
    ``mean_std`` the spread term makes a patch's share depend on the rest of its bag)."""
    rng = np.random.default_rng(0)
    probe = LinearProbe(DIM, n_components=3, head="cox", penalty=0.05, pooling="mean")
    pooled = torch.from_numpy(rng.normal(size=(30, 3 * DIM))).float()
    risk = pooled[:, 5].numpy()
    targets = ProbeTargets(
        survival_months=np.exp(-risk) * 20.0,
        censorship=np.zeros(30, int),
        label_bin=np.zeros(30, int),
        bin_edges=np.array([0.0, 10.0, 20.0, 40.0, 1e4]),
        alpha=0.0,
    )
    fit_linear_probe(probe, pooled, targets)
    bags = _bags(1)
    attribution = risk_attribution(probe, *bags)
    with torch.no_grad():
        scores = probe.patch_scores(*bags)
    for group in ("x5", "x10", "x20"):
        assert spearmanr(attribution[group].numpy(), scores[group].numpy()).statistic > 0.999


def test_a_single_scale_model_attributes_nothing_to_the_scales_it_ignores() -> None:
    torch.manual_seed(0)
    model = Standardized(build_model("abmil", DIM, 4, {"hidden_dim": 8, "scale": "fine"}), DIM)
    attribution = risk_attribution(model, *_bags(2))
    assert attribution["x5"] is None and attribution["x10"] is None
    assert attribution["x20"].shape == (40,) and torch.isfinite(attribution["x20"]).all()


def test_every_crossfusion_scale_gets_a_finite_signed_score_in_eval_mode() -> None:
    torch.manual_seed(0)
    model = Standardized(build_model("crossfusion", DIM, 4, {"embed_dim": 8, "num_heads": 2}), DIM)
    model.train()
    first = risk_attribution(model, *_bags(3))
    again = risk_attribution(model, *_bags(3))
    assert not model.training  # dropout off, so the map does not change from call to call
    for group, size in (("x5", 4), ("x10", 12), ("x20", 40)):
        assert first[group].shape == (size,)
        torch.testing.assert_close(first[group], again[group])
        assert (first[group] > 0).any() and (first[group] < 0).any()
