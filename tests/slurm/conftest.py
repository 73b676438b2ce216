"""The session-wide localhost SLURM cluster, for every test marked ``slurm``.

The fixture makes this process's environment the cluster's client environment for the whole session
(SLURM_CONF, the srun wrapper first on PATH, no stray SLURM_*/SBATCH_* variables), as a login node's
shell would have it, so that Snakemake and the SLURM commands started by any test reach this cluster
without extra arguments. It never skips: if SLURM is missing or does not start, every test that needs
it fails with the reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from cluster import SlurmCluster, start_cluster, stop_cluster


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmCluster]:
    """A running one-node cluster (partition ``debug``, node ``localhost``), shut down after the session."""
    cluster = start_cluster(tmp_path_factory.mktemp("slurm"))
    try:
        with pytest.MonkeyPatch.context() as patch:
            for name in set(os.environ) - set(cluster.env):
                patch.delenv(name)
            for name, value in cluster.env.items():
                patch.setenv(name, value)
            yield cluster
    finally:
        stop_cluster(cluster)
