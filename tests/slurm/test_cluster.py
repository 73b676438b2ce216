"""The localhost cluster really schedules: sbatch runs a job, squeue and scontrol report it."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from cluster import SlurmCluster, SlurmClusterError, start_cluster


def wait_for_state(cluster: SlurmCluster, job_id: str, timeout_s: float = 60.0) -> str:
    """Poll squeue until the job leaves the pending/running states; return its final state."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = cluster.command(
            "squeue", "--states=all", "--noheader", "--format=%T", f"--jobs={job_id}"
        ).strip()
        if state not in {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING"}:
            return state
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} still not finished after {timeout_s} s")


@pytest.mark.slurm
def test_sbatch_job_completes_and_is_reported(slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    marker = tmp_path / "job_id.txt"
    job_id = slurm_cluster.command(
        "sbatch",
        "--parsable",
        f"--output={tmp_path / 'slurm-%j.log'}",
        "--wrap",
        f"echo $SLURM_JOB_ID > {marker}",
    ).strip()

    assert wait_for_state(slurm_cluster, job_id) == "COMPLETED"
    assert marker.read_text().strip() == job_id
    details = slurm_cluster.command("scontrol", "show", "job", job_id)
    assert "JobState=COMPLETED" in details
    assert "ExitCode=0:0" in details
    assert "NodeList=localhost" in details


@pytest.mark.slurm
@pytest.mark.parametrize(("srun", "expected_state"), [("srun", "COMPLETED"), ("/usr/bin/srun", "FAILED")])
def test_srun_in_a_job_needs_the_wrapper_once_slurm_conf_is_gone(
    slurm_cluster: SlurmCluster, tmp_path: Path, srun: str, expected_state: str
) -> None:
    """The slurm-jobstep plugin drops SLURM_CONF before its srun: only the wrapper on PATH still finds us."""
    output = tmp_path / "step.log"
    job_id = slurm_cluster.command(
        "sbatch", "--parsable", f"--output={output}", "--wrap", f"env -u SLURM_CONF {srun} -n1 hostname"
    ).strip()

    assert wait_for_state(slurm_cluster, job_id) == expected_state, output.read_text()
    if expected_state == "COMPLETED":
        assert output.read_text().split() == [socket.gethostname()]


@pytest.mark.slurm
def test_failing_job_is_reported_failed(slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    job_id = slurm_cluster.command(
        "sbatch", "--parsable", f"--output={tmp_path / 'fail.log'}", "--wrap", "exit 3"
    ).strip()

    assert wait_for_state(slurm_cluster, job_id) == "FAILED"
    assert "ExitCode=3:0" in slurm_cluster.command("scontrol", "show", "job", job_id)


def test_start_fails_naming_the_missing_programs_and_the_install_script(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without SLURM on PATH the fixture must fail loudly, never skip."""
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SlurmClusterError, match=r"munged, sbatch, .*slurmctld.*install_system_packages\.sh"):
        start_cluster(tmp_path / "cluster")
