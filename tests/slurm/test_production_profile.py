"""config/profiles/slurm resolves to sensible sbatch resources on a site (dry run, no cluster needed).

The site names come from the environment and GPU rules go to the GPU partition with one GPU. The
rule names are the pipeline's own; the feature extraction's memory comes from the backbone registry
through the pipeline's rule (tests/workflow/test_gpu_resources.py).
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from snakemake_runs import run_snakemake

PROFILE_DIR = Path(__file__).parents[2] / "config" / "profiles" / "slurm"
SITE = {
    "CROSSFUSION_SLURM_ACCOUNT": "proj42",
    "CROSSFUSION_SLURM_PARTITION": "cpu-short",
    "CROSSFUSION_SLURM_GPU_PARTITION": "gpu-a100",
}
SNAKEFILE = textwrap.dedent(
    """
    rule summarize:
        input:
            expand("features/{backbone}.txt", backbone=["uni2_h", "conch_v1"]),
            "slides/a.svs",
        output:
            "summary.txt",
        shell:
            "cat {input} > {output}"

    rule download:
        output:
            "slides/{slide}.svs",
        shell:
            "touch {output}"

    rule extract_features:
        output:
            "features/{backbone}.txt",
        shell:
            "touch {output}"
    """
)


def planned_resources(log_text: str) -> dict[str, dict[str, str]]:
    """``{job label: {resource: value}}`` from a dry run's job listing (label: rule, wildcard value)."""
    planned = {}
    for block in re.split(r"\n(?=rule \w+:)", log_text):
        rule = re.match(r"rule (\w+):", block)
        resources = re.search(r"resources: (.*)", block)
        if rule and resources:
            wildcard = re.search(r"wildcards: \w+=(\S+)", block)
            label = rule.group(1) + (f"[{wildcard.group(1)}]" if wildcard else "")
            planned[label] = dict(item.split("=", 1) for item in resources.group(1).split(", "))
    return planned


def test_profile_takes_site_names_from_environment_and_sizes_gpu_jobs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in SITE.items():
        monkeypatch.setenv(name, value)
    workdir = tmp_path / "workflow"
    workdir.mkdir()
    (workdir / "Snakefile").write_text(SNAKEFILE)

    result = run_snakemake(
        workdir, workdir / "Snakefile", [], ["summary.txt"], ["--profile", str(PROFILE_DIR), "--dry-run"], 120
    )

    assert result.returncode == 0, result.stdout
    planned = planned_resources(result.stdout)
    assert set(planned) == {
        "summarize",
        "download[a]",
        "extract_features[uni2_h]",
        "extract_features[conch_v1]",
    }
    assert {job["slurm_account"] for job in planned.values()} == {"proj42"}
    assert planned["download[a]"]["slurm_partition"] == "cpu-short"
    assert planned["summarize"]["slurm_partition"] == "cpu-short"
    for backbone in ("uni2_h", "conch_v1"):
        job = planned[f"extract_features[{backbone}]"]
        assert (job["slurm_partition"], job["gpu"]) == ("gpu-a100", "1")
    assert "gpu" not in planned["download[a]"]
    assert int(planned["download[a]"]["runtime"]) >= 120
