"""What extraction and training jobs declare to the scheduler: a GPU whenever they will compute on CUDA
(so `--resources gpu=N` and SLURM both see it) and the host memory their backbone needs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from snakemake_runs import REPO, SNAKEFILE, TINY_CONFIG, run_snakemake

from crossfusion_core.features.backbones import BACKBONES
from crossfusion_core.gpus import job_gpus

SLURM_PROFILE = REPO / "config" / "profiles" / "slurm"
GPU_RULES = ("extract_features", "train")
PlannedJob = tuple[str, dict[str, str], dict[str, str]]
"""(rule, wildcards, resources) of one job of a dry run."""


def planned_jobs(workdir: Path, overlay: dict, *args: str) -> list[PlannedJob]:
    """The GPU rules' jobs a dry run of `all` plans for the tiny config and ``overlay``."""
    path = workdir / "overlay.yaml"
    path.write_text(yaml.safe_dump(overlay))
    done = run_snakemake(workdir, SNAKEFILE, [TINY_CONFIG, path], ["all"], ["--dry-run", *args], 600)
    assert done.returncode == 0, done.stdout[-4000:]
    jobs = []
    for block in re.split(r"\n(?=rule \w+:)", done.stdout):
        rule = re.match(r"rule (\w+):", block)
        resources = re.search(r"resources: (.*)", block)
        if rule and resources and rule.group(1) in GPU_RULES:
            wildcards = re.search(r"wildcards: (.*)", block)
            jobs.append((rule.group(1), _pairs(wildcards.group(1)), _pairs(resources.group(1))))
    assert {rule for rule, _, _ in jobs} == set(GPU_RULES)
    return jobs


def _pairs(listing: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in listing.split(", "))


def test_cuda_jobs_declare_a_gpu_and_their_backbones_memory(tmp_path: Path) -> None:
    overlay = {
        "features": {"backbones": ["uni2_h", "efficientnet_lite0"], "device": "cuda"},
        "training": {"device": "cuda"},
    }
    jobs = planned_jobs(tmp_path, overlay, "--cores", "1")
    assert {resources["gpu"] for _, _, resources in jobs} == {"1"}
    for rule, wildcards, resources in jobs:
        if rule == "extract_features":
            assert int(resources["mem_mb"]) == BACKBONES[wildcards["backbone"]].extraction_mem_mb


@pytest.mark.parametrize("device", ["auto", "cpu"])
def test_auto_declares_a_gpu_exactly_when_this_machine_has_one(tmp_path: Path, device: str) -> None:
    """Local jobs run where the DAG is built; ``auto`` is resolved there (cpu never asks for one)."""
    overlay = {"features": {"device": device}, "training": {"device": device}}
    jobs = planned_jobs(tmp_path, overlay, "--cores", "1")
    assert {resources["gpu"] for _, _, resources in jobs} == {str(job_gpus(device))}


def test_slurm_jobs_get_the_gpu_partitions_gpu_and_the_registrys_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "CROSSFUSION_SLURM_ACCOUNT": "proj42",
        "CROSSFUSION_SLURM_PARTITION": "cpu-short",
        "CROSSFUSION_SLURM_GPU_PARTITION": "gpu-a100",
    }.items():
        monkeypatch.setenv(name, value)
    overlay = {"features": {"backbones": ["uni2_h", "conch_v1"]}}
    jobs = planned_jobs(tmp_path, overlay, "--profile", str(SLURM_PROFILE))
    for rule, wildcards, resources in jobs:
        assert (resources["gpu"], resources["slurm_partition"]) == ("1", "gpu-a100"), rule
        if rule == "extract_features":
            assert int(resources["mem_mb"]) == BACKBONES[wildcards["backbone"]].extraction_mem_mb
    assert {wildcards["backbone"] for rule, wildcards, _ in jobs if rule == "extract_features"} == {
        "uni2_h",
        "conch_v1",
    }
