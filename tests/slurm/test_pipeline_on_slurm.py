"""The real pipeline on the tiny synthetic cohort, submitted job by job to the localhost SLURM cluster.

Every job must run as a SLURM job, and what the cluster produces must equal a local run of the same
config: the same patches, features (to float tolerance: thread counts differ) and held-out predictions.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from cluster import SlurmCluster
from snakemake_runs import (
    REPO,
    SNAKEFILE,
    TINY_CONFIG,
    run_snakemake,
    run_snakemake_on_slurm,
    run_workflow,
    slurm_job_ids,
)

pytestmark = pytest.mark.slurm

PROFILE_DIR = Path(__file__).parent / "profile"
CONFIGS = [TINY_CONFIG, REPO / "tests" / "config" / "slurm.yaml"]
RESULTS = "results/tiny_slurm"
LOCAL_RULES = {"all", "synthetic_slide", "slide_patches", "slide_features"}
"""Jobs that run beside Snakemake, not in SLURM: each takes one slide's files from its batch's folder."""
LOCAL_TARGETS = [f"{RESULTS}/abmil/efficientnet_lite0/fold_{k}/predictions.csv" for k in range(2)]
"""What the local run must make to be compared with the cluster's: features and held-out predictions."""


def _predictions(workdir: Path) -> pd.DataFrame:
    folds = sorted((workdir / RESULTS / "abmil" / "efficientnet_lite0").glob("fold_*/predictions.csv"))
    return pd.concat(map(pd.read_csv, folds)).sort_values("case_id").reset_index(drop=True)


def _features(workdir: Path) -> dict[str, np.ndarray]:
    files = sorted((workdir / RESULTS / "features").rglob("*.h5"))
    arrays = {}
    for path in files:
        with h5py.File(path) as h5:
            arrays[str(path.relative_to(workdir))] = h5["features"][:]
    return arrays


def test_pipeline_runs_as_slurm_jobs_with_local_results(slurm_cluster: SlurmCluster, tmp_path: Path):
    local_dir, slurm_dir = tmp_path / "local", tmp_path / "slurm"
    local_dir.mkdir()
    slurm_dir.mkdir()
    with ThreadPoolExecutor(1) as local_run:  # beside the cluster run, which mostly waits for SLURM
        local = local_run.submit(run_workflow, local_dir, CONFIGS, LOCAL_TARGETS)
        done = run_snakemake_on_slurm(slurm_dir, SNAKEFILE, CONFIGS, ["all"], PROFILE_DIR, 1500)
        local.result()
    assert done.returncode == 0, f"{done.stdout[-6000:]}\n{slurm_cluster.log_tails()}"

    job_ids = slurm_job_ids(done.stdout)
    finished = re.findall(r"Finished jobid: \d+ \(Rule: (\w+)\)", done.stdout)
    assert (
        len(job_ids) == len(set(job_ids)) == len([rule for rule in finished if rule not in LOCAL_RULES]) >= 18
    )
    slurm_logs = {log.stem for log in (slurm_dir / ".snakemake" / "slurm_logs").rglob("*.log")}
    assert set(job_ids) <= slurm_logs

    report = run_snakemake(slurm_dir, SNAKEFILE, CONFIGS, [], ["--report", f"{RESULTS}/report.html"], 600)
    assert report.returncode == 0, report.stdout[-4000:]
    assert (slurm_dir / RESULTS / "report.html").stat().st_size > 100_000
    local_features, slurm_features = _features(local_dir), _features(slurm_dir)
    assert local_features.keys() == slurm_features.keys()
    for name, values in local_features.items():
        np.testing.assert_allclose(slurm_features[name], values, rtol=1e-4, atol=1e-5, err_msg=name)
    local, cluster = _predictions(local_dir), _predictions(slurm_dir)
    assert list(cluster["case_id"]) == list(local["case_id"])
    np.testing.assert_allclose(cluster["risk"], local["risk"], rtol=1e-3, atol=1e-4)
