"""One whitening rule for the fold's feature standardisation and the linear probe's fit.

The pinned numbers were computed on these inputs before the two shared ``models.whitening``: moving
their floors there must not change a single statistic either fits.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from crossfusion_core.models import probe_fit, standardized, whitening
from crossfusion_core.models.linear_probe import LinearProbe
from crossfusion_core.models.probe_fit import ProbeTargets, fit_linear_probe
from crossfusion_core.models.registry import build_model
from crossfusion_core.models.standardized import Standardized, fit_standardization

DIM = 6


def _items() -> list[tuple[torch.Tensor, ...]]:
    """Eight patients of three bags whose first feature is constant (its spread must stay 1)."""
    generator = torch.Generator().manual_seed(7)
    items = []
    for _ in range(8):
        bags = [2.0 + 3.0 * torch.randn(n, DIM, generator=generator) for n in (3, 7, 20)]
        for bag in bags:
            bag[:, 0] = 5.0
        items.append(tuple(bags))
    return items


def _close(actual: torch.Tensor, expected: list[float] | float) -> None:
    torch.testing.assert_close(
        actual.double(), torch.tensor(expected, dtype=torch.float64), rtol=1e-6, atol=1e-7
    )


def test_the_standardiser_and_the_probe_fit_share_the_helper() -> None:
    for module in (standardized, probe_fit):
        assert module.unscaled_if_constant is whitening.unscaled_if_constant
        assert module.whitened_axes is whitening.whitened_axes
        assert not hasattr(module, "MIN_SPREAD")


@pytest.mark.parametrize(
    ("basis", "components_sum", "components_row"),
    [
        ("patches", 15.814893565606326, [0.4837055802345276, 0.06506208330392838, -0.25822174549102783]),
        ("patients", 16.412826168816537, [0.5822206139564514, 0.004155905917286873, 0.03367390111088753]),
    ],
)
def test_standardiser_statistics_are_unchanged(
    basis: str, components_sum: float, components_row: list[float]
) -> None:
    model = Standardized(build_model("abmil", 3, 4, {"hidden_dim": 8}), DIM, n_components=3, basis=basis)
    fit_standardization(model, _items())
    _close(model.spread[:, 0], [1.0, 1.0, 1.0])
    _close(model.spread[:, 1], [3.1143646240234375, 3.4929146766662598, 3.2252085208892822])
    _close(model.spread.double().abs().sum(), 48.84395503997803)
    _close(model.components.double().abs().sum(), components_sum)
    _close(model.components[0, 1], components_row)


def test_probe_statistics_are_unchanged() -> None:
    rng = np.random.default_rng(3)
    pooled = torch.from_numpy(rng.normal(size=(20, 2 * DIM * 3))).float()
    pooled[:, 1] = 0.5
    label_bin = rng.integers(0, 4, 20)
    targets = ProbeTargets(
        survival_months=(label_bin + 1) * 10.0,
        censorship=(rng.random(20) < 0.3).astype(int),
        label_bin=label_bin,
        bin_edges=np.array([0.0, 10.0, 20.0, 30.0, 40.0]),
        alpha=0.0,
    )
    probe = LinearProbe(DIM, 4, n_components=2, head="discrete", pooling="mean_std")
    fit_linear_probe(probe, pooled, targets)
    _close(probe.spread[:4], [1.3590686321258545, 1.0, 1.116215467453003, 0.8926102519035339])
    _close(probe.spread.double().abs().sum(), 34.54652547836304)
    _close(probe.components.double().abs().sum(), 20.538078868063167)
    _close(probe.components[0, :2], [-0.3949733078479767, 0.22681806981563568])


def test_an_axis_the_data_does_not_span_is_not_blown_up() -> None:
    """Numpy (the probe) and torch (the standardiser) alike: unit variance per axis, a zero-variance
    axis divided by the root of the floor, not by zero."""
    axes = np.array([[1.0, 0.0], [0.0, 2.0]])
    expected = np.array([[0.5, 0.0], [0.0, 2.0 / whitening.MIN_SPREAD**0.5]])
    np.testing.assert_allclose(whitening.whitened_axes(axes, np.array([4.0, 0.0])), expected)
    torch.testing.assert_close(
        whitening.whitened_axes(
            torch.from_numpy(axes)[None], torch.tensor([[4.0, -1e-12]], dtype=torch.float64)
        ),
        torch.from_numpy(expected)[None],
    )
