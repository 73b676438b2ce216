"""The linear probe's pooled statistics per patient (fitting is tests/models/test_probe_fit.py)."""

from __future__ import annotations

import torch

from crossfusion_core.models.linear_probe import LinearProbe


def test_mean_std_pooling_gives_each_scales_mean_then_spread() -> None:
    generator = torch.Generator().manual_seed(0)
    bags = [torch.randn(n, 5, generator=generator) for n in (3, 8, 30)]
    probe = LinearProbe(5, scales=("coarse", "fine"), pooling="mean_std", n_components=2)
    pooled = probe.pooled(*bags)
    coarse, fine = bags[0], bags[2]
    expected = torch.cat(
        [coarse.mean(0), coarse.std(0, unbiased=False), fine.mean(0), fine.std(0, unbiased=False)]
    )
    torch.testing.assert_close(pooled[0], expected)
    assert probe.n_blocks == 4 and probe.components.shape == (20, 8)


def test_a_single_patch_has_no_spread() -> None:
    probe = LinearProbe(4, scales=("source",), pooling="mean_std", n_components=0)
    patch = torch.ones(1, 4)
    assert torch.equal(probe.pooled(patch, patch, patch)[0, 4:], torch.zeros(4))
