"""Wall time of one training fold on CPU with TCGA-like bag sizes (run by hand, not in CI).

    .venv/bin/python benchmarks/bench_training_fold.py --model abmil --patients 20 --patches 400 --dim 1280

Writes a synthetic feature cohort (x10 = ``--patches`` per slide, x5 a quarter, x20 four times) to a
temporary folder, trains ``--epochs`` epochs of one fold and prints seconds per epoch and peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from crossfusion_core.data.splits import write_fold_splits
from crossfusion_core.training.fold import train_fold
from crossfusion_core.training.settings import TrainingSettings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from data.feature_files import write_feature_file

MODEL_OPTIONS = {
    "abmil": {"hidden_dim": 256},
    "crossfusion": {"embed_dim": 512, "num_heads": 4},
}


def write_cohort(root: Path, patients: int, patches: int, dim: int) -> tuple[Path, dict[int, Path]]:
    rng = np.random.default_rng(0)
    dirs = {m: root / f"x{m}" for m in (5, 10, 20)}
    rows = []
    for p in range(patients):
        slide = f"BENCH-P{p:04d}-S1"
        for m, n in ((5, patches // 4), (10, patches), (20, 4 * patches)):
            write_feature_file(dirs[m] / f"{slide}.h5", rng.normal(size=(n, dim)).astype(np.float32))
        rows.append((f"BENCH-P{p:04d}", f"{slide}.svs", float(rng.exponential(24)), int(rng.random() < 0.3)))
    survival = root / "survival.csv"
    pd.DataFrame(rows, columns=["case_id", "slide_id", "survival_months", "censorship"]).to_csv(
        survival, index=False
    )
    return survival, dirs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="abmil", choices=sorted(MODEL_OPTIONS))
    parser.add_argument("--patients", type=int, default=20)
    parser.add_argument("--patches", type=int, default=400)
    parser.add_argument("--dim", type=int, default=1280)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        survival, dirs = write_cohort(root, args.patients, args.patches, args.dim)
        split = root / "splits_0.csv"
        write_fold_splits(survival, 4, 0, [split, *(root / f"other_{k}.csv" for k in range(3))], n_bins=2)
        settings = TrainingSettings.from_mapping(
            {"epochs": args.epochs, "n_bins": 2, "early_stopping_patience": 99}
        )
        start = time.perf_counter()
        train_fold(
            settings,
            args.model,
            MODEL_OPTIONS[args.model],
            survival,
            split,
            dirs,
            root / "out",
            threads=args.threads,
        )
        seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{args.model}: {seconds / args.epochs:.2f} s/epoch ({args.patients} patients, "
        f"x10 {args.patches} patches, "
        f"D={args.dim}, {args.threads} threads), peak RSS {peak_mb:.0f} MB"
    )


if __name__ == "__main__":
    main()
