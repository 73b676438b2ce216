"""crossfusion-workflow: whole-slide images to CrossFusion survival predictions.

Run `snakemake --cores all all` (the built-in synthetic cohort by default) or add
`--configfile config/cohorts/tcga_blca.yaml` for a TCGA cohort, then `snakemake --report
results/{cohort}/report.html` (same config files) for the HTML report over the figures and tables that
`all` made. Each stage lives in rules/<stage>.smk.
"""

import os
import sys

from snakemake.utils import min_version

# Snakemake reads each job's script through nbformat, which imports jsonschema, which loads its IRI
# format checker whenever rfc3987-syntax is installed (tiatoolbox's jupyterlab brings it): that checker
# builds an Earley parser on import, 4 s of every DAG build (every dry run, every job's start). No
# schema here uses IRI formats; a module marked absent is one jsonschema skips.
sys.modules.setdefault("rfc3987_syntax", None)

from crossfusion_core.config_checks import checked_run_config
from crossfusion_core.config_origins import ConfigOrigins

min_version("9.0")

MAIN_CONFIG = os.path.join(workflow.basedir, "config", "config.yaml")


configfile: MAIN_CONFIG


# Every value is checked now, by the config model (crossfusion_core/pipeline_config.py), against the
# files it names and the cohort's slides; an error names the config file that set the value. Snakemake
# merges the main config, the --configfile overlays and the --config pairs into `config` and documents no
# API that tells them apart (`workflow.configfiles` lists files only, not the --config pairs nor
# --replace-workflow-config), so its parsed command-line settings `workflow.config_settings` are read
# here, and nowhere else.
RUN = checked_run_config(
    config,
    ConfigOrigins.from_sources(
        None if workflow.config_settings.replace_workflow_config else MAIN_CONFIG,
        workflow.config_settings.configfiles,
        workflow.config_settings.config,
    ),
    synthetic_dir="results/{cohort}/slides",
)


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/dataset.smk"
include: "rules/wsi.smk"
include: "rules/features.smk"
include: "rules/training.smk"
include: "rules/evaluation.smk"
include: "rules/plots.smk"
include: "rules/deploy.smk"


rule all:
    """Everything the config asks for: per-slide QC, every model x backbone and its figures, and a
    deployment on another cohort when the config has one (rules/deploy.smk). The HTML report is the
    step after it: `snakemake --report results/{cohort}/report.html`."""
    input:
        run_targets(),
    default_target: True
