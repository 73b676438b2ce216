"""The CPU runtime: efficientnet_lite0 with its real ImageNet weights, run by ONNX Runtime on real H&E
patches, gives the features PyTorch gives, and its exported graph is made once and reused."""

from __future__ import annotations

import numpy as np
import openslide
import torch

from crossfusion_core.features.backbones import backbone_spec, load_backbone
from crossfusion_core.features.onnx_runtime import onnx_encoder, weights_digest
from crossfusion_core.features.transforms import to_model_input

PATCH_PX = 256


def _cmu_patches(cmu_svs, count: int = 12) -> torch.Tensor:
    """(count, 256, 256, 3) uint8 patches on a grid over the real scan."""
    with openslide.OpenSlide(str(cmu_svs)) as slide:
        width, height = slide.dimensions
        corners = [(x, y) for y in range(0, height - PATCH_PX, 700) for x in range(0, width - PATCH_PX, 700)]
        tiles = [np.asarray(slide.read_region(c, 0, (PATCH_PX, PATCH_PX)).convert("RGB")) for c in corners]
    return torch.from_numpy(np.stack(tiles[:count]))


def test_onnx_runtime_features_match_pytorch_on_real_patches(cmu_svs, tmp_path) -> None:
    torch.set_num_threads(2)
    spec, model = load_backbone("efficientnet_lite0")
    pixels = to_model_input(_cmu_patches(cmu_svs), spec.transform)
    with torch.inference_mode():
        reference = model(pixels)
    encoder = onnx_encoder(spec.name, model, spec.transform.crop_px, threads=2, cache_dir=tmp_path)
    features = encoder(pixels)
    assert features.shape == reference.shape == (12, backbone_spec("efficientnet_lite0").dim)
    cosine = torch.nn.functional.cosine_similarity(features, reference, dim=1)
    assert cosine.min().item() >= 0.999
    # a batch of another size runs through the same graph (the batch axis is dynamic)
    torch.testing.assert_close(encoder(pixels[:5]), features[:5], rtol=1e-4, atol=1e-4)


def test_the_graph_is_exported_once_per_weights_and_reused(tmp_path) -> None:
    spec, model = load_backbone("efficientnet_lite0")
    first = onnx_encoder(spec.name, model, spec.transform.crop_px, threads=1, cache_dir=tmp_path)
    exported_at = first.graph_path.stat().st_mtime_ns
    again = onnx_encoder(spec.name, model, spec.transform.crop_px, threads=1, cache_dir=tmp_path)
    assert again.graph_path == first.graph_path and again.graph_path.stat().st_mtime_ns == exported_at
    with torch.no_grad():
        model.net._conv_head.weight.mul_(1.01)
    assert weights_digest(model, spec.transform.crop_px) not in first.graph_path.name
    assert not list(tmp_path.glob(".*partial*"))
