"""Whole-slide image stages: tissue segmentation and aligned multi-scale patch coordinates."""


rule segment:
    """Tissue mask of one slide at low resolution, with a QC thumbnail."""
    input:
        slide=slide_path,
    output:
        mask="results/{cohort}/tissue/{slide}.h5",
        qc=report(
            "results/{cohort}/qc/tissue/{slide}.png",
            caption="../report/segmentation_qc.rst",
            category="Quality control",
            subcategory="Tissue segmentation",
            labels={"slide": "{slide}"},
        ),
    params:
        segmentation=config["segmentation"],
        mpp_override=mpp_override,
    resources:
        mem_mb=2000,
    log:
        "results/{cohort}/logs/segment/{slide}.log",
    conda:
        "../envs/wsi.yaml"
    script:
        "../workflow_scripts/segment.py"


rule patch:
    """5x, 10x and 20x patch coordinates of one slide, aligned parent to children."""
    input:
        slide=slide_path,
        mask="results/{cohort}/tissue/{slide}.h5",
    output:
        patches="results/{cohort}/patches/{slide}.h5",
        qc=report(
            "results/{cohort}/qc/patches/{slide}.png",
            caption="../report/patching_qc.rst",
            category="Quality control",
            subcategory="Patch grid",
            labels={"slide": "{slide}"},
        ),
    params:
        patching=config["patching"],
        mpp_override=mpp_override,
    resources:
        mem_mb=2000,
    log:
        "results/{cohort}/logs/patch/{slide}.log",
    conda:
        "../envs/wsi.yaml"
    script:
        "../workflow_scripts/patch.py"
