"""The backbone registry: real shipped weights, exact architectures, and one clear missing-weights error."""

from __future__ import annotations

from pathlib import Path

import huggingface_hub.constants
import matplotlib.cbook
import numpy as np
import pytest
import torch
from PIL import Image

from crossfusion_core.errors import MissingWeightsError, PipelineInputError
from crossfusion_core.features.backbones import BACKBONES, backbone_spec, load_backbone
from crossfusion_core.features.transforms import to_model_input

MILITARY_UNIFORM = 652
"""ImageNet class of Grace Hopper's portrait (she is in US Navy uniform)."""

TIMM_BACKBONES = ["resnet50_trunc", "uni", "uni2_h", "virchow2", "gigapath", "h_optimus_0"]


def _grace_hopper_224() -> torch.Tensor:
    path = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    image = Image.open(path).convert("RGB")
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    square = image.crop((left, top, left + side, top + side)).resize((224, 224), Image.Resampling.BILINEAR)
    return torch.from_numpy(np.array(square))[None]


def test_efficientnet_lite0_loads_shipped_weights_and_recognises_a_uniform() -> None:
    spec, model = load_backbone("efficientnet_lite0")
    x = to_model_input(_grace_hopper_224(), spec.transform)
    with torch.inference_mode():
        top5 = model.net(x).topk(5).indices[0].tolist()
        features = model(x)
        again = load_backbone("efficientnet_lite0")[1](x)
    assert MILITARY_UNIFORM in top5
    assert features.shape == (1, spec.dim) == (1, 1280)
    torch.testing.assert_close(features, again, rtol=0, atol=0)


@pytest.mark.parametrize("name", TIMM_BACKBONES)
def test_architecture_gives_the_declared_dimension(name: str) -> None:
    """Built on the meta device: exact shapes of billion-parameter models without allocating them."""
    spec = backbone_spec(name)
    with torch.device("meta"):
        model = spec.architecture()
        out = model(torch.empty(2, 3, spec.transform.crop_px, spec.transform.crop_px))
    assert tuple(out.shape) == (2, spec.dim)


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_missing_configured_weights_file_names_the_file_and_the_fix(name: str, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "pytorch_model.bin"
    with pytest.raises(MissingWeightsError) as info:
        load_backbone(name, {name: missing})
    message = str(info.value)
    assert name in message and str(missing) in message and "features.weights" in message


@pytest.mark.parametrize("name", [n for n in sorted(BACKBONES) if BACKBONES[n].hub_repo])
def test_unreachable_hub_gives_one_clear_error(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(MissingWeightsError) as info:
        load_backbone(name)
    assert BACKBONES[name].hub_repo in str(info.value)
    assert f"features.weights: {{{name}:" in str(info.value)


def test_checkpoint_of_another_architecture_is_rejected(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.pth"
    torch.save({"state_dict": {"fc.weight": torch.zeros(2, 2)}}, wrong)
    with pytest.raises(PipelineInputError, match="does not fit backbone efficientnet_lite0"):
        load_backbone("efficientnet_lite0", {"efficientnet_lite0": wrong})


def test_unknown_backbone_lists_the_known_ones() -> None:
    with pytest.raises(PipelineInputError, match="efficientnet_lite0"):
        backbone_spec("resnet18")
