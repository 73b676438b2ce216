"""The run's HTML report, made by Snakemake's own report command from inside a rule.

`snakemake --report` needs the workflow's metadata (which job made which file, with which params), so
the report is not rebuilt here by hand: the rule runs the report command on its own inputs, with the
same config, and renames the finished file into place. The core still never imports Snakemake; it
calls the command of the interpreter that runs this job.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from crossfusion_core.io import atomic_path


def write_snakemake_report(
    snakefile: str | Path, config: Mapping[str, Any], targets: Sequence[str | Path], out_html: str | Path
) -> None:
    """Write Snakemake's self-contained report covering ``targets`` to ``out_html``."""
    with tempfile.TemporaryDirectory() as scratch, atomic_path(out_html) as partial:
        config_path = Path(scratch) / "config.yaml"
        config_path.write_text(yaml.safe_dump(dict(config), sort_keys=False))
        command = [
            sys.executable,
            "-m",
            "snakemake",
            "--snakefile",
            str(snakefile),
            "--configfile",
            str(config_path),
            "--nolock",
            "--report",
            str(partial),
            *map(str, targets),
        ]
        subprocess.run(command, check=True)
