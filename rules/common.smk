"""Path patterns and input functions shared by every stage (the only place paths are spelled out)."""

import os
from functools import cache

from crossfusion_core.cohort import cohort_slide_ids

# Scripts run in their own interpreter (a conda env, a SLURM job): make the core importable there too.
os.environ.update(PYTHONPATH=os.pathsep.join(filter(None, [workflow.basedir, os.environ.get("PYTHONPATH")])))

COHORT = config["cohort"]
RESULTS = f"results/{COHORT}"
SCALES = [5, 10, 20]
FOLDS = list(range(config["training"]["n_folds"]))
MODELS = config["training"]["models"]
BACKBONES = config["features"]["backbones"]


wildcard_constraints:
    cohort=COHORT,
    slide=r"[^/]+",
    backbone=r"[a-z0-9_]+",
    model=r"[a-z0-9_]+",
    fold=r"\d+",
    mag=r"5|10|20",


@cache
def slide_ids():
    """Slide ids of the cohort, from the config alone (no slide is opened while the DAG is built)."""
    return cohort_slide_ids(config["source"], config.get("synthetic", {}), config["slides"]["exclude"])


def slide_file(slide_id):
    """Where a slide lives for this cohort's source."""
    if config["source"]["kind"] == "synthetic":
        return f"{RESULTS}/slides/{slide_id}.svs"
    return f"{config['source']['data_dir']}/{slide_id}.svs"


def slide_path(wildcards):
    return slide_file(wildcards.slide)


def mpp_override(wildcards):
    """The configured level-0 mpp of this slide, or None to trust its header."""
    return config["slides"]["mpp_override"].get(wildcards.slide)


def feature_files_at(mag):
    """Input function: one magnification's feature files of every slide, for one backbone."""
    return lambda wildcards: expand(
        "{results}/features/{backbone}/x{mag}/{slide}.h5",
        results=RESULTS,
        backbone=wildcards.backbone,
        mag=mag,
        slide=slide_ids(),
    )


def feature_dirs(wildcards):
    """Magnification -> folder of one backbone's feature files."""
    return {mag: f"{RESULTS}/features/{wildcards.backbone}/x{mag}" for mag in SCALES}


def model_options(model):
    """The options of one model (only these reach its jobs, so other models' edits rerun nothing)."""
    return config["training"].get("model_options", {}).get(model, {})


def training_params(wildcards):
    """The training section as one model's jobs see it: without the model list and others' options."""
    section = {k: v for k, v in config["training"].items() if k not in ("models", "model_options")}
    return {**section, "model_options": model_options(wildcards.model)}


def fold_predictions(wildcards):
    return expand(
        "{results}/{model}/{backbone}/fold_{fold}/predictions.csv",
        results=RESULTS,
        model=wildcards.model,
        backbone=wildcards.backbone,
        fold=FOLDS,
    )


def true_risk_table():
    """The synthetic cohort's planted risk (for the oracle C-index), or nothing for real cohorts."""
    return [f"{RESULTS}/clinical/true_risk.csv"] if config["source"]["kind"] == "synthetic" else []


def model_backbone_targets(pattern):
    return expand(pattern, results=RESULTS, model=MODELS, backbone=BACKBONES)


def all_targets():
    """What `all` builds: per-slide QC, per model x backbone results and figures, the report."""
    per_slide = expand(
        ["{results}/qc/tissue/{slide}.png", "{results}/qc/patches/{slide}.png"],
        results=RESULTS,
        slide=slide_ids(),
    )
    return per_slide + [f"{RESULTS}/report.html"]


FEATURE_OUTPUTS = {
    f"x{mag}": f"results/{{cohort}}/features/{{backbone}}/x{mag}/{{slide}}.h5" for mag in SCALES
}


def extraction_params(wildcards):
    """What changes the numbers of one backbone's features: precision, reading, that backbone's weights.

    Batch size, reader count and device only change speed, so they are resources: editing them (or the
    list of other backbones) reruns nothing.
    """
    section = config["features"]
    weights = section.get("weights", {})
    return {
        **{key: section[key] for key in ("precision", "read_strategy", "read_retries") if key in section},
        "weights": {wildcards.backbone: weights[wildcards.backbone]} if wildcards.backbone in weights else {},
    }


def report_inputs(wildcards):
    """Every file that carries a report() flag, so the report is rebuilt when any of them changes."""
    per_run = model_backbone_targets("{results}/{model}/{backbone}/training_curves.png")
    per_run += model_backbone_targets("{results}/{model}/{backbone}/km.png")
    per_fold = expand(
        "{results}/{model}/{backbone}/fold_{fold}/heatmaps/{which}.png",
        results=RESULTS,
        model=MODELS,
        backbone=BACKBONES,
        fold=FOLDS,
        which=["highest_risk", "lowest_risk"],
    )
    qc = expand(
        ["{results}/qc/tissue/{slide}.png", "{results}/qc/patches/{slide}.png"],
        results=RESULTS,
        slide=slide_ids(),
    )
    return [f"{RESULTS}/summary/comparison.md", *per_run, *per_fold, *qc]
