"""Path patterns and input functions shared by every stage (the only place paths are spelled out).

`RUN` (made in the Snakefile) holds the checked settings and the cohort's slides; rules read values from
it, never from the raw config, so the config models stay the one source of defaults. Params carry the
checked sections (or the slice a job needs) as builtins (`section_params`): a changed value reruns the
jobs that take it.
"""

import os

import shlex

from crossfusion_core.features.backbones import backbone_spec
from crossfusion_core.gpus import job_gpus
from crossfusion_core.scales import SCALES
from crossfusion_core.slide_batches import batch_of, slides_by_batch
from crossfusion_core.synthetic.dataset import SYNTHETIC_SLIDE_SUFFIX

# Scripts run in their own interpreter (a conda env, a SLURM job): make the core importable there too.
# Installing the package into each conda env instead would need pip's --no-deps, which an env file's
# pip section cannot pass (pyproject.toml's dependencies would pull torch into every env).
os.environ.update(PYTHONPATH=os.pathsep.join(filter(None, [workflow.basedir, os.environ.get("PYTHONPATH")])))

COHORT = RUN.cohort_name
RESULTS = f"results/{COHORT}"
FOLDS = list(range(RUN.training.n_fold_runs))
FIRST_REPEAT_FOLDS = list(range(RUN.training.n_folds))
"""Repeated cross-validation trains and scores every fold of every repeat; heatmaps and Kaplan-Meier
groups show the first repeat's folds (every patient once)."""
MODELS = list(RUN.training.models)
BACKBONES = list(RUN.features.backbones)
SLIDE_IDS = RUN.slide_ids
SYNTHETIC_SLIDE = f"results/{{cohort}}/slides/{{slide}}{SYNTHETIC_SLIDE_SUFFIX}"
SLIDE_BATCHES = slides_by_batch(SLIDE_IDS, RUN.slide_settings.batches)
BATCH_OF_SLIDE = {slide: batch for batch, slides in SLIDE_BATCHES.items() for slide in slides}
PUBLISH_SLIDE = shlex.quote(os.path.join(workflow.basedir, "workflow_scripts", "publish_slide.sh"))


wildcard_constraints:
    cohort=COHORT,
    slide=r"[^/]+",
    backbone=r"[a-z0-9_]+",
    model=r"[a-z0-9_]+",
    fold=r"\d+",
    batch=r"b\d+",


def section_params(settings, exclude=()):
    """A checked config section (or a slice of one) as a rule's params: every value, defaults filled
    in, as plain builtins. Snakemake compares only builtin params to decide on reruns (it ignores other
    objects); the job's script rebuilds the section's model from them."""
    return settings.model_dump(mode="json", exclude=set(exclude))


def slide_ids():
    """Slide ids of the cohort, exclusions applied (no slide is opened while the DAG is built)."""
    return SLIDE_IDS


def slide_file(slide_id):
    """Where a slide lives: the dataset's own mapping (synthetic plan, GDC manifest, slide sheet)."""
    return RUN.slide_file(slide_id)


def config_excluded_slides():
    """Slide id -> patient of each slide in `slides.exclude` (None where only the clinical job knows it)."""
    return {slide.slide_id: slide.case_id for slide in RUN.excluded_slides}


def downloaded_slide_pattern():
    """Where a TCGA slide is downloaded to (the dataset's data folder and GDC file name)."""
    return RUN.dataset.slide_file_pattern


def slide_path(wildcards):
    return RUN.slide_file(wildcards.slide)


def mpp_override(wildcards):
    """The level-0 mpp of this slide from `slides.mpp_override` or the slide sheet, or None for its header."""
    return RUN.mpp_override(wildcards.slide)


def batch_slides(wildcards):
    """The slide ids of one batch (see crossfusion_core/slide_batches.py), in the cohort's order."""
    return SLIDE_BATCHES[wildcards.batch]


def batch_slide_files(wildcards):
    return [RUN.slide_file(slide) for slide in SLIDE_BATCHES[wildcards.batch]]


def batch_patch_files(wildcards):
    return [f"{RESULTS}/patches/{slide}.h5" for slide in SLIDE_BATCHES[wildcards.batch]]


def batch_mpp_overrides(wildcards):
    """Slide id -> level-0 mpp override (or None) of one batch: editing one slide's reruns its batch."""
    return {slide: RUN.mpp_override(slide) for slide in SLIDE_BATCHES[wildcards.batch]}


def slide_batch_folder(stage):
    """Input function of a per-slide job: the folder that its slide's batch job of ``stage`` wrote
    (``stage`` is a path below results/{cohort}/batches/ and may name the {backbone} wildcard)."""

    def folder(wildcards):
        stage_folder = stage.format(**dict(wildcards.items()))
        return f"{RESULTS}/batches/{stage_folder}/{BATCH_OF_SLIDE[wildcards.slide]}"

    return folder


def batch_file_names(outputs):
    """Output name -> its file name in a slide's folder of the batch: the name and the output's suffix."""
    return {name: name + os.path.splitext(path)[1] for name, path in outputs.items()}


def publish_command(outputs):
    """Shell command of a per-slide job: its log and files from its folder in the batch's output,
    as hard links (workflow_scripts/publish_slide.sh)."""
    files = " ".join(f"{file}={{output.{name}:q}}" for name, file in batch_file_names(outputs).items())
    return f"bash {PUBLISH_SLIDE} {{input.batch:q}}/{{wildcards.slide:q}} {{log:q}} {files}"


def feature_files_at(scale):
    """Input function: one scale's feature files of every slide, for one backbone."""
    return lambda wildcards: expand(
        "{results}/features/{backbone}/{group}/{slide}.h5",
        results=RESULTS,
        backbone=wildcards.backbone,
        group=scale.group,
        slide=SLIDE_IDS,
    )


HEATMAP_PAINTING = section_params(RUN.heatmaps, exclude=("slides",))
"""How heatmaps are painted: the `heatmaps` section without its list of slides, so that naming another
slide there paints that slide and reruns no other heatmap job."""


def feature_dirs(wildcards):
    """Magnification -> folder of one backbone's feature files."""
    folder = f"{RESULTS}/features/{wildcards.backbone}"
    return {scale.magnification: f"{folder}/{scale.group}" for scale in SCALES}


TRAINING_JOB_SECTION = section_params(RUN.training.fold_settings)
"""What every train job depends on: the fold-level training settings, without the model list, the
options and final_model, so adding a model or editing another model's options reruns no other model's
jobs (nor does asking for a final model, rules/deploy.smk). Plain values, as Snakemake compares only
builtin params to decide on reruns."""


def model_options(wildcards):
    """The checked options of one model, every default filled in (only these reach its jobs)."""
    return section_params(RUN.training.options_of(wildcards.model))


def fold_files(name, folds=FOLDS):
    """Input function: file ``name`` of ``folds`` (default: every fold of every repeat) of one model x
    backbone (predictions.csv, model.pt...)."""
    return lambda wildcards: expand(
        "{results}/{model}/{backbone}/fold_{fold}/{name}",
        results=RESULTS,
        model=wildcards.model,
        backbone=wildcards.backbone,
        fold=folds,
        name=name,
    )



def true_risk_table():
    """The synthetic cohort's planted risk (for the oracle C-index), or nothing for real cohorts."""
    return [f"{RESULTS}/clinical/true_risk.csv"] if RUN.dataset_kind == "synthetic" else []


def model_backbone_targets(pattern):
    return expand(pattern, results=RESULTS, model=MODELS, backbone=BACKBONES)


def every_run_fold_file(name):
    """File ``name`` of every fold of every model x backbone: model, then backbone, then fold order."""
    return expand(
        "{results}/{model}/{backbone}/fold_{fold}/{name}",
        results=RESULTS,
        model=MODELS,
        backbone=BACKBONES,
        fold=FOLDS,
        name=name,
    )


def all_targets():
    """What `all` builds on the trained cohort: per-slide QC, every model x backbone's results and figures,
    the comparison table and the excluded slides' page; `snakemake --report` then collects the files
    flagged with report() among them."""
    per_run = model_backbone_targets("{results}/{model}/{backbone}/training_curves.png")
    per_run += expand(
        "{results}/{model}/{backbone}/km.{ext}",
        results=RESULTS,
        model=MODELS,
        backbone=BACKBONES,
        ext=RUN.km.formats,
    )
    per_fold = expand(
        "{results}/{model}/{backbone}/fold_{fold}/heatmaps/{which}.png",
        results=RESULTS,
        model=MODELS,
        backbone=BACKBONES,
        fold=FIRST_REPEAT_FOLDS,
        which=["highest_risk", "lowest_risk"],
    )
    configured_slides = expand(
        "{results}/{model}/{backbone}/heatmaps/{slide}.png",
        results=RESULTS,
        model=MODELS,
        backbone=BACKBONES,
        slide=RUN.heatmaps.slides,
    )
    qc = expand(
        ["{results}/qc/tissue/{slide}.png", "{results}/qc/patches/{slide}.png"],
        results=RESULTS,
        slide=SLIDE_IDS,
    )
    heatmaps = per_fold + configured_slides
    return [f"{RESULTS}/summary/comparison.md", *per_run, *heatmaps, *qc, f"{RESULTS}/qc/excluded.html"]


FEATURE_OUTPUTS = {
    scale.group: f"results/{{cohort}}/features/{{backbone}}/{scale.group}/{{slide}}.h5" for scale in SCALES
}


def extraction_params(wildcards):
    """What changes the numbers of one backbone's features: precision, reading, that backbone's weights.

    Batch size, reader count and device only change speed, so they are resources: editing them (or the
    list of other backbones) reruns nothing.
    """
    features = RUN.features
    weights = features.weights.get(wildcards.backbone)
    return {
        "precision": features.precision,
        "read_strategy": features.read_strategy,
        "read_retries": features.read_retries,
        "weights": {wildcards.backbone: str(weights)} if weights else {},
    }


def extraction_mem_mb(wildcards):
    """Host memory of one extraction job, from the backbone registry (a ViT-g needs twice a ViT-L's)."""
    return backbone_spec(wildcards.backbone).extraction_mem_mb


# Deployment on another cohort (rules/deploy.smk) and the final model.

DEPLOYMENT = RUN.deployment
"""The run's models applied to another cohort (the `deploy` section), or None."""
TARGET = None if DEPLOYMENT is None else DEPLOYMENT.target
"""The deployment target's checked config (a RunConfig of its own), or None."""
TRAINED_HERE = DEPLOYMENT is None or DEPLOYMENT.trained_here
"""False when the deployed models come from another run (`deploy.models_from`): nothing is trained."""
DEPLOYED = "results/{cohort}/deploy/{target}/{model}/{backbone}"
"""Where the deployment of one model x backbone on the target lands."""


def deployment_files(*names):
    """Files ``names`` of the deployment of every model x backbone on the target."""
    return expand(
        "{results}/deploy/{target}/{model}/{backbone}/{name}",
        results=RESULTS,
        target=TARGET.cohort_name,
        model=MODELS,
        backbone=BACKBONES,
        name=names,
    )


def deployed_models(wildcards):
    return DEPLOYMENT.trained_models(RUN.training, wildcards.model, wildcards.backbone)


def deployed_checkpoints(wildcards):
    """The deployed model.pt files: every fold model's, or the final model's."""
    return [str(trained.checkpoint) for trained in deployed_models(wildcards)]


def deployed_reference_risks(wildcards):
    """The trained cohort's risks under the deployed models: where the Kaplan-Meier cut-offs come from."""
    return [str(path) for trained in deployed_models(wildcards) for path in trained.reference_risks]


def target_feature_dirs(wildcards):
    """Magnification -> folder of the target's features of one backbone."""
    folder = f"results/{TARGET.cohort_name}/features/{wildcards.backbone}"
    return {scale.magnification: f"{folder}/{scale.group}" for scale in SCALES}


def deployment_figures():
    """The deployment's figures of one model x backbone: heatmaps, and Kaplan-Meier with survival."""
    return ["heatmaps", *(f"km.{ext}" for ext in TARGET.km.formats if TARGET.has_survival)]


def deployment_summary():
    return [] if TARGET is None else [f"{RESULTS}/deploy/{TARGET.cohort_name}/summary.md"]


def deployment_targets():
    """The deployment's results of every model x backbone, and its table (none without a deployment)."""
    if TARGET is None:
        return []
    scores = ["metrics.json"] if TARGET.has_survival else []
    return deployment_files("predictions.csv", *scores, *deployment_figures()) + deployment_summary()


def run_targets():
    """What `all` builds: the trained cohort's results (none when its models come from another run), its
    final models when asked for, and the deployment's results."""
    trained = all_targets() if TRAINED_HERE else []
    final = RUN.training.final_model and TRAINED_HERE
    finals = model_backbone_targets("{results}/{model}/{backbone}/final/model.pt") if final else []
    return trained + finals + deployment_targets()
