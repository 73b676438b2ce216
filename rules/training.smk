"""Patient-level folds and per-fold training of each model on each backbone's features."""


rule excluded_patients:
    """Patients with no slide that gives patches at every scale (or every slide excluded): left out, listed."""
    input:
        survival="results/{cohort}/clinical/survival.csv",
        tissue=expand("results/{{cohort}}/tissue/{slide}.h5", slide=SLIDE_IDS),
        patches=expand("results/{{cohort}}/patches/{slide}.h5", slide=SLIDE_IDS),
    output:
        table="results/{cohort}/qc/excluded.csv",
        page=report(
            "results/{cohort}/qc/excluded.html",
            caption="../report/excluded.rst",
            category="Quality control",
            subcategory="Left-out patients",
        ),
    params:
        config_excluded=config_excluded_slides(),
    log:
        "results/{cohort}/logs/excluded_patients.log",
    conda:
        "../envs/wsi.yaml"
    script:
        "../workflow_scripts/excluded_patients.py"


rule splits:
    """Train/held-out patients of every fold: the study's own files, or stratified folds from a seed."""
    input:
        survival="results/{cohort}/clinical/survival.csv",
        excluded="results/{cohort}/qc/excluded.csv",
    output:
        expand("results/{{cohort}}/splits/splits_{fold}.csv", fold=FOLDS),
    params:
        n_folds=RUN.training.n_folds,
        repeats=RUN.training.repeats,
        n_bins=RUN.training.n_bins,
        seed=RUN.training.split_seed,
        splits_dir=RUN.splits_dir,
    log:
        "results/{cohort}/logs/splits.log",
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow_scripts/splits.py"


rule train:
    """One model on one backbone's features for one fold: checkpoint, epoch log, held-out predictions."""
    input:
        survival="results/{cohort}/clinical/survival.csv",
        split="results/{cohort}/splits/splits_{fold}.csv",
        feature_index="results/{cohort}/features/{backbone}/index.csv",
    output:
        checkpoint="results/{cohort}/{model}/{backbone}/fold_{fold}/model.pt",
        epochs="results/{cohort}/{model}/{backbone}/fold_{fold}/epochs.csv",
        predictions="results/{cohort}/{model}/{backbone}/fold_{fold}/predictions.csv",
        training_risks="results/{cohort}/{model}/{backbone}/fold_{fold}/training_risks.csv",
    params:
        training=TRAINING_JOB_SECTION,
        model_options=model_options,
        feature_dirs=feature_dirs,
    # One thread per fold: a MIL model's per-patient steps are too small for two threads to help, so
    # folds side by side use the cores better (on a GPU node the thread count hardly matters).
    threads: 1
    resources:
        mem_mb=8000,
        gpu=job_gpus(RUN.training.device),
    log:
        "results/{cohort}/logs/train/{model}/{backbone}/fold_{fold}.log",
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow_scripts/train.py"
