"""Patient-level folds and per-fold training of each model on each backbone's features."""


rule splits:
    """Train/held-out patients of every fold: the study's own files, or stratified folds from a seed."""
    input:
        survival="results/{cohort}/clinical/survival.csv",
    output:
        expand("results/{{cohort}}/splits/splits_{fold}.csv", fold=FOLDS),
    params:
        n_folds=config["training"]["n_folds"],
        n_bins=config["training"]["n_bins"],
        seed=config["training"]["split_seed"],
        reference_dir=config["source"].get("splits_dir"),
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
    params:
        training=training_params,
        feature_dirs=feature_dirs,
    threads: 2
    resources:
        mem_mb=8000,
        gpu=lambda w: 1 if config["training"].get("device") == "cuda" else 0,
    log:
        "results/{cohort}/logs/train/{model}/{backbone}/fold_{fold}.log",
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow_scripts/train.py"
