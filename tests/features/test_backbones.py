"""The backbone registry: real shipped weights, exact architectures, and one clear missing-weights error."""

from __future__ import annotations

import importlib
import sys
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


CONCH_STAND_IN = Path(__file__).parent / "conch_stand_in"
TRIDENT_PRECISIONS = {
    "uni": "fp16",
    "virchow2": "fp16",
    "gigapath": "fp16",
    "h_optimus_0": "fp16",
    "uni2_h": "bf16",
    "conch_v1": "fp32",
}


@pytest.fixture
def conch_package(monkeypatch: pytest.MonkeyPatch):
    """The stand-in `conch` package on the import path, its recorded calls cleared."""
    monkeypatch.syspath_prepend(str(CONCH_STAND_IN))
    for name in [n for n in sys.modules if n == "conch" or n.startswith("conch.")]:
        monkeypatch.delitem(sys.modules, name)
    package = importlib.import_module("conch.open_clip_custom")
    package.CALLS.clear()
    yield package
    for name in [n for n in sys.modules if n == "conch" or n.startswith("conch.")]:
        sys.modules.pop(name)


def test_conch_is_built_by_its_package_from_the_given_checkpoint(conch_package, tmp_path: Path) -> None:
    """An official-layout checkpoint (CoCa's keys, a `module.` prefix as DataParallel saves them) in,
    the 512-d pooled image embedding out, the package called as its own code expects."""
    reference = conch_package.CoCa(**conch_package.CONFIGS["conch_ViT-B-16"]).eval()
    checkpoint = tmp_path / "pytorch_model.bin"
    torch.save({"module." + key: value for key, value in reference.state_dict().items()}, checkpoint)
    spec, model = load_backbone("conch_v1", {"conch_v1": checkpoint})
    calls = conch_package.CALLS
    assert calls == [{"model_cfg": "conch_ViT-B-16", "checkpoint_path": str(checkpoint), "device": "cpu"}]
    x = torch.randn(1, 3, spec.transform.crop_px, spec.transform.crop_px)
    with torch.inference_mode():
        features = model(x)
        expected = reference.visual.forward_no_head(x, normalize=False)
    assert features.shape == (1, spec.dim) == (1, 512)
    torch.testing.assert_close(features, expected, rtol=0, atol=1e-5)
    assert not any(name.startswith("text") for name, _ in model.named_parameters())


def test_conch_checkpoint_without_the_image_tower_is_rejected(conch_package, tmp_path: Path) -> None:
    """The package's own load skips keys that do not fit; a half-random CONCH must not pass."""
    coca = conch_package.CoCa(**conch_package.CONFIGS["conch_ViT-B-16"])
    checkpoint = tmp_path / "pytorch_model.bin"
    torch.save({k: v for k, v in coca.state_dict().items() if "attn_pool_contrast" not in k}, checkpoint)
    with pytest.raises(PipelineInputError, match="does not fit backbone conch_v1") as info:
        load_backbone("conch_v1", {"conch_v1": checkpoint})
    assert "attn_pool_contrast" in str(info.value)


def test_missing_conch_package_says_what_to_install_and_where_the_weights_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "conch", None)
    checkpoint = tmp_path / "pytorch_model.bin"
    torch.save({}, checkpoint)
    with pytest.raises(MissingWeightsError) as info:
        load_backbone("conch_v1", {"conch_v1": checkpoint})
    message = str(info.value)
    assert "pip install git+https://github.com/Mahmoodlab/CONCH.git" in message
    assert "features.weights: {conch_v1:" in message and "huggingface.co/MahmoodLab/CONCH" in message


def test_gpu_precision_per_backbone_is_tridents() -> None:
    assert {name: BACKBONES[name].precision for name in TRIDENT_PRECISIONS} == TRIDENT_PRECISIONS
    assert {spec.precision for spec in BACKBONES.values()} <= {"fp16", "bf16", "fp32"}


def test_the_largest_backbones_get_the_most_extraction_memory() -> None:
    """ViT-H/ViT-g (0.6-1.1 B parameters) load checkpoints of 2.5-4.5 GB, twice that in host memory."""
    largest = {"uni2_h", "virchow2", "gigapath", "h_optimus_0"}
    assert min(BACKBONES[name].extraction_mem_mb for name in largest) > max(
        spec.extraction_mem_mb for name, spec in BACKBONES.items() if name not in largest
    )
