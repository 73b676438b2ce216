"""The linear probe's discrete head is fitted where the model lives, and fits on the CPU as before."""

from __future__ import annotations

import numpy as np
import torch

from crossfusion_core.models.linear_probe import LinearProbe
from crossfusion_core.models.outputs import SurvivalOutput
from crossfusion_core.models.probe_fit import ProbeTargets, discrete_fit_tensors, fit_linear_probe

N_BINS = 4


def _targets(n: int, rng: np.random.Generator) -> ProbeTargets:
    label_bin = rng.integers(0, N_BINS, n)
    return ProbeTargets(
        survival_months=(label_bin + 1) * 10.0,
        censorship=(rng.random(n) < 0.3).astype(int),
        label_bin=label_bin,
        bin_edges=np.array([0.0, 10.0, 20.0, 30.0, 40.0]),
        alpha=0.0,
    )


def test_fit_tensors_are_made_on_the_device_of_the_head() -> None:
    """The meta device stands in for a GPU: a model there gets its fit tensors there, not on the host
    (where numpy arrays become tensors by default and a CUDA head would refuse them)."""
    rng = np.random.default_rng(0)
    model = LinearProbe(backbone_dim=6, n_bins=N_BINS, n_components=2, head="discrete").to("meta")
    reduced = rng.normal(size=(12, 6))
    tensors = discrete_fit_tensors(model, reduced, _targets(12, rng))
    assert [t.device.type for t in tensors] == ["meta"] * 3
    assert [t.dtype for t in tensors] == [torch.float32, torch.long, torch.float32]
    assert [tuple(t.shape) for t in tensors] == [(12, 6), (12,), (12,)]


def test_discrete_probe_fits_and_ranks_risk_on_the_cpu() -> None:
    """Pooled features carry the time bin along one axis; the fitted head puts early bins at high risk."""
    rng = np.random.default_rng(1)
    targets = _targets(40, rng)
    pooled = rng.normal(size=(40, 3 * 5))
    pooled[:, 0] -= 2.0 * targets.label_bin
    model = LinearProbe(backbone_dim=5, n_bins=N_BINS, n_components=2, head="discrete", pooling="mean")
    features = torch.from_numpy(pooled).float()
    fit_linear_probe(model, features, targets)
    with torch.no_grad():
        risk = SurvivalOutput.from_logits(model.head(model.reduced(features))).risk.numpy()
    early, late = targets.label_bin == 0, targets.label_bin == N_BINS - 1
    assert risk[early].mean() > risk[late].mean() + 0.5


def test_the_closed_form_fit_on_items_pools_them_and_reads_their_labels() -> None:
    """``fit`` on dataset items (what training calls) fits the probe as its pooled rows and labels do."""
    rng = np.random.default_rng(2)
    targets = _targets(24, rng)
    generator = torch.Generator().manual_seed(2)
    labels = zip(
        targets.label_bin.tolist(), targets.survival_months, targets.censorship.tolist(), strict=True
    )
    items = [
        (*(torch.randn(n, 5, generator=generator) - label[0] for n in (3, 6, 9)), *label, f"patient_{i}")
        for i, label in enumerate(labels)
    ]
    fitted, reference = (
        LinearProbe(backbone_dim=5, n_bins=N_BINS, n_components=2, head="discrete", pooling="mean_max")
        for _ in range(2)
    )
    fitted.fit(items, targets.bin_edges, targets.alpha)
    with torch.no_grad():
        pooled = torch.cat([reference.pooled(*item[:3]) for item in items])
    fit_linear_probe(reference, pooled, targets)
    for name, value in reference.state_dict().items():
        torch.testing.assert_close(fitted.state_dict()[name], value, rtol=0, atol=0)
    assert fitted.head.weight.abs().sum() > 0
