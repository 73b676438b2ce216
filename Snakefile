"""crossfusion-workflow: whole-slide images to CrossFusion survival predictions.

Run `snakemake --cores all all` (the built-in synthetic cohort by default) or add
`--configfile config/cohorts/tcga_blca.yaml` for a TCGA cohort. Each stage lives in rules/<stage>.smk.
"""

import os

from snakemake.utils import min_version

from crossfusion_core.config_checks import checked_run_config
from crossfusion_core.config_origins import ConfigOrigins

min_version("9.0")

MAIN_CONFIG = os.path.join(workflow.basedir, "config", "config.yaml")


configfile: MAIN_CONFIG


# Every value is checked now, against the schema, the settings dataclasses, the model and backbone
# registries and the cohort's slides; an error names the config file that set the value.
RUN = checked_run_config(
    config,
    ConfigOrigins.from_sources(
        None if workflow.config_settings.replace_workflow_config else MAIN_CONFIG,
        workflow.config_settings.configfiles,
        workflow.config_settings.config,
    ),
    os.path.join(workflow.basedir, "config", "schema.yaml"),
    synthetic_dir="results/{cohort}/slides",
)


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/source.smk"
include: "rules/wsi.smk"
include: "rules/features.smk"
include: "rules/training.smk"
include: "rules/evaluation.smk"
include: "rules/plots.smk"
include: "rules/deploy.smk"
include: "rules/report.smk"


rule all:
    """Everything the config asks for: per-slide QC, every model x backbone, figures and the report, and
    a deployment on another cohort when the config has one (rules/deploy.smk)."""
    input:
        run_targets(),
    default_target: True
