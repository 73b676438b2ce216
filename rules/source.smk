"""Where slides and clinical data come from: the built-in synthetic cohort, TCGA via the GDC, or your own."""

if RUN.source_kind == "synthetic":

    SYNTHETIC_OUTPUTS = {"slide": SYNTHETIC_SLIDE, "truth": "results/{cohort}/synthetic/truth/{slide}.h5"}

    rule synthetic_slides:
        """A batch of synthetic Aperio SVS slides, with the maps of the regions where risk was planted."""
        output:
            temp(directory("results/{cohort}/batches/synthetic_slides/{batch}")),
        params:
            synthetic=config["synthetic"],
            slides=batch_slides,
            files=batch_file_names(SYNTHETIC_OUTPUTS),
        resources:
            mem_mb=3000,
        log:
            "results/{cohort}/logs/synthetic_slides/{batch}.log",
        conda:
            "../envs/wsi.yaml"
        script:
            "../workflow_scripts/synthetic_slides.py"

    rule synthetic_slide:
        """One synthetic slide and its planted-risk map, from its batch's folder."""
        input:
            batch=slide_batch_folder("synthetic_slides"),
        output:
            **SYNTHETIC_OUTPUTS,
        log:
            "results/{cohort}/logs/synthetic_slide/{slide}.log",
        localrule: True
        conda:
            "../envs/wsi.yaml"
        shell:
            publish_command(SYNTHETIC_OUTPUTS)

    rule synthetic_clinical:
        """Survival table, GDC-style manifest and the planted (true) risk of the synthetic cohort."""
        input:
            slides=lambda w: [slide_file(slide) for slide in slide_ids()],
        output:
            survival="results/{cohort}/clinical/survival.csv",
            true_risk="results/{cohort}/clinical/true_risk.csv",
            manifest="results/{cohort}/manifest.tsv",
        params:
            synthetic=config["synthetic"],
            slide_ids=slide_ids(),
        log:
            "results/{cohort}/logs/synthetic_clinical.log",
        conda:
            "../envs/wsi.yaml"
        script:
            "../workflow_scripts/synthetic_clinical.py"

elif RUN.source_kind == "local":

    rule local_clinical:
        """The survival table of your own cohort: its clinical table joined to its slide sheet."""
        input:
            sheet=config["source"]["slide_sheet"],
            clinical=config["source"]["clinical_table"],
        output:
            survival="results/{cohort}/clinical/survival.csv",
        params:
            slide_ids=slide_ids(),
        log:
            "results/{cohort}/logs/local_clinical.log",
        conda:
            "../envs/wsi.yaml"
        script:
            "../workflow_scripts/local_clinical.py"

else:

    rule download:
        """One diagnostic slide from the GDC data endpoint, resumed on interruption, md5-checked."""
        output:
            slide=downloaded_slide_pattern(),
        params:
            source=config["source"],
            failures_dir=f"{RESULTS}/download_failures",
        resources:
            mem_mb=500,
            downloads=1,
        # 0, not a profile's default: the job already retries dropped links (source.retries) and gives a
        # file that disagrees with the manifest two tries; each rule retry would fetch it twice more.
        retries: 0
        log:
            f"{RESULTS}/logs/download/{{slide}}.log",
        conda:
            "../envs/wsi.yaml"
        script:
            "../workflow_scripts/download.py"

    rule clinical:
        """The survival table of the cohort: the given one, or built from the GDC cases endpoint."""
        output:
            survival="results/{cohort}/clinical/survival.csv",
        params:
            source=config["source"],
            slide_ids=slide_ids(),
        log:
            "results/{cohort}/logs/clinical.log",
        conda:
            "../envs/wsi.yaml"
        script:
            "../workflow_scripts/clinical.py"
