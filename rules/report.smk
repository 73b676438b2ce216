"""The HTML report: Snakemake's own report over every figure and table of the run."""


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


rule report:
    """Snakemake's self-contained HTML report of the run, with captions from report/."""
    input:
        report_inputs,
    output:
        "results/{cohort}/report.html",
    params:
        snakefile=workflow.main_snakefile,
    log:
        "results/{cohort}/logs/report.log",
    conda:
        "../envs/stats.yaml"
    script:
        "../workflow_scripts/report.py"
