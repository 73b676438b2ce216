"""The deployment target's own stages: the trained cohort's dataset, slide and feature rules, run again
on the target's config.

rules/deploy.smk loads this file as a Snakemake module with the target's merged config
(crossfusion_core/deploy/target_config.py), so the target's slides go through exactly the rules the
trained cohort's went through, each job with the target's params: a change to the target's file
reruns the target's jobs, and nothing of the trained cohort. Nothing is trained on the target, so no
training, evaluation or figure rule is loaded.
"""

from crossfusion_core.config_checks import target_run_config

# Generated slides of a synthetic target go where the Snakefile sends any cohort's.
RUN = target_run_config(config, synthetic_dir="results/{cohort}/slides")


include: "common.smk"
include: "dataset.smk"
include: "wsi.smk"
include: "features.smk"
