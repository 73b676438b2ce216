"""Feature extraction on the CPU in fp32 and bf16: speed, and how far bf16 moves the features.

Run by hand, on slides and patches files of a finished run (e.g. the demo's results/synthetic):

    .venv/bin/python benchmarks/bench_cpu_precision.py RESULTS_DIR [--slides 6] [--threads 1] [--rounds 3]

The pixels of every patch (all three scales, `tiles` reader) of the first `--slides` slides are read
once into memory; then efficientnet_lite0 runs over them in fp32 and in bf16 autocast, interleaved
round by round (batch 64, channels-last, `--threads` torch threads). Speed: patches per CPU-second
(process time, all threads) and per wall second, best round. Agreement: per patch, the cosine similarity
and the relative L2 distance between the bf16 and the fp32 feature, over all patches and split into
tissue patches and near-blank ones (pixel standard deviation below 10 grey levels: glass). As a yardstick
for what a feature change of that size means, the same fp32 model is run on the 10x patches read from
the scanner's own 10x level (`per_patch`, as CLAM reads) instead of box-averaged from level 0
(`shared`): two reads of the same tissue that any pipeline might make.

With ``--backbones NAME ...`` it measures instead what the registry's GPU precision
(``BackboneSpec.precision``, what ``features.precision: auto`` runs on CUDA) does to each backbone's
features against fp32, under CPU autocast to that precision (the GPU's autocast op lists), on the
first ``--patches`` tissue patches spread over the slides' three scales. efficientnet_lite0 runs with its
real shipped weights; the others with random weights of their exact architectures (timm's
initialisation, LayerScale set to 1 so that every block contributes: at timm's 1e-5 the blocks would be
near no-ops and any precision would look exact). fp16 matrix products are emulated on most CPUs, so
keep ``--patches`` small for the ViT-H/ViT-g models.

Results with machine, date and load: benchmarks/README.md, "CPU precision" and "Precision per backbone".
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch

from crossfusion_core.devices import Compute, Precision
from crossfusion_core.features.backbones import BackboneSpec, backbone_spec, load_backbone
from crossfusion_core.features.patch_table import read_patch_table
from crossfusion_core.features.reading import PatchPixels
from crossfusion_core.features.transforms import to_model_input
from crossfusion_core.wsi.slide import slide_geometry

BATCH = 64
BLANK_PIXEL_STD = 10.0


def patch_pixels(
    results: Path, n_slides: int, strategy: str, magnifications: tuple[int, ...]
) -> torch.Tensor:
    """(N, 256, 256, 3) uint8 pixels of every patch of the first slides, in file order."""
    blocks = []
    for patches in sorted((results / "patches").glob("*.h5"))[:n_slides]:
        slide = results / "slides" / f"{patches.stem}.svs"
        table = read_patch_table(patches, magnifications)
        dataset = PatchPixels(slide_geometry(slide), table, strategy)
        items = [dataset[i] for i in range(len(dataset))]
        order = np.lexsort(
            (
                np.concatenate([b.rows.numpy() for b in items]),
                np.concatenate([b.scale_positions for b in items]),
            )
        )
        blocks.append(torch.cat([b.pixels_rgb for b in items])[torch.from_numpy(order)])
    return torch.cat(blocks)


def features(
    model: torch.nn.Module, inputs: torch.Tensor, precision: Precision
) -> tuple[torch.Tensor, float, float]:
    """(features, wall s, CPU s) of the model over ``inputs`` in batches of 64, autocast to ``precision``."""
    wall, cpu = time.perf_counter(), time.process_time()
    outs = []
    with torch.inference_mode(), Compute(torch.device("cpu"), precision).autocast():
        for start in range(0, len(inputs), BATCH):
            outs.append(model(inputs[start : start + BATCH]).float())
    return torch.cat(outs), time.perf_counter() - wall, time.process_time() - cpu


def agreement(reference: torch.Tensor, other: torch.Tensor, label: str) -> None:
    cosine = torch.nn.functional.cosine_similarity(reference, other)
    relative = (reference - other).norm(dim=1) / reference.norm(dim=1)
    print(
        f"{label} (n={len(cosine)}): cosine mean {cosine.mean():.5f}, 1st percentile "
        f"{cosine.quantile(0.01):.5f}, min {cosine.min():.5f}; relative L2 median {relative.median():.4f}, "
        f"95th percentile {relative.quantile(0.95):.4f}, max {relative.max():.4f}"
    )


def cpu_backbone(name: str) -> tuple[BackboneSpec, torch.nn.Module]:
    """The backbone with its shipped weights, or its architecture with random weights (see above)."""
    spec = backbone_spec(name)
    if spec.shipped_weights is not None:
        return load_backbone(name)
    model = spec.architecture().eval()
    with torch.no_grad():
        for module_name, parameter in model.named_parameters():
            if module_name.endswith(".gamma"):
                parameter.fill_(1.0)
    return spec, model


def spread_tissue_patches(pixels: torch.Tensor, count: int) -> torch.Tensor:
    """``count`` tissue patches (not glass) taken evenly through ``pixels`` (file order: all scales)."""
    tissue = pixels[pixels.float().std(dim=(1, 2, 3)) >= BLANK_PIXEL_STD]
    return tissue[torch.linspace(0, len(tissue) - 1, count).round().long()]


def per_backbone(pixels: torch.Tensor, names: list[str], n_patches: int) -> None:
    """Each backbone's features in its registry precision against fp32, on the same patches."""
    patches = spread_tissue_patches(pixels, n_patches)
    for name in names:
        if backbone_spec(name).precision == "fp32":
            print(f"{name}: registry precision fp32, the reference itself (cosine 1)")
            continue
        started = time.perf_counter()
        spec, model = cpu_backbone(name)
        inputs = to_model_input(patches, spec.transform)
        reference = features(model, inputs, "fp32")[0]
        agreement(reference, features(model, inputs, spec.precision)[0], f"{name} {spec.precision} vs fp32")
        print(f"  ({time.perf_counter() - started:.0f} s, load average {os.getloadavg()[0]:.1f})", flush=True)
        del model


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("results", type=Path)
    parser.add_argument("--slides", type=int, default=6)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backbones", nargs="+", help="measure these backbones' registry precision")
    parser.add_argument("--patches", type=int, default=64, help="patches per backbone with --backbones")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"load average at the start: {os.getloadavg()}")
    if args.backbones:
        per_backbone(
            patch_pixels(args.results, args.slides, "tiles", (5, 10, 20)), args.backbones, args.patches
        )
        return
    pixels = patch_pixels(args.results, args.slides, "tiles", (5, 10, 20))
    spec, model = load_backbone("efficientnet_lite0")
    model = model.to(memory_format=torch.channels_last)
    inputs = to_model_input(pixels, spec.transform)
    best: dict[str, tuple[float, float]] = {}
    outputs: dict[str, torch.Tensor] = {}
    for _ in range(args.rounds):
        for precision in ("fp32", "bf16"):
            outputs[precision], wall, cpu = features(model, inputs, precision)
            rate = (len(inputs) / wall, len(inputs) / cpu)
            best[precision] = max(best.get(precision, (0.0, 0.0)), rate)
    print(f"load average at the end: {os.getloadavg()}")
    print(f"{len(inputs)} patches, {args.threads} thread(s), best of {args.rounds} interleaved rounds")
    for precision, (per_wall, per_cpu) in best.items():
        print(f"{precision}: {per_wall:.1f} patches/s wall, {per_cpu:.1f} patches per CPU-second")
    print(f"bf16 / fp32 per CPU-second: {best['bf16'][1] / best['fp32'][1]:.2f}x")
    blank = pixels.float().std(dim=(1, 2, 3)) < BLANK_PIXEL_STD
    agreement(outputs["fp32"], outputs["bf16"], "bf16 vs fp32, all patches")
    agreement(outputs["fp32"][~blank], outputs["bf16"][~blank], "bf16 vs fp32, tissue patches")
    if blank.any():
        agreement(outputs["fp32"][blank], outputs["bf16"][blank], "bf16 vs fp32, near-blank patches")
    shared = patch_pixels(args.results, args.slides, "shared", (10,))
    per_patch = patch_pixels(args.results, args.slides, "per_patch", (10,))
    agreement(
        features(model, to_model_input(shared, spec.transform), "fp32")[0],
        features(model, to_model_input(per_patch, spec.transform), "fp32")[0],
        "fp32, 10x read from level 0 (shared) vs from the 10x level (per_patch)",
    )


if __name__ == "__main__":
    main()
