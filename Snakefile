"""crossfusion-workflow: whole-slide images to CrossFusion survival predictions.

Run `snakemake --cores all all` (the built-in synthetic cohort by default) or add
`--configfile config/cohorts/tcga_blca.yaml` for a TCGA cohort. Each stage lives in rules/<stage>.smk.
"""

import os

from snakemake.utils import min_version, validate

min_version("9.0")


configfile: os.path.join(workflow.basedir, "config", "config.yaml")


validate(config, "config/schema.yaml")


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/source.smk"
include: "rules/wsi.smk"
include: "rules/features.smk"
include: "rules/training.smk"
include: "rules/evaluation.smk"
include: "rules/plots.smk"
include: "rules/report.smk"


rule all:
    """Everything the config asks for: per-slide QC, every model x backbone, figures and the report."""
    input:
        all_targets(),
    default_target: True
