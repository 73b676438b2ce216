"""CrossFusion on the CPU: one training step per bag size, ours against the original implementation.

Run by hand (the original's code is read from a checkout of github.com/RustinS/CrossFusion, never
copied here; it imports einops, so ``pip install einops`` or put it on PYTHONPATH):

    .venv/bin/python benchmarks/bench_model.py 4000 --original /tmp/CrossFusion --repeats 3
    .venv/bin/python benchmarks/bench_model.py 4000 --profile
    .venv/bin/python benchmarks/bench_model.py 4000 --score-elements 21 22 23 --repeats 2

Bag sizes follow the slides: N5 = N10 / 4, N20 = 4 * N10, 1024-dim features, 512-dim embedding, four
heads, one layer, the original's dropout rates (0.3, attention 0.2), training mode. Every measurement
runs in a fresh process (so its peak resident memory is its own), and ours and the original's
alternate within each repeat, so that load from other users of a shared machine hits both alike; the
summary gives the median per variant, the ratio, and the load average around the runs.
``--profile`` times one step of ours under torch.profiler and splits it by what the time is spent on;
``--score-elements`` compares block sizes of the chunked attention (``MAX_SCORE_ELEMENTS``, as powers
of two) against each other instead of against the original.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch

from crossfusion_core.models import attention
from crossfusion_core.models.crossfusion import CrossFusion

REGIONS = {
    "_ChunkedDropoutAttention": "attention with dropout (chunked, 8 layers)",
    "_ChunkedDropoutAttentionBackward": "attention with dropout (chunked, 8 layers)",
    "aten::_scaled_dot_product_flash_attention_for_cpu": "cross-attention, no dropout (SDPA flash)",
    "aten::_scaled_dot_product_flash_attention_for_cpu_backward": "cross-attention, no dropout (SDPA flash)",
    "_DepthwiseConv": "convolutions (PPEG, fusion)",
    "_DepthwiseConvBackward": "convolutions (PPEG, fusion)",
    "aten::convolution": "convolutions (PPEG, fusion)",
    "ConvolutionBackward0": "convolutions (PPEG, fusion)",
    "aten::linear": "linear layers (projections, q/k/v/out, MLPs)",
    "AddmmBackward0": "linear layers (projections, q/k/v/out, MLPs)",
    "MmBackward0": "linear layers (projections, q/k/v/out, MLPs)",
}
MASK_OPS = ("aten::random_", "aten::ge", "aten::bernoulli_")
"""Drawing dropout masks: counted inside their region and also shown on their own."""


def bags(n_source: int, backbone_dim: int) -> list[torch.Tensor]:
    """Random (1, N, D) bags of N5 = N10 / 4, N10, N20 = 4 N10 patches."""
    return [torch.randn(1, max(1, n), backbone_dim) for n in (n_source // 4, n_source, 4 * n_source)]


def original_model(checkout: Path, backbone_dim: int, embed_dim: int) -> torch.nn.Module:
    """The original CrossFusion from ``checkout``, built on the CPU with its own defaults.

    Its attention modules take ``device="cuda"`` as a constructor default; that default is switched to
    the CPU here, without touching its code.
    """
    sys.path.insert(0, str(checkout))
    module = importlib.import_module("models.CrossFusion")
    for cls in (module.CrossAttention, module.MultiHeadAttention):
        cls.__init__.__defaults__ = (*cls.__init__.__defaults__[:-1], "cpu")
    return module.CrossFusion(embed_dim, num_heads=4, num_layers=1, backbone_dim=backbone_dim)


def step_loss(model: torch.nn.Module, inputs: list[torch.Tensor], original: bool) -> torch.Tensor:
    """Sum of the risks (minus the summed survival) of one forward pass: the same loss for both."""
    if original:
        return -model(*inputs)[1].sum()
    return model(*inputs).risk.sum()


def measure(
    n_source: int, backbone_dim: int, embed_dim: int, threads: int, original: Path | None
) -> dict[str, float | str]:
    """One forward+backward in training mode (after a small warm-up step); ours also scores patches."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    if original is None:
        model = CrossFusion(backbone_dim, embed_dim=embed_dim)
    else:
        model = original_model(original, backbone_dim, embed_dim)
    inputs = bags(n_source, backbone_dim)
    model.train()
    step_loss(model, [bag[:, :50] for bag in inputs], original is not None).backward()
    model.zero_grad(set_to_none=True)
    started, started_cpu = time.perf_counter(), time.process_time()
    step_loss(model, inputs, original is not None).backward()
    result: dict[str, float | str] = {
        "variant": "ours" if original is None else "original",
        "n10": n_source,
        "train_step_s": round(time.perf_counter() - started, 2),
        "train_step_cpu_s": round(time.process_time() - started_cpu, 2),
        "train_peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2),
    }
    if original is None:
        model.eval()
        started = time.perf_counter()
        model.patch_scores(*inputs, chunk_size=1024)
        result["patch_scores_s"] = round(time.perf_counter() - started, 2)
    return result


def profile(n_source: int, backbone_dim: int, embed_dim: int, threads: int) -> dict[str, float]:
    """Seconds of one training step of ours per region (the nearest enclosing op named in REGIONS)."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = CrossFusion(backbone_dim, embed_dim=embed_dim).train()
    inputs = bags(n_source, backbone_dim)
    model(*(bag[:, :50] for bag in inputs)).risk.sum().backward()
    model.zero_grad(set_to_none=True)
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        started = time.perf_counter()
        model(*inputs).risk.sum().backward()
        step_s = time.perf_counter() - started
    seconds: dict[str, float] = defaultdict(float)
    for event in prof.events():
        region = _region(event)
        seconds[region] += event.self_cpu_time_total / 1e6
        if event.name in MASK_OPS:
            seconds["of which: drawing dropout masks"] += event.self_cpu_time_total / 1e6
    return {"step_s (under the profiler)": round(step_s, 2)} | {
        name: round(value, 2) for name, value in sorted(seconds.items(), key=lambda item: -item[1])
    }


def _region(event) -> str:
    node = event
    while node is not None:
        if node.name in REGIONS:
            return REGIONS[node.name]
        if node.name.startswith("autograd::engine::evaluate_function: "):
            name = node.name.removeprefix("autograd::engine::evaluate_function: ")
            if name in REGIONS:
                return REGIONS[name]
        node = node.cpu_parent
    return "everything else (layer norms, GELU, residual adds, copies)"


def summary(results: list[dict], loads: list[float], variants: list[str]) -> dict[str, float]:
    """Median step time (wall and CPU) and peak memory per variant and size; original / ours ratios."""
    table: dict[str, float] = {}
    for n_source in sorted({result["n10"] for result in results}):
        medians = {}
        for variant in variants:
            rows = [r for r in results if r["n10"] == n_source and r["variant"] == variant]
            medians[variant] = statistics.median(r["train_step_s"] for r in rows)
            medians[f"{variant} cpu"] = statistics.median(r["train_step_cpu_s"] for r in rows)
            table[f"n10={n_source} {variant} median step s"] = medians[variant]
            table[f"n10={n_source} {variant} median step cpu s"] = medians[f"{variant} cpu"]
            table[f"n10={n_source} {variant} peak rss gb"] = max(r["train_peak_rss_gb"] for r in rows)
        if "original" in medians:
            for kind in ("", " cpu"):
                ratio = medians[f"original{kind}"] / medians[f"ours{kind}"]
                table[f"n10={n_source} speed-up{kind} (original / ours)"] = round(ratio, 2)
    table["load average (1 min) min/max over the runs"] = (min(loads), max(loads))
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n10", type=int, nargs="+", help="numbers of 10x patches to try")
    parser.add_argument("--backbone-dim", type=int, default=1024)
    parser.add_argument("--embed-dim", type=int, default=512)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--original", type=Path, help="checkout of github.com/RustinS/CrossFusion")
    parser.add_argument("--profile", action="store_true", help="split one step of ours by region")
    parser.add_argument("--score-elements", type=int, nargs="+", help="log2 attention block sizes to compare")
    parser.add_argument("--in-process", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = (args.backbone_dim, args.embed_dim, args.threads)
    if args.profile:
        print(json.dumps(profile(args.n10[0], *sizes), indent=1))
        return
    if args.in_process:
        if args.in_process.startswith("ours@2^"):
            attention.MAX_SCORE_ELEMENTS = 2 ** int(args.in_process.removeprefix("ours@2^"))
        original = args.original if args.in_process == "original" else None
        print(json.dumps(measure(args.n10[0], *sizes, original) | {"variant": args.in_process}))
        return
    if args.score_elements:
        variants = [f"ours@2^{log2}" for log2 in args.score_elements]
    else:
        variants = ["ours"] + (["original"] if args.original else [])
    results, loads = [], []
    for repeat in range(args.repeats):
        for n_source in args.n10:
            for variant in variants if repeat % 2 == 0 else variants[::-1]:
                command = [sys.executable, __file__, str(n_source), "--in-process", variant]
                command += ["--backbone-dim", str(args.backbone_dim), "--embed-dim", str(args.embed_dim)]
                command += ["--threads", str(args.threads)]
                if args.original:
                    command += ["--original", str(args.original)]
                loads.append(os.getloadavg()[0])
                done = subprocess.run(command, check=True, capture_output=True, text=True)
                results.append(json.loads(done.stdout.strip().splitlines()[-1]))
                print(json.dumps(results[-1] | {"load_1min": loads[-1]}), flush=True)
    print(json.dumps(summary(results, loads, variants), indent=1))


if __name__ == "__main__":
    main()
