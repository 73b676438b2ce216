"""The torch modules that turn a patch encoder's output into one feature vector per patch.

They live apart from the backbone registry (:mod:`crossfusion_core.features.backbones`) so that the
registry, which the workflow reads while it builds its DAG, does not import torch.
"""

from __future__ import annotations

import torch
from torch import nn


class TimmPooled(nn.Module):
    """A timm model built with ``num_classes=0``: its forward already returns pooled features."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ClassAndMeanPatchTokens(TimmPooled):
    """Virchow's embedding: class token concatenated with the mean of the patch tokens.

    ``n_prefix_tokens`` (class + register tokens) are skipped before averaging, as the model card does.
    """

    def __init__(self, net: nn.Module, n_prefix_tokens: int) -> None:
        super().__init__(net)
        self.n_prefix_tokens = n_prefix_tokens

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.net(x)
        return torch.cat([tokens[:, 0], tokens[:, self.n_prefix_tokens :].mean(1)], dim=-1)


class SpatialMean(TimmPooled):
    """A truncated CNN (timm ``features_only``) followed by global average pooling, as CLAM does."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)[-1].mean(dim=(2, 3))


class EfficientNetPooled(TimmPooled):
    """EfficientNet-Lite's pooled penultimate activations (1280-d), skipping the classifier."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.extract_features(x).mean(dim=(2, 3))


class ConchImageEncoder(TimmPooled):
    """CONCH v1's image tower (the CoCa model's ``visual``): the attention-pooled, layer-normed 512-d
    embedding before the contrastive projection, which is what CoCa's ``encode_image(proj_contrast=False,
    normalize=False)`` and TRIDENT's ``conch_v1`` return. The text towers are not kept."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.forward_no_head(x, normalize=False)
