"""The stages of `make demo` before training, one Snakemake run per stage: wall and CPU seconds.

Run by hand (each tree is a checkout of this repository; by default this one):

    .venv/bin/python benchmarks/bench_demo_stages.py WORKDIR [--tree DIR ...] [--cores 2]

For each tree, in WORKDIR/<n>/ (emptied first), Snakemake runs the default config stage by stage,
each stage a separate `snakemake --cores 2 all --until <its last rule>`: so a stage's row holds its jobs
and nothing else, plus the DAG build that every row pays once. A last row runs the whole pre-training
part in one invocation from scratch (`--until feature_index`), which is what `make demo` pays before
training: there the stages overlap. CPU seconds are user + system of every
process Snakemake started (getrusage of the children), which the other sessions of a shared machine do
not inflate the way they inflate wall time. The load average is printed before and after each run.

Trees are interleaved stage by stage when more than one is given, so that the machine's load falls on
both alike. A tree's Snakefile imports its own `crossfusion_core` (PYTHONPATH is set to the tree).

Results: benchmarks/README.md, "Whole pipeline".
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Stage name -> its last rule, by the names of the layouts measured (the first one a tree defines).
STAGES = {
    "synthetic slides + clinical": ("synthetic_clinical",),
    "segmentation + patching": ("slide_patches", "patch"),
    "feature extraction": ("slide_features", "extract_features"),
    "feature index": ("feature_index",),
}


def rules_of(tree: Path) -> set[str]:
    """Rule names a tree's workflow defines (``snakemake --list-rules``)."""
    done = _snakemake(tree, tree, ["--list-rules"], check=True)
    return {line.split()[0] for line in done.stdout.splitlines() if line.strip()}


def run_stage(tree: Path, workdir: Path, rule: str, cores: int) -> tuple[float, float]:
    """(wall s, CPU s) of `snakemake all --until rule`; the CPU is that of every child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    _snakemake(tree, workdir, ["--cores", str(cores), "all", "--until", rule], check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _snakemake(tree: Path, workdir: Path, args: list[str], check: bool) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(tree))
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    done = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(tree / "Snakefile"), "-d", str(workdir), *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"snakemake {' '.join(args)} in {workdir} failed:\n{done.stderr[-4000:]}")
    return done


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--tree", type=Path, action="append", help="repository checkout (repeatable)")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--skip-whole", action="store_true", help="only the stage-by-stage rows")
    args = parser.parse_args()
    trees = [tree.resolve() for tree in (args.tree or [REPO])]
    known = [rules_of(tree) for tree in trees]
    workdirs = []
    for n, _ in enumerate(trees):
        workdir = args.workdir.resolve() / str(n)
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
        workdirs.append(workdir)
    rows: dict[tuple[int, str], tuple[float, float]] = {}
    for stage, names in STAGES.items():
        for n, tree in enumerate(trees):
            rule = next(name for name in names if name in known[n])
            print(f"[{n}] {stage} (until {rule}), load {os.getloadavg()}", flush=True)
            rows[n, stage] = run_stage(tree, workdirs[n], rule, args.cores)
            print(f"[{n}] {stage}: wall {rows[n, stage][0]:.1f} s, CPU {rows[n, stage][1]:.1f} s", flush=True)
    if not args.skip_whole:
        for n, tree in enumerate(trees):
            shutil.rmtree(workdirs[n])
            workdirs[n].mkdir()
            print(f"[{n}] whole pre-training part, load {os.getloadavg()}", flush=True)
            rows[n, "whole, one invocation"] = run_stage(tree, workdirs[n], "feature_index", args.cores)
    print(f"load average at the end: {os.getloadavg()}")
    print("| stage | " + " | ".join(f"[{n}] wall s | [{n}] CPU s" for n in range(len(trees))) + " |")
    for stage in [*STAGES, "whole, one invocation"]:
        if (0, stage) in rows:
            cells = " | ".join(
                f"{rows[n, stage][0]:.1f} | {rows[n, stage][1]:.1f}" for n in range(len(trees))
            )
            print(f"| {stage} | {cells} |")
    for n, tree in enumerate(trees):
        print(f"[{n}] = {tree}")


if __name__ == "__main__":
    main()
