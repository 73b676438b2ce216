"""GPU smoke test: the CUDA paths of extraction and CrossFusion training, run once and timed.

Run by hand on a GPU machine (random weights: nothing is downloaded):

    .venv/bin/python benchmarks/bench_gpu_smoke.py             # CUDA, full sizes
    .venv/bin/python benchmarks/bench_gpu_smoke.py --small     # any machine, tiny sizes, CPU if no GPU

1. Extraction: the ``uni2_h`` architecture of the backbone registry (a ViT-H/14 with 681 M parameters),
   randomly initialised, on batches of 256 random 224 px patches through the pipeline's own input
   transform, under ``torch.inference_mode`` and bf16 autocast (``features.precision: auto`` on CUDA).
   Prints patches/s and peak GPU memory.
2. Training: one epoch of CrossFusion (embed 512, 1024-dim features) over random bags of N5 = 1,000,
   N10 = 4,000, N20 = 16,000 patches through ``training.loop.train_epoch`` with ``precision: auto``
   (bf16 autocast on CUDA, attention dropout in PyTorch's fused kernels). Prints seconds per bag
   (forward + backward), the optimiser step time, and peak GPU memory.

``--small`` keeps one ViT block, batches of 2 patches and bags of N10 = 64 with embed 64, so that the
script runs to completion in a minute on a CPU; its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from collections.abc import Callable

import numpy as np
import torch

from crossfusion_core.features.backbones import backbone_spec
from crossfusion_core.features.transforms import to_model_input
from crossfusion_core.models.crossfusion import CrossFusion
from crossfusion_core.training.loop import LossSettings, autocast, train_epoch

PRECISION = "auto"
"""``training.precision`` / ``features.precision`` default: bf16 autocast on CUDA, fp32 on the CPU."""


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_memory_gb(device: torch.device) -> float:
    """Peak GPU memory allocated by tensors, or the process's peak resident memory on the CPU."""
    if device.type == "cuda":
        return round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def uni2_h_sized(device: torch.device, n_blocks: int | None) -> torch.nn.Module:
    """The registry's ``uni2_h`` architecture, random weights, built on ``device`` (optionally cut to
    its first ``n_blocks`` transformer blocks). It is laid out on the meta device first, so that no
    time goes into initialising blocks that are then dropped; timm's ``init_weights`` fills it in."""
    spec = backbone_spec("uni2_h")
    with torch.device("meta"):
        model = spec.architecture()
    if n_blocks is not None:
        model.net.blocks = model.net.blocks[:n_blocks]
    model = model.to_empty(device=device)
    model.net.init_weights()
    return model.eval().to(memory_format=torch.channels_last)


def timed(device: torch.device, run: Callable[[], object]) -> float:
    synchronize(device)
    started = time.perf_counter()
    run()
    synchronize(device)
    return time.perf_counter() - started


def extraction(device: torch.device, batch_size: int, n_batches: int, n_blocks: int | None) -> dict:
    """Patches/s of the uni2_h-sized encoder on random patches, after one warm-up batch."""
    spec = backbone_spec("uni2_h")
    model = uni2_h_sized(device, n_blocks)
    generator = torch.Generator(device=device).manual_seed(0)
    patches = torch.randint(
        0, 256, (batch_size, 224, 224, 3), dtype=torch.uint8, device=device, generator=generator
    )

    def encode() -> torch.Tensor:
        with torch.inference_mode(), autocast(device, PRECISION):
            return model(to_model_input(patches, spec.transform)).float()

    features = encode()
    reset_peak(device)
    seconds = timed(device, lambda: [encode() for _ in range(n_batches)])
    return {
        "stage": "extraction",
        "backbone": f"uni2_h-sized ViT, {len(model.net.blocks)} blocks, random weights",
        "batch_size": batch_size,
        "patches_per_s": round(batch_size * n_batches / seconds, 1),
        "feature_dim": features.shape[1],
        "features_finite": bool(torch.isfinite(features).all()),
        "peak_memory_gb": peak_memory_gb(device),
    }


def training(device: torch.device, n_source: int, embed_dim: int, n_bags: int) -> dict:
    """One epoch of CrossFusion over ``n_bags`` random bags, one optimiser step per bag."""
    torch.manual_seed(0)
    backbone_dim = 1024
    model = CrossFusion(backbone_dim, embed_dim=embed_dim).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    rng = np.random.default_rng(0)
    bags = [
        (
            *(torch.randn(n, backbone_dim) for n in (n_source // 4, n_source, 4 * n_source)),
            int(rng.integers(4)),
            float(rng.uniform(1, 100)),
            int(rng.integers(2)),
        )
        for _ in range(n_bags + 1)
    ]
    loss = LossSettings("nll", 0.2)
    warm_up, epoch = [np.array([n_bags])], [np.array([i]) for i in range(n_bags)]
    train_epoch(model, bags, warm_up, optimizer, loss, device, precision=PRECISION)
    reset_peak(device)
    step_seconds: list[float] = []
    last = [time.perf_counter()]

    def after_step() -> None:
        synchronize(device)
        step_seconds.append(time.perf_counter() - last[0])
        last[0] = time.perf_counter()

    seconds = timed(
        device,
        lambda: train_epoch(model, bags, epoch, optimizer, loss, device, after_step, precision=PRECISION),
    )
    finite = all(torch.isfinite(p).all() for p in model.parameters())
    return {
        "stage": "training",
        "bag_sizes": [n_source // 4, n_source, 4 * n_source],
        "embed_dim": embed_dim,
        "bags": n_bags,
        "epoch_s": round(seconds, 2),
        "step_s_median": round(float(np.median(step_seconds)), 3),
        "weights_finite": finite,
        "peak_memory_gb": peak_memory_gb(device),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="tiny sizes, on the CPU when there is no GPU")
    parser.add_argument("--bags", type=int, default=8, help="bags in the training epoch")
    parser.add_argument("--batches", type=int, default=8, help="extraction batches timed")
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type != "cuda" and not args.small:
        parser.error("no GPU visible: run with --small to check the script on the CPU")
    print(json.dumps({"device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu"}))
    if args.small:
        print(json.dumps(extraction(device, batch_size=2, n_batches=1, n_blocks=1)), flush=True)
        print(json.dumps(training(device, n_source=64, embed_dim=64, n_bags=2)), flush=True)
    else:
        print(
            json.dumps(extraction(device, batch_size=256, n_batches=args.batches, n_blocks=None)), flush=True
        )
        print(json.dumps(training(device, n_source=4000, embed_dim=512, n_bags=args.bags)), flush=True)


if __name__ == "__main__":
    main()
