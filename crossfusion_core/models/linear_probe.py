"""A linear probe on mean-pooled features: the line below which a MIL model is not learning.

Per patient, each chosen scale's patch features are averaged (``pooling: mean_max`` adds their maximum,
``mean_std`` their standard deviation over the patches, which sees how alike a patient's patches are:
the synthetic cohort's 5x phenotype, pure-texture blocks against mixed ones, shows there and hardly in
the mean),
the scales are concatenated and standardised on the training patients, each scale's block is reduced by
its own whitened PCA (so a scale whose features vary more, or which has more of them, does not crowd the
others out of the few components a small cohort allows), and a linear head
maps them to a survival prediction: a Cox model (scikit-survival's elastic-net Cox with a Breslow
baseline, turned into discrete hazards per time bin) or a discrete-time head fitted to the NLL loss.
The fit is closed-form and deterministic: no epochs, no selection, nothing to tune on the held-out fold.

It is a torch module so that it goes through the same folds, prediction files, checkpoints and heatmaps
as every other model; its fitted statistics are buffers of the state dict. The fitting itself lives in
``models.probe_fit``, with the other ways of training a model.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from crossfusion_core.models.bags import as_bag
from crossfusion_core.models.outputs import SurvivalOutput
from crossfusion_core.scales import SCALE_GROUPS, SCALE_NAMES


class LinearProbe(nn.Module):
    """``model(x5, x10, x20)`` -> ``SurvivalOutput`` once fitted (``models.probe_fit``).

    Buffers: ``center`` and ``spread`` standardise the pooled features, ``components`` reduce them
    (block-diagonal: ``n_components`` whitened principal axes per pooled block, one block per scale and
    pooling; the identity when ``n_components`` is 0), ``bin_baseline_hazard`` holds the Cox head's
    baseline hazard per time bin. Before fitting they hold neutral values (a random orthonormal
    projection, a unit baseline) so that an unfitted probe still computes, as every registered model must.
    """

    def __init__(
        self,
        backbone_dim: int,
        n_bins: int = 4,
        scales: tuple[str, ...] = SCALE_NAMES,
        pooling: str = "mean_std",
        n_components: int = 4,
        head: str = "cox",
        penalty: float = 0.1,
        l1_ratio: float = 0.5,
    ) -> None:
        super().__init__()
        self.scales, self.pooling, self.head_kind = tuple(scales), pooling, head
        self.penalty, self.l1_ratio = penalty, l1_ratio
        self.backbone_dim = backbone_dim
        self.n_blocks = len(self.scales) * (1 if pooling == "mean" else 2)
        n_features = backbone_dim * self.n_blocks
        n_reduced = n_components * self.n_blocks or n_features
        self.register_buffer("center", torch.zeros(n_features))
        self.register_buffer("spread", torch.ones(n_features))
        self.register_buffer("components", nn.init.orthogonal_(torch.empty(n_features, n_reduced)))
        self.register_buffer("bin_baseline_hazard", torch.ones(n_bins))
        self.head = nn.Linear(n_reduced, 1 if head == "cox" else n_bins)

    @torch.no_grad()
    def fit(self, items: Sequence[tuple], bin_edges: np.ndarray, alpha: float) -> None:
        """The closed-form fit (``models.interface.ClosedFormModel``) by ``models.probe_fit``, imported
        here: it needs scikit-learn, which building or scoring a probe does not. Items are read once."""
        from crossfusion_core.models.probe_fit import ProbeTargets, fit_linear_probe

        rows = [(self.pooled(*(x.to(self.center.device) for x in item[:3])), *item[3:6]) for item in items]
        pooled, label_bin, months, censorship = zip(*rows, strict=True)
        labels = np.array(months, float), np.array(censorship, int), np.array(label_bin, int)
        fit_linear_probe(self, torch.cat(pooled), ProbeTargets(*labels, bin_edges, alpha))

    def pooled(self, x5: torch.Tensor, x10: torch.Tensor, x20: torch.Tensor) -> torch.Tensor:
        """(1, n_features): per chosen scale the mean (and max or std) over patches, scales concatenated."""
        bags = dict(zip(SCALE_NAMES, (x5, x10, x20), strict=True))
        parts = []
        for scale in self.scales:
            bag = as_bag(bags[scale], SCALE_GROUPS[SCALE_NAMES.index(scale)]).float()
            parts.append(bag.mean(dim=1))
            if self.pooling == "mean_max":
                parts.append(bag.amax(dim=1))
            elif self.pooling == "mean_std":
                parts.append(bag.std(dim=1, unbiased=False))
        return torch.cat(parts, dim=1)

    def forward(self, x5: torch.Tensor, x10: torch.Tensor, x20: torch.Tensor) -> SurvivalOutput:
        """All in float32, autocast or not: a linear model has nothing to gain from bf16, and its
        rounding would tie the risks of similar patients."""
        with torch.autocast(x10.device.type, enabled=False):
            logits = self._logits(self.head(self.reduced(self.pooled(x5, x10, x20))))
        return SurvivalOutput.from_logits(logits)

    @torch.no_grad()
    def patch_scores(
        self, x5: torch.Tensor, x10: torch.Tensor, x20: torch.Tensor, chunk_size: int = 1024
    ) -> dict[str, torch.Tensor | None]:
        """Each patch's share of the linear predictor: its features through the mean-pooling path.

        With mean pooling the head's input is the average of these per-patch terms, so a patch's score
        is exactly how much it pushes the prediction towards risk (max and std terms are left out).
        """
        bags = dict(zip(SCALE_NAMES, (x5, x10, x20), strict=True))
        direction = self.risk_direction()
        scores: dict[str, torch.Tensor | None] = dict.fromkeys(SCALE_GROUPS)
        width = self.center.numel() // len(self.scales)
        for position, scale in enumerate(self.scales):
            block = slice(position * width, position * width + self.backbone_dim)
            bag = as_bag(bags[scale])[0]
            weights = (self.components[block] @ direction) / self.spread[block]
            scores[SCALE_GROUPS[SCALE_NAMES.index(scale)]] = torch.cat(
                [(chunk - self.center[block]) @ weights for chunk in bag.split(chunk_size)]
            )
        return scores

    def reduced(self, pooled: torch.Tensor) -> torch.Tensor:
        return ((pooled - self.center) / self.spread) @ self.components

    def _logits(self, head_output: torch.Tensor) -> torch.Tensor:
        """Time-bin logits; for the Cox head ``h_k = 1 - exp(-dH0_k exp(lp))`` from the Breslow baseline."""
        if self.head_kind != "cox":
            return head_output
        cumulative = self.bin_baseline_hazard.double() * head_output.double().exp()
        hazards = (-torch.expm1(-cumulative)).clamp(1e-12, 1.0 - 1e-12)
        return torch.logit(hazards).float()

    def risk_direction(self) -> torch.Tensor:
        """The reduced-space direction along which risk rises: the Cox coefficients, or the sum of the
        bins' logit weights (every hazard up means earlier death)."""
        return self.head.weight.sum(dim=0)
