"""Run Snakemake as a user would, through a profile, and read back which SLURM jobs it submitted.

Shared by the tests of this folder and the end-to-end test of the real pipeline on the localhost
cluster. Snakemake runs in a child process with the venv's interpreter first on PATH: the slurm plugin
starts each job as ``<sys.executable of the submitter> -m snakemake`` and the job inherits the
submitter's environment (``sbatch --export=ALL``), so both sides use the same Python and packages.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

SUBMITTED_JOB = re.compile(r"has been submitted with SLURM jobid (\d+)")


def snakemake_env() -> dict[str, str]:
    """This process's environment with the running interpreter's bin folder first on PATH."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def run_snakemake(
    workdir: Path,
    snakefile: Path,
    configfiles: Sequence[Path],
    targets: Sequence[str],
    executor_args: Sequence[str],
    timeout_s: float,
) -> subprocess.CompletedProcess:
    """``python -m snakemake`` in ``workdir`` with the given executor arguments; stdout+stderr merged."""
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(snakefile), "--directory", str(workdir)]
    if configfiles:
        command += ["--configfiles", *map(str, configfiles)]
    command += [*executor_args, *targets]
    return subprocess.run(
        command,
        cwd=workdir,
        env=snakemake_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def run_snakemake_on_slurm(
    workdir: Path,
    snakefile: Path,
    configfiles: Sequence[Path],
    targets: Sequence[str],
    profile_dir: Path,
    timeout_s: float,
) -> subprocess.CompletedProcess:
    """Run the workflow through ``profile_dir`` (executor slurm) against the cluster named by SLURM_CONF.

    Needs the ``slurm_cluster`` fixture active: it exports SLURM_CONF and the srun wrapper's PATH.
    """
    return run_snakemake(workdir, snakefile, configfiles, targets, ["--profile", str(profile_dir)], timeout_s)


def slurm_job_ids(log_text: str) -> list[str]:
    """The SLURM job ids the slurm executor reported submitting, in submission order."""
    return SUBMITTED_JOB.findall(log_text)


SYNTHETIC_FEATURE_STAGES = (
    "synthetic_slides",
    "synthetic_slide",
    "synthetic_clinical",
    "segment_and_patch",
    "slide_patches",
    "extract_features",
    "slide_features",
    "feature_index",
)
"""The rules of a synthetic run up to the feature index, in pipeline order (what training reads)."""

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "Snakefile"
TINY_CONFIG = REPO / "tests" / "config" / "tiny.yaml"


def run_workflow(
    workdir: Path, configfiles: Sequence[Path], targets: Sequence[str], *args: str, timeout_s: float = 1800
) -> subprocess.CompletedProcess:
    """Run the pipeline locally on 2 cores in ``workdir``; fail loudly with Snakemake's output."""
    done = run_snakemake(workdir, SNAKEFILE, configfiles, targets, ["--cores", "2", *args], timeout_s)
    assert done.returncode == 0, done.stdout[-6000:]
    return done


def planned_jobs(
    workdir: Path, configfiles: Sequence[Path], *args: str, targets: Sequence[str] = ("all",)
) -> dict[str, int]:
    """Rule -> number of jobs a dry run of ``targets`` would execute (empty when there is nothing to do)."""
    # `--quiet=rules`, not `--quiet rules`: the option takes several values and would swallow the targets.
    done = run_workflow(workdir, configfiles, list(targets), "--dry-run", "--quiet=rules", *args)
    return {
        match.group(1): int(match.group(2))
        for match in re.finditer(r"^(\w+)\s+(\d+)$", done.stdout, re.MULTILINE)
        if match.group(1) not in ("total", "all")
    }
