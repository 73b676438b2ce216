"""How many GPUs a job declares to Snakemake, decided while the DAG is built.

Snakemake schedules by declared resources: a job that will compute on CUDA must say ``gpu=1``, or
``--resources gpu=1`` cannot keep two of them off one GPU. A job's device setting is ``auto``, ``cpu``
or ``cuda``; ``auto`` means "CUDA if there is a GPU", so it is resolved here, on the machine that builds
the DAG, which is where local jobs run. That check must not import torch (seconds at every dry run):
it counts the NVIDIA device files the driver creates and that ``CUDA_VISIBLE_DEVICES`` leaves visible.
A profile that sends jobs to other machines (config/profiles/slurm) declares their GPUs itself, since
the submitting host's hardware says nothing about the nodes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

NVIDIA_DEVICE_FILE = re.compile(r"nvidia\d+")
"""/dev/nvidia0, /dev/nvidia1...: one per GPU the driver exposes here (not nvidiactl or nvidia-uvm)."""
HIDDEN = ("", "-1", "NoDevFiles")
"""``CUDA_VISIBLE_DEVICES`` entries that end the visible list (SLURM writes NoDevFiles without a GPU)."""


def visible_nvidia_gpus(dev_dir: Path = Path("/dev"), environ: Mapping[str, str] = os.environ) -> int:
    """NVIDIA GPUs this machine's processes can see: device files, capped by ``CUDA_VISIBLE_DEVICES``."""
    present = sum(1 for path in dev_dir.glob("nvidia*") if NVIDIA_DEVICE_FILE.fullmatch(path.name))
    listed = environ.get("CUDA_VISIBLE_DEVICES")
    if listed is None:
        return present
    visible = 0
    for entry in listed.split(","):
        if entry.strip() in HIDDEN:
            break
        visible += 1
    return min(present, visible)


def job_gpus(device: str, gpus_here: int | None = None) -> int:
    """The ``gpu`` resource of a job whose device setting is ``device`` (auto, cpu or cuda).

    ``gpus_here`` defaults to :func:`visible_nvidia_gpus` of this machine.
    """
    if device == "auto":
        return 1 if (visible_nvidia_gpus() if gpus_here is None else gpus_here) else 0
    return 1 if device == "cuda" else 0
