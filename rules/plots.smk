"""Figures from the files of the previous stages alone: Kaplan-Meier, training curves, heatmaps."""


rule km_plot:
    """Kaplan-Meier curves of out-of-fold risk groups (cut per fold) with the log-rank test."""
    input:
        predictions=fold_files("predictions.csv", FIRST_REPEAT_FOLDS),
        training_risks=fold_files("training_risks.csv", FIRST_REPEAT_FOLDS),
    output:
        summary="results/{cohort}/{model}/{backbone}/km.json",
        figures=report(
            expand("results/{{cohort}}/{{model}}/{{backbone}}/km.{ext}", ext=RUN.km.formats),
            caption="../report/km.rst",
            category="Results",
            subcategory="Kaplan-Meier",
            labels={"model": "{model}", "backbone": "{backbone}", "figure": "Kaplan-Meier"},
        ),
    params:
        km=section_params(RUN.km),
    log:
        "results/{cohort}/logs/km_plot/{model}/{backbone}.log",
    conda:
        "../envs/stats.yaml"
    script:
        "../workflow_scripts/km_plot.py"


rule training_curves:
    """Loss and validation C-index per epoch, every fold of one model x backbone in one figure."""
    input:
        epochs=lambda w: expand(
            "results/{cohort}/{model}/{backbone}/fold_{fold}/epochs.csv",
            cohort=w.cohort,
            model=w.model,
            backbone=w.backbone,
            fold=FOLDS,
        ),
    output:
        report(
            "results/{cohort}/{model}/{backbone}/training_curves.png",
            caption="../report/training_curves.rst",
            category="Training",
            labels={"model": "{model}", "backbone": "{backbone}"},
        ),
    log:
        "results/{cohort}/logs/training_curves/{model}/{backbone}.log",
    conda:
        "../envs/stats.yaml"
    script:
        "../workflow_scripts/training_curves.py"


rule heatmap:
    """Attention of the held-out model at 5x, 10x and 20x over the highest- and lowest-risk slides
    (rule slide_heatmap paints the slides of `heatmaps.slides`).

    Which slides are painted depends on the predictions, so their slide and feature files are found
    through params; the checkpoint already depends on every feature file through training.
    """
    input:
        checkpoint="results/{cohort}/{model}/{backbone}/fold_{fold}/model.pt",
        predictions="results/{cohort}/{model}/{backbone}/fold_{fold}/predictions.csv",
    output:
        highest=report(
            "results/{cohort}/{model}/{backbone}/fold_{fold}/heatmaps/highest_risk.png",
            caption="../report/heatmaps.rst",
            category="Heatmaps",
            labels={"model": "{model}", "backbone": "{backbone}", "fold": "{fold}", "patient": "highest risk"},
        ),
        lowest=report(
            "results/{cohort}/{model}/{backbone}/fold_{fold}/heatmaps/lowest_risk.png",
            caption="../report/heatmaps.rst",
            category="Heatmaps",
            labels={"model": "{model}", "backbone": "{backbone}", "fold": "{fold}", "patient": "lowest risk"},
        ),
    params:
        heatmaps=HEATMAP_PAINTING,
        feature_dirs=feature_dirs,
        slide_paths=lambda w: {s: slide_file(s) for s in slide_ids()},
    threads: 2
    resources:
        mem_mb=8000,
    log:
        "results/{cohort}/logs/heatmap/{model}/{backbone}/fold_{fold}.log",
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow_scripts/heatmap.py"


rule slide_heatmap:
    """The heatmap of one slide of `heatmaps.slides`, by the model of the first repeat's fold that held its
    patient out (which fold that is, the predictions say: the splits are made by a job)."""
    input:
        checkpoints=fold_files("model.pt", FIRST_REPEAT_FOLDS),
        predictions=fold_files("predictions.csv", FIRST_REPEAT_FOLDS),
    output:
        report(
            "results/{cohort}/{model}/{backbone}/heatmaps/{slide}.png",
            caption="../report/heatmaps.rst",
            category="Heatmaps",
            labels={"model": "{model}", "backbone": "{backbone}", "fold": "held out", "patient": "{slide}"},
        ),
    params:
        heatmaps=HEATMAP_PAINTING,
        feature_dirs=feature_dirs,
        slide_path=slide_path,
    threads: 2
    resources:
        mem_mb=8000,
    log:
        "results/{cohort}/logs/slide_heatmap/{model}/{backbone}/{slide}.log",
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow_scripts/slide_heatmap.py"
