"""A real one-node SLURM cluster on localhost, started by hand for the tests.

The SLURM profile is only worth something if the real scheduler accepts its sbatch calls and the
plugin can follow the jobs to the end, so the tests run Debian's slurmctld and slurmd (installed by
``.ci/install_system_packages.sh``) rather than a fake. There is no systemd in CI: the fixture starts munged,
slurmctld and slurmd itself, each in the foreground under this process, with its own munge key,
socket, ports and state folder, so it touches no system file and two test sessions can run side by
side. The cluster has no accounting database; the test profile therefore polls ``squeue``, and
``MinJobAge`` keeps finished jobs visible to it well past the plugin's longest status-check delay.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

SLURM_PROGRAMS = ("munged", "slurmctld", "slurmd", "sbatch", "srun", "squeue", "scontrol", "sinfo")
INSTALL_HINT = (
    "run `bash .ci/install_system_packages.sh` as root (Debian packages slurmctld slurmd slurm-client munge)"
)
MEMORY_SHARE = 0.5
"""Fraction of the machine's memory the node offers: the machine is shared, test jobs are small."""
DEF_MEM_PER_CPU_MB = 1024
MIN_JOB_AGE_S = 300
"""Finished jobs stay visible to squeue this long: far above 3x the test profile's status delays."""
START_TIMEOUT_S = 60.0


class SlurmClusterError(RuntimeError):
    """The localhost cluster could not be installed, started or queried; the message says why."""


@dataclass
class SlurmCluster:
    """A running cluster: where its files are and the environment its client commands need."""

    root: Path
    conf_path: Path
    bin_dir: Path
    env: dict[str, str]
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def command(self, *args: str, timeout_s: float = 30.0) -> str:
        """Run a SLURM client command against this cluster and return its stdout."""
        result = subprocess.run(
            list(args), env=self.env, capture_output=True, text=True, timeout=timeout_s, check=False
        )
        if result.returncode != 0:
            raise SlurmClusterError(
                f"`{' '.join(args)}` failed (exit {result.returncode}): {result.stderr.strip()}\n"
                f"{self.log_tails()}"
            )
        return result.stdout

    def node_state(self) -> str:
        """The node's state as sinfo prints it (``idle``, ``mixed``, ``down*``...)."""
        return self.command("sinfo", "--noheader", "--Node", "--format=%T").strip()

    def log_tails(self, n_lines: int = 15) -> str:
        """The last lines of each daemon's log, for error messages that explain a failed start."""
        parts = []
        for log in sorted((self.root / "log").glob("*.log")):
            lines = log.read_text(errors="replace").splitlines()[-n_lines:]
            parts.append(f"--- {log} ---\n" + "\n".join(lines))
        return "\n".join(parts)


def require_programs() -> dict[str, str]:
    """Absolute paths of the SLURM and munge programs, or an error saying how to install them."""
    paths = {name: shutil.which(name) for name in SLURM_PROGRAMS}
    missing = sorted(name for name, path in paths.items() if path is None)
    if missing:
        raise SlurmClusterError(f"{', '.join(missing)} not found on PATH: {INSTALL_HINT}")
    return {name: str(path) for name, path in paths.items()}


def free_tcp_port() -> int:
    """A port no one listens on now, so parallel sessions do not fight over 6817/6818."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def node_hardware(slurmd: str) -> tuple[int, int]:
    """(CPUs, memory in MB) as slurmd itself detects them, so the node is never larger than the host."""
    output = subprocess.run([slurmd, "-C"], capture_output=True, text=True, check=True).stdout
    cpus = re.search(r"\bCPUs=(\d+)", output)
    memory_mb = re.search(r"\bRealMemory=(\d+)", output)
    if cpus is None or memory_mb is None:
        raise SlurmClusterError(f"cannot read CPUs/RealMemory from `slurmd -C`: {output!r}")
    return int(cpus.group(1)), int(memory_mb.group(1))


def slurm_conf_text(root: Path, munge_socket: Path, cpus: int, memory_mb: int) -> str:
    """slurm.conf for one node named localhost; no cgroups, no accounting, nothing outside ``root``."""
    state = root / "state"
    log = root / "log"
    lines = [
        "ClusterName=crossfusiontest",
        "SlurmctldHost=localhost(127.0.0.1)",
        f"SlurmctldPort={free_tcp_port()}",
        f"SlurmdPort={free_tcp_port()}",
        "SlurmUser=root",
        "AuthType=auth/munge",
        "CredType=cred/munge",
        f"AuthInfo=socket={munge_socket}",
        f"StateSaveLocation={state / 'ctld'}",
        f"SlurmdSpoolDir={state / 'slurmd'}",
        f"SlurmctldPidFile={state / 'slurmctld.pid'}",
        f"SlurmdPidFile={state / 'slurmd.pid'}",
        f"SlurmctldLogFile={log / 'slurmctld.log'}",
        f"SlurmdLogFile={log / 'slurmd.log'}",
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core_Memory",
        f"DefMemPerCPU={DEF_MEM_PER_CPU_MB}",
        "AccountingStorageType=accounting_storage/none",
        "JobAcctGatherType=jobacct_gather/none",
        "JobCompType=jobcomp/none",
        "MpiDefault=none",
        "SwitchType=switch/none",
        "SchedulerType=sched/builtin",
        "ReturnToService=2",
        f"MinJobAge={MIN_JOB_AGE_S}",
        f"NodeName=localhost NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN",
        "PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP",
    ]
    return "\n".join(lines) + "\n"


def write_srun_wrapper(bin_dir: Path, srun: str, conf_path: Path) -> None:
    """An ``srun`` that always reads this cluster's slurm.conf.

    The slurm-jobstep plugin strips every ``SLURM_*`` variable, SLURM_CONF included, before it calls
    ``srun`` inside a job; without this wrapper srun would look for /etc/slurm/slurm.conf.
    """
    bin_dir.mkdir(parents=True, exist_ok=True)
    wrapper = bin_dir / "srun"
    wrapper.write_text(f'#!/bin/sh\nSLURM_CONF={conf_path} exec {srun} "$@"\n')
    wrapper.chmod(0o755)


def start_munged(root: Path, munged: str) -> tuple[subprocess.Popen, Path]:
    """munged with a fresh key, its socket in a 711 folder as munge demands; returns (process, socket)."""
    munge_dir = root / "munge"
    munge_dir.mkdir(mode=0o700)
    socket_dir = root / "munge-socket"
    socket_dir.mkdir()
    socket_dir.chmod(0o711)
    key = munge_dir / "munge.key"
    key.write_bytes(secrets.token_bytes(1024))
    key.chmod(0o400)
    munge_socket = socket_dir / "munge.socket"
    process = subprocess.Popen(
        [
            munged,
            "--foreground",
            "--force",
            f"--key-file={key}",
            f"--socket={munge_socket}",
            f"--pid-file={munge_dir / 'munged.pid'}",
            f"--seed-file={munge_dir / 'munged.seed'}",
            f"--log-file={root / 'log' / 'munged.log'}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until(lambda: munge_socket.exists(), f"munged socket {munge_socket} to appear", process)
    return process, munge_socket


def wait_until(condition: Callable[[], bool], what: str, process: subprocess.Popen | None = None) -> None:
    """Poll ``condition`` every 0.2 s; fail with ``what`` if it stays false or ``process`` dies."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while not condition():
        if process is not None and process.poll() is not None:
            raise SlurmClusterError(
                f"gave up waiting for {what}: {process.args[0]} exited with status {process.returncode}"
            )
        if time.monotonic() > deadline:
            raise SlurmClusterError(f"gave up waiting for {what} after {START_TIMEOUT_S:.0f} s")
        time.sleep(0.2)


def client_env(conf_path: Path, bin_dir: Path, base_env: dict[str, str]) -> dict[str, str]:
    """The submitting environment: this cluster's config and the srun wrapper first on PATH."""
    env = {name: value for name, value in base_env.items() if not name.startswith(("SLURM_", "SBATCH_"))}
    env["SLURM_CONF"] = str(conf_path)
    env["PATH"] = os.pathsep.join([str(bin_dir), env.get("PATH", "")])
    return env


def start_cluster(root: Path) -> SlurmCluster:
    """Start munged, slurmctld and ``slurmd -N localhost`` under ``root``; return once the node is idle."""
    programs = require_programs()
    (root / "log").mkdir(parents=True)
    (root / "state").mkdir()
    cpus, host_memory_mb = node_hardware(programs["slurmd"])
    munged, munge_socket = start_munged(root, programs["munged"])
    conf_path = root / "slurm.conf"
    conf_path.write_text(slurm_conf_text(root, munge_socket, cpus, int(host_memory_mb * MEMORY_SHARE)))
    bin_dir = root / "bin"
    write_srun_wrapper(bin_dir, programs["srun"], conf_path)
    cluster = SlurmCluster(root, conf_path, bin_dir, client_env(conf_path, bin_dir, dict(os.environ)))
    cluster.processes["munged"] = munged
    try:
        for name, args in (("slurmctld", ["-D", "-i"]), ("slurmd", ["-D", "-N", "localhost"])):
            with (root / "log" / f"{name}.stderr.log").open("w") as stderr:
                cluster.processes[name] = subprocess.Popen(
                    [programs[name], *args, "-f", str(conf_path)],
                    env=cluster.env,
                    stdout=subprocess.DEVNULL,
                    stderr=stderr,
                )
        wait_until(lambda: _node_idle(cluster), "the node to become idle")
    except BaseException as error:
        stop_cluster(cluster)
        raise SlurmClusterError(f"{error}\n{cluster.log_tails()}") from error
    return cluster


def _node_idle(cluster: SlurmCluster) -> bool:
    for name, process in cluster.processes.items():
        if process.poll() is not None:
            raise SlurmClusterError(f"{name} exited with status {process.returncode} during start-up")
    try:
        return cluster.node_state() == "idle"
    except SlurmClusterError:
        return False


def stop_cluster(cluster: SlurmCluster) -> None:
    """``scontrol shutdown``, then end munged; every process waited for (or killed) by its own id."""
    slurm_daemons = [process for name, process in cluster.processes.items() if name != "munged"]
    if any(process.poll() is None for process in slurm_daemons):
        subprocess.run(
            ["scontrol", "shutdown"], env=cluster.env, capture_output=True, timeout=30, check=False
        )
    for process in slurm_daemons:
        _wait_or_kill(process)
    munged = cluster.processes.get("munged")
    if munged is not None:
        munged.terminate()
        _wait_or_kill(munged)


def _wait_or_kill(process: subprocess.Popen, timeout_s: float = 15.0) -> None:
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
