"""Patch features at 5x, 10x and 20x, one job per slide and backbone (or imported from CLAM/TRIDENT)."""

if config["features"].get("external"):

    rule import_features:
        """Features a user already extracted with CLAM or TRIDENT, checked and laid out as ours."""
        input:
            patches="results/{cohort}/patches/{slide}.h5",
        output:
            **FEATURE_OUTPUTS,
        params:
            external=config["features"]["external"],
        log:
            "results/{cohort}/logs/import_features/{backbone}/{slide}.log",
        conda:
            "../envs/torch.yaml"
        script:
            "../workflow_scripts/import_features.py"

else:

    rule extract_features:
        """Patch features of one slide at 5x, 10x and 20x with one backbone."""
        input:
            slide=slide_path,
            patches="results/{cohort}/patches/{slide}.h5",
        output:
            **FEATURE_OUTPUTS,
        params:
            extraction=extraction_params,
            mpp_override=mpp_override,
        threads: 2
        resources:
            mem_mb=8000,
            gpu=lambda w: 1 if config["features"].get("device") == "cuda" else 0,
            batch_size=config["features"].get("batch_size", 64),
            num_workers=config["features"].get("num_workers", 2),
            device=config["features"].get("device", "auto"),
        log:
            "results/{cohort}/logs/extract_features/{backbone}/{slide}.log",
        conda:
            "../envs/torch.yaml"
        script:
            "../workflow_scripts/extract_features.py"


rule feature_index:
    """Bag sizes of every slide for one backbone: training's one input instead of 3 files per slide."""
    input:
        **{f"x{mag}": feature_files_at(mag) for mag in SCALES},
    output:
        "results/{cohort}/features/{backbone}/index.csv",
    log:
        "results/{cohort}/logs/feature_index/{backbone}.log",
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow_scripts/feature_index.py"
