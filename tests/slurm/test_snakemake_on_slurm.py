"""A small Snakemake workflow runs through the test profile on the real cluster, one SLURM job per job.

The workflow is written here, not taken from the project, so the test checks the profile, the plugin
and the cluster alone: its outputs must equal those of a plain local run, and every job must have run
inside the SLURM job whose id the executor logged.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from cluster import SlurmCluster
from snakemake_runs import run_snakemake, run_snakemake_on_slurm, slurm_job_ids

pytestmark = pytest.mark.slurm

PROFILE_DIR = Path(__file__).parent / "profile"
NUMBERS = (2, 3)
TARGET = "total.txt"
SNAKEFILE = textwrap.dedent(
    f"""
    NUMBERS = {list(NUMBERS)}

    rule total:
        input:
            expand("squares/{{n}}.txt", n=NUMBERS),
        output:
            "{TARGET}",
        log:
            "logs/total.txt",
        shell:
            "awk '{{{{s += $1}}}} END {{{{print s}}}}' {{input}} > {{output}}; "
            "echo ${{{{SLURM_JOB_ID:-none}}}} > {{log}}"

    rule square:
        output:
            "squares/{{n}}.txt",
        log:
            "logs/square_{{n}}.txt",
        run:
            import os
            from pathlib import Path

            n = int(wildcards.n)
            Path(output[0]).write_text(f"{{n * n}}\\n")
            Path(log[0]).write_text(os.environ.get("SLURM_JOB_ID", "none") + "\\n")
    """
)


def write_workflow(workdir: Path) -> Path:
    workdir.mkdir()
    snakefile = workdir / "Snakefile"
    snakefile.write_text(SNAKEFILE)
    return snakefile


def outputs(workdir: Path) -> dict[str, str]:
    paths = [workdir / TARGET, *sorted((workdir / "squares").glob("*.txt"))]
    return {str(path.relative_to(workdir)): path.read_text() for path in paths}


def job_ids_seen_by_jobs(workdir: Path) -> list[str]:
    return sorted(log.read_text().strip() for log in (workdir / "logs").glob("*.txt"))


def test_workflow_runs_as_slurm_jobs_with_local_results(slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    local_dir, slurm_dir = tmp_path / "local", tmp_path / "slurm"
    local = run_snakemake(local_dir, write_workflow(local_dir), [], [TARGET], ["--cores", "1"], 120)
    assert local.returncode == 0, local.stdout

    result = run_snakemake_on_slurm(slurm_dir, write_workflow(slurm_dir), [], [TARGET], PROFILE_DIR, 120)
    assert result.returncode == 0, f"{result.stdout}\n{slurm_cluster.log_tails()}"

    assert outputs(slurm_dir) == outputs(local_dir)
    assert outputs(slurm_dir)[TARGET] == f"{sum(n * n for n in NUMBERS)}\n"
    job_ids = slurm_job_ids(result.stdout)
    assert len(job_ids) == len(NUMBERS) + 1
    assert job_ids_seen_by_jobs(slurm_dir) == sorted(job_ids)
    assert job_ids_seen_by_jobs(local_dir) == ["none"] * (len(NUMBERS) + 1)
    slurm_logs = {log.stem for log in (slurm_dir / ".snakemake" / "slurm_logs").rglob("*.log")}
    assert slurm_logs == set(job_ids)
    states = slurm_cluster.command("squeue", "--states=all", "--noheader", "--format=%i %T")
    finished = dict(line.split() for line in states.splitlines())
    assert all(finished[job_id] == "COMPLETED" for job_id in job_ids)
