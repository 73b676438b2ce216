"""The house style is checked, not hoped for: ruff (lint and format) and Snakemake's own linter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYTHON_TREES = ["crossfusion_core", "workflow_scripts", "tests", "benchmarks"]


def _ruff(*args: str) -> subprocess.CompletedProcess:
    ruff = Path(sys.executable).with_name("ruff")
    return subprocess.run(
        [str(ruff), *args, *PYTHON_TREES], cwd=REPO, capture_output=True, text=True, check=False
    )


def test_ruff_finds_nothing():
    done = _ruff("check")
    assert done.returncode == 0, done.stdout


def test_code_is_ruff_formatted():
    done = _ruff("format", "--check")
    assert done.returncode == 0, done.stdout


def test_snakemake_lint_passes():
    done = subprocess.run(
        [sys.executable, "-m", "snakemake", "--lint", "--snakefile", str(REPO / "Snakefile")],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
