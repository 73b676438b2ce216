"""What makes a MIL model reach the linear probe: one training setting on every fold, scored as the workflow.

    .venv/bin/python benchmarks/study_mil_learning.py results/synthetic --model crossfusion \
        --set steps=200 --set lr=5e-4 --option embed_dim=64 --seeds 0 1 2 --label my-variant

Run after the pipeline has made a cohort's features, splits, survival table (and, for a synthetic
cohort, its planted risk), e.g. `make demo` or `snakemake ... results/<cohort>/splits/splits_0.csv
results/<cohort>/features/<backbone>/index.csv`. Each fold is trained by ``train_fold`` (the code the
`train` rule runs) with the workflow's training settings plus ``--set`` overrides and the model's options
plus ``--option`` overrides, folds two at a time in separate processes (one thread each, as the rule
does). With several ``--seeds`` each fold is trained once per seed and the risks averaged (an ensemble;
the seeds also give the per-seed spread). Scores come from ``evaluate_predictions`` (pooled out-of-fold
C with its bootstrap interval, Spearman with the planted risk) and the paired difference to the linear
probe on the same folds (fitted once per cohort and cached). One JSON line per run is appended to
``--log`` so that a study is a file of measured rows.
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from crossfusion_core.evaluation.comparison import paired_differences
from crossfusion_core.evaluation.metrics import evaluate_predictions
from crossfusion_core.evaluation.settings import EvaluationSettings
from crossfusion_core.training.fold import train_fold
from crossfusion_core.training.settings import TrainingSettings

REPO = Path(__file__).resolve().parents[1]
PROBE = "linear_probe"


def parsed_value(text: str) -> Any:
    """``key=value`` values as YAML reads them (numbers, booleans, null, lists)."""
    return yaml.safe_load(text)


def overrides(pairs: list[str]) -> dict[str, Any]:
    return {key: parsed_value(value) for key, value in (pair.split("=", 1) for pair in pairs)}


def default_training(configfiles: list[Path]) -> dict[str, Any]:
    """The training section of config/config.yaml with the given overlays (as the workflow merges it)."""
    section: dict[str, Any] = {}
    for path in [REPO / "config" / "config.yaml", *configfiles]:
        overlay = (yaml.safe_load(path.read_text()) or {}).get("training", {})
        options = {**section.get("model_options", {}), **overlay.get("model_options", {})}
        section = {**section, **overlay, "model_options": options}
    return section


def train_one(job: dict[str, Any]) -> Path:
    """One fold x seed (runs in a worker process)."""
    out_dir = Path(job["out_dir"])
    if not (out_dir / "predictions.csv").is_file():
        train_fold(
            TrainingSettings.from_mapping(job["training"]),
            job["model"],
            job["options"],
            job["survival"],
            job["split"],
            job["feature_dirs"],
            out_dir,
            threads=1,
        )
    return out_dir / "predictions.csv"


def ensemble_predictions(per_seed: list[Path], out_path: Path) -> Path:
    """The mean risk over seeds of one fold's held-out patients (outcome columns from the first seed)."""
    frames = [pd.read_csv(path, dtype={"case_id": str}) for path in per_seed]
    mean_risk = sum(frame["risk"].to_numpy() for frame in frames) / len(frames)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    frames[0].assign(risk=mean_risk).to_csv(out_path, index=False)
    return out_path


def run_study(args: argparse.Namespace) -> dict[str, Any]:
    results = Path(args.results)
    training = default_training(args.configfile)
    training.update(overrides(args.set))
    options = {**training.get("model_options", {}).get(args.model, {}), **overrides(args.option)}
    splits = sorted((results / "splits").glob("splits_*.csv"), key=lambda p: int(p.stem.split("_")[1]))
    feature_dirs = {m: str(results / "features" / args.backbone / f"x{m}") for m in (5, 10, 20)}
    work = Path(args.work) / args.label
    jobs = [
        {
            "training": {**training, "seed": seed},
            "model": args.model,
            "options": options,
            "survival": str(results / "clinical" / "survival.csv"),
            "split": str(split),
            "feature_dirs": feature_dirs,
            "out_dir": str(work / f"seed_{seed}" / split.stem.replace("splits", "fold")),
        }
        for seed in args.seeds
        for split in splits
    ]
    started = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        done = list(pool.map(train_one, jobs))
    seconds = time.perf_counter() - started
    per_fold = [done[i :: len(splits)] for i in range(len(splits))]
    folds = [
        ensemble_predictions(paths, work / "ensemble" / f"fold_{k}.csv") for k, paths in enumerate(per_fold)
    ]
    return score(results, args, folds, work, training, options, seconds)


def score(
    results: Path,
    args: argparse.Namespace,
    folds: list[Path],
    work: Path,
    training: dict[str, Any],
    options: dict[str, Any],
    seconds: float,
) -> dict[str, Any]:
    settings = EvaluationSettings(bootstrap_resamples=args.resamples)
    true_risk = results / "clinical" / "true_risk.csv"
    payload = evaluate_predictions(
        folds,
        settings,
        true_risk if true_risk.is_file() else None,
        work / "metrics.csv",
        work / "metrics.json",
    )
    pooled = payload["pooled"]
    row = {
        "label": args.label,
        "cohort": str(results),
        "model": args.model,
        "seeds": args.seeds,
        "set": overrides(args.set),
        "option": overrides(args.option),
        "pooled_c": pooled["harrell_cindex"],
        "pooled_c_ci": [pooled["harrell_cindex_low"], pooled["harrell_cindex_high"]],
        "fold_c_mean": payload["metrics"]["harrell_cindex"]["mean"],
        "fold_c_std": payload["metrics"]["harrell_cindex"]["std"],
        "spearman_true_risk": pooled.get("spearman_true_risk"),
        "oracle_c": pooled.get("oracle_cindex"),
        "train_seconds": round(seconds, 1),
    }
    probe = probe_folds(results, args, training)
    if probe and args.model != PROBE:
        differences = paired_differences({(args.model, "b"): folds, (PROBE, "b"): probe}, settings)
        versus = differences[differences["model"] == args.model].iloc[0]
        row["vs_probe"] = [versus["difference"], versus["low"], versus["high"]]
    return row


def probe_folds(results: Path, args: argparse.Namespace, training: dict[str, Any]) -> list[Path]:
    """The linear probe's held-out predictions on the same folds with the default probe options."""
    if args.no_probe:
        return []
    probe_work = Path(args.work) / "_probe"
    splits = sorted((results / "splits").glob("splits_*.csv"), key=lambda p: int(p.stem.split("_")[1]))
    paths = []
    for split in splits:
        job = {
            "training": training,
            "model": PROBE,
            "options": training.get("model_options", {}).get(PROBE, {}),
            "survival": str(results / "clinical" / "survival.csv"),
            "split": str(split),
            "feature_dirs": {m: str(results / "features" / args.backbone / f"x{m}") for m in (5, 10, 20)},
            "out_dir": str(probe_work / split.stem.replace("splits", "fold")),
        }
        paths.append(train_one(job))
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("results", help="a cohort's results folder, e.g. results/synthetic")
    parser.add_argument("--model", default="crossfusion")
    parser.add_argument("--backbone", default="efficientnet_lite0")
    parser.add_argument("--set", action="append", default=[], help="training setting override key=value")
    parser.add_argument("--option", action="append", default=[], help="model option override key=value")
    parser.add_argument("--configfile", action="append", type=Path, default=[], help="config overlays")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--label", required=True)
    parser.add_argument("--work", default="/tmp/mil_study")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--no-probe", action="store_true")
    parser.add_argument("--log", type=Path, default=Path("/tmp/mil_study/study.jsonl"))
    args = parser.parse_args()
    row = run_study(args)
    args.log.parent.mkdir(parents=True, exist_ok=True)
    with args.log.open("a") as handle:
        handle.write(json.dumps(row) + "\n")
    print(json.dumps(row))


if __name__ == "__main__":
    main()
