"""Whole-slide image stages: tissue segmentation and aligned multi-scale patch coordinates.

One job per batch of slides (`slides.batches`) segments and patches its slides, so that a job's Python
start and imports (tiatoolbox's masker brings in torch) are paid once per batch; a small local job per
slide then takes that slide's files from the batch's folder (see rules/common.smk).
"""

WSI_OUTPUTS = {
    "mask": "results/{cohort}/tissue/{slide}.h5",
    "tissue_qc": "results/{cohort}/qc/tissue/{slide}.png",
    "patches": "results/{cohort}/patches/{slide}.h5",
    "patches_qc": "results/{cohort}/qc/patches/{slide}.png",
}


rule segment_and_patch:
    """Tissue masks and aligned 5x/10x/20x patch coordinates of a batch of slides, with QC figures."""
    input:
        slides=batch_slide_files,
    output:
        temp(directory("results/{cohort}/batches/segment_and_patch/{batch}")),
    params:
        segmentation=section_params(RUN.segmentation),
        patching=section_params(RUN.patching),
        slides=batch_slides,
        mpp_overrides=batch_mpp_overrides,
        files=batch_file_names(WSI_OUTPUTS),
    resources:
        mem_mb=2000,
    log:
        "results/{cohort}/logs/segment_and_patch/{batch}.log",
    conda:
        "../envs/wsi.yaml"
    script:
        "../workflow_scripts/segment_and_patch.py"


rule slide_patches:
    """One slide's tissue mask and patch coordinates with their QC figures, from its batch's folder."""
    input:
        batch=slide_batch_folder("segment_and_patch"),
    output:
        mask=WSI_OUTPUTS["mask"],
        tissue_qc=report(
            WSI_OUTPUTS["tissue_qc"],
            caption="../report/segmentation_qc.rst",
            category="Quality control",
            subcategory="Tissue segmentation",
            labels={"slide": "{slide}"},
        ),
        patches=WSI_OUTPUTS["patches"],
        patches_qc=report(
            WSI_OUTPUTS["patches_qc"],
            caption="../report/patching_qc.rst",
            category="Quality control",
            subcategory="Patch grid",
            labels={"slide": "{slide}"},
        ),
    log:
        "results/{cohort}/logs/slide_patches/{slide}.log",
    localrule: True
    conda:
        "../envs/link.yaml"
    shell:
        publish_command(WSI_OUTPUTS)
