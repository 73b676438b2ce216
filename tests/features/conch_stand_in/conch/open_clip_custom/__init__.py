"""Stand-in for `conch.open_clip_custom`, written from the package's source (commit 141cc09), not copied.

What the pipeline relies on is kept: ``create_model(model_cfg, checkpoint_path=None, device="cpu", ...)``
builds the CoCa model of the named config and loads the checkpoint it is given, non-strictly, after
unwrapping ``state_dict`` and a ``module.`` prefix; called without a checkpoint it fails as the real one
does (``None.startswith``). The image tower has CONCH v1's modules and key layout: a timm ViT-B/16 at
448 px as ``visual.trunk`` (its forward returning all tokens), an attentional pooler with one query to
512 dimensions (``visual.attn_pool_contrast``) and its LayerNorm (``visual.ln_contrast``), the
contrastive projection and the captioning pooler. The text towers are reduced to a stub: the pipeline
drops them. Every call is recorded in ``CALLS``.
"""

from __future__ import annotations

from pathlib import Path

import timm
import torch
from torch import nn

CALLS: list[dict[str, object]] = []
CONFIGS = {"conch_ViT-B-16": {"embed_dim": 512, "embed_dim_caption": 768, "image_size": 448, "width": 768}}


class AttentionalPooler(nn.Module):
    """Learned queries attending over the trunk's tokens (key names of the real pooler)."""

    def __init__(self, d_model: int, context_dim: int, n_head: int, n_queries: int) -> None:
        super().__init__()
        self.query = nn.Parameter(torch.randn(n_queries, d_model))
        self.attn = nn.MultiheadAttention(d_model, n_head, kdim=context_dim, vdim=context_dim)
        self.ln_q = nn.LayerNorm(d_model)
        self.ln_k = nn.LayerNorm(context_dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        keys = self.ln_k(tokens).transpose(0, 1)
        queries = self.ln_q(self.query).unsqueeze(1).expand(-1, keys.shape[1], -1)
        return self.attn(queries, keys, keys, need_weights=False)[0].transpose(0, 1)


class VisualModel(nn.Module):
    def __init__(self, embed_dim: int, embed_dim_caption: int, image_size: int, width: int) -> None:
        super().__init__()
        self.trunk = timm.create_model(
            "vit_base_patch16_224",
            pretrained=False,
            img_size=image_size,
            num_classes=0,
            dynamic_img_size=True,
        )
        self.trunk.forward = self.trunk.forward_features
        self.attn_pool_contrast = AttentionalPooler(embed_dim, width, 8, 1)
        self.ln_contrast = nn.LayerNorm(embed_dim)
        self.proj_contrast = nn.Parameter(torch.randn(embed_dim, embed_dim) * width**-0.5)
        self.head = nn.Sequential()
        self.attn_pool_caption = AttentionalPooler(embed_dim_caption, width, 8, 256)
        self.ln_caption = nn.LayerNorm(embed_dim_caption)

    def forward_no_head(self, x: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        pooled = self.ln_contrast(self.attn_pool_contrast(self.trunk(x))[:, 0])
        return nn.functional.normalize(pooled, dim=-1) if normalize else pooled


class CoCa(nn.Module):
    def __init__(self, embed_dim: int, embed_dim_caption: int, image_size: int, width: int) -> None:
        super().__init__()
        self.text = nn.Linear(8, embed_dim)
        self.visual = VisualModel(embed_dim, embed_dim_caption, image_size, width)
        self.logit_scale = nn.Parameter(torch.ones([]))


def create_model(
    model_cfg: str,
    checkpoint_path: str | None = None,
    device: str | torch.device = "cpu",
    jit: bool = False,
    force_image_size: int | None = None,
    cache_dir: str | None = None,
    hf_auth_token: str | None = None,
) -> CoCa:
    CALLS.append({"model_cfg": model_cfg, "checkpoint_path": checkpoint_path, "device": device})
    model = CoCa(**CONFIGS[model_cfg])
    if checkpoint_path.startswith("hf_hub:"):
        raise OSError("the stand-in has no hub access")
    state = torch.load(Path(checkpoint_path), map_location="cpu")
    state = state.get("state_dict", state)
    if next(iter(state)).startswith("module"):
        state = {key[len("module.") :]: value for key, value in state.items()}
    model.load_state_dict(state, strict=False)
    return model.to(device)
