"""CrossFusion on CPU: time and peak memory of one training step, and of patch_scores, per bag size.

Run by hand:  .venv/bin/python benchmarks/bench_model.py 500 2000 4000 8000
Bag sizes follow the slides: N5 = N10 / 4, N20 = 4 * N10, 1024-dim features, 512-dim embedding.
Each size runs in its own process, so the peak resident memory reported is that size's alone.
``train_step_cpu_s`` (CPU seconds of all threads) is less sensitive than wall time to other load on a
shared machine; divided by ``--threads`` it approximates the wall time on idle cores.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import torch

from crossfusion_core.models.crossfusion import CrossFusion


def measure(n_source: int, backbone_dim: int, embed_dim: int, threads: int) -> dict[str, float]:
    """One forward+backward in training mode, then patch_scores in eval mode, on random bags."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = CrossFusion(backbone_dim, embed_dim=embed_dim)
    bags = [torch.randn(max(1, n), backbone_dim) for n in (n_source // 4, n_source, 4 * n_source)]

    model.train()
    model(*(bag[:50] for bag in bags)).risk.sum().backward()  # one-time kernel and allocator setup
    model.zero_grad(set_to_none=True)
    started, started_cpu = time.perf_counter(), time.process_time()
    model(*bags).risk.sum().backward()
    step_s, step_cpu_s = time.perf_counter() - started, time.process_time() - started_cpu
    step_peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6

    model.eval()
    model.zero_grad(set_to_none=True)
    started = time.perf_counter()
    model.patch_scores(*bags, chunk_size=1024)
    scores_s = time.perf_counter() - started
    return {
        "n10": n_source,
        "train_step_s": round(step_s, 2),
        "train_step_cpu_s": round(step_cpu_s, 2),
        "train_peak_rss_gb": round(step_peak_gb, 2),
        "patch_scores_s": round(scores_s, 2),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n10", type=int, nargs="+", help="numbers of 10x patches to try")
    parser.add_argument("--backbone-dim", type=int, default=1024)
    parser.add_argument("--embed-dim", type=int, default=512)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--in-process", action="store_true", help="measure the one size given here")
    args = parser.parse_args()
    if args.in_process:
        print(json.dumps(measure(args.n10[0], args.backbone_dim, args.embed_dim, args.threads)))
        return
    for n_source in args.n10:
        command = [sys.executable, __file__, str(n_source), "--in-process"]
        command += ["--backbone-dim", str(args.backbone_dim), "--embed-dim", str(args.embed_dim)]
        command += ["--threads", str(args.threads)]
        print(subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip(), flush=True)


if __name__ == "__main__":
    main()
