"""Patch features at 5x, 10x and 20x per backbone (or imported from CLAM/TRIDENT).

Extraction runs one job per backbone and batch of slides (`slides.batches`), so each job starts Python,
imports torch and loads the model once; a small local job per slide then takes its three files from the
batch's folder (see rules/common.smk).
"""

if RUN.features.external is not None:

    rule import_features:
        """Features a user already extracted with CLAM or TRIDENT, checked and laid out as ours."""
        input:
            patches="results/{cohort}/patches/{slide}.h5",
        output:
            **FEATURE_OUTPUTS,
        params:
            external=section_params(RUN.features.external),
        log:
            "results/{cohort}/logs/import_features/{backbone}/{slide}.log",
        conda:
            "../envs/torch.yaml"
        script:
            "../workflow_scripts/import_features.py"

else:

    rule extract_features:
        """Patch features at 5x, 10x and 20x of a batch of slides with one backbone (one model load)."""
        input:
            slides=batch_slide_files,
            patches=batch_patch_files,
        output:
            temp(directory("results/{cohort}/batches/extract_features/{backbone}/{batch}")),
        params:
            extraction=extraction_params,
            slides=batch_slides,
            mpp_overrides=batch_mpp_overrides,
            files=batch_file_names(FEATURE_OUTPUTS),
        # One torch thread per job: on a CPU, batch jobs side by side use the cores better than the
        # threads of one job waiting on each other (the more so on a shared machine). A profile's
        # set-threads raises it; with features.num_workers: auto a job on CUDA reads with all its
        # CPUs but one. A job that will compute on CUDA declares its GPU (crossfusion_core/gpus.py),
        # so `--resources gpu=N` runs at most N at once.
        threads: 1
        resources:
            mem_mb=extraction_mem_mb,
            gpu=job_gpus(RUN.features.resources.device),
            batch_size=RUN.features.resources.batch_size,
            num_workers=RUN.features.resources.num_workers,
            device=RUN.features.resources.device,
            cpu_runtime=RUN.features.resources.cpu_runtime,
        log:
            "results/{cohort}/logs/extract_features/{backbone}/{batch}.log",
        conda:
            "../envs/torch.yaml"
        script:
            "../workflow_scripts/extract_features.py"

    rule slide_features:
        """One slide's feature files at 5x, 10x and 20x for one backbone, from its batch's folder."""
        input:
            batch=slide_batch_folder("extract_features/{backbone}"),
        output:
            **FEATURE_OUTPUTS,
        log:
            "results/{cohort}/logs/slide_features/{backbone}/{slide}.log",
        localrule: True
        conda:
            "../envs/link.yaml"
        shell:
            publish_command(FEATURE_OUTPUTS)


rule feature_index:
    """Bag sizes of every slide for one backbone: training's one input instead of 3 files per slide."""
    input:
        **{scale.group: feature_files_at(scale) for scale in SCALES},
    output:
        "results/{cohort}/features/{backbone}/index.csv",
    log:
        "results/{cohort}/logs/feature_index/{backbone}.log",
    conda:
        "../envs/torch.yaml"
    script:
        "../workflow_scripts/feature_index.py"
