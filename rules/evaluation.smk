"""Metrics per model x backbone across folds, and the comparison table of everything configured."""


rule evaluate:
    """Harrell's and Uno's C-index, time-dependent AUC and IBS per fold, mean and pooled."""
    input:
        predictions=fold_files("predictions.csv"),
        checkpoints=fold_files("model.pt"),
        true_risk=true_risk_table(),
    output:
        metrics="results/{cohort}/{model}/{backbone}/metrics.csv",
        summary="results/{cohort}/{model}/{backbone}/metrics.json",
    params:
        evaluation=section_params(RUN.evaluation),
    log:
        "results/{cohort}/logs/evaluate/{model}/{backbone}.log",
    conda:
        "../envs/stats.yaml"
    script:
        "../workflow_scripts/evaluate.py"


rule summarize:
    """One row per model x backbone with the best value of each metric marked, and the paired
    difference of every two models' pooled C with its bootstrap interval."""
    input:
        metrics=lambda w: model_backbone_targets("{results}/{model}/{backbone}/metrics.json"),
        predictions=lambda w: every_run_fold_file("predictions.csv"),
    output:
        csv="results/{cohort}/summary/comparison.csv",
        differences="results/{cohort}/summary/paired_differences.csv",
        markdown=report(
            "results/{cohort}/summary/comparison.md",
            caption="../report/comparison.rst",
            category="Results",
            subcategory="Model comparison",
        ),
    params:
        runs=[[m, b] for m in MODELS for b in BACKBONES],
        protocol=RUN.training.selection_label,
        evaluation=section_params(RUN.evaluation),
    log:
        "results/{cohort}/logs/summarize.log",
    conda:
        "../envs/stats.yaml"
    script:
        "../workflow_scripts/summarize.py"
