"""Where slides and clinical data come from: the built-in synthetic cohort, TCGA via the GDC, or your own."""

if RUN.dataset_kind == "synthetic":

    SYNTHETIC_OUTPUTS = {"slide": SYNTHETIC_SLIDE, "truth": "results/{cohort}/synthetic/truth/{slide}.h5"}

    rule synthetic_slides:
        """A batch of synthetic Aperio SVS slides, with the maps of the regions where risk was planted."""
        output:
            temp(directory("results/{cohort}/batches/synthetic_slides/{batch}")),
        params:
            synthetic=section_params(RUN.synthetic),
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
            "../envs/link.yaml"
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
            synthetic=section_params(RUN.synthetic),
            slide_ids=slide_ids(),
        log:
            "results/{cohort}/logs/synthetic_clinical.log",
        conda:
            "../envs/wsi.yaml"
        script:
            "../workflow_scripts/synthetic_clinical.py"

elif RUN.dataset_kind == "local":

    LOCAL_DATASET = RUN.dataset

    rule local_clinical:
        """The survival table of your own cohort: its clinical table joined to its slide sheet."""
        input:
            sheet=str(LOCAL_DATASET.slide_sheet),
            # A deployment target may come without one; nothing then asks for its survival table.
            clinical=str(LOCAL_DATASET.clinical_table) if LOCAL_DATASET.has_survival else [],
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

    TCGA_DATASET = RUN.dataset

    rule download:
        """One diagnostic slide from the GDC data endpoint, resumed on interruption, md5-checked.

        Params are the slide's manifest row only: how the GDC is reached (gdc_api, token_file, retries,
        backoff_s, timeout_s) reaches the job through the config and reruns nothing (see
        crossfusion_core/tcga/fetch.py). A rerun still keeps the slide: the output is a link to the
        verified copy data_dir/{id}/{file name} (see crossfusion_core/tcga/slide_store.py).
        """
        output:
            slide=downloaded_slide_pattern(),
        params:
            slide=lambda wildcards: TCGA_DATASET.manifest_row(wildcards.slide),
            failures_dir=f"{RESULTS}/download_failures",
        resources:
            mem_mb=500,
            downloads=1,
        # 0, not a profile's default: the job already retries dropped links (dataset.retries) and gives a
        # file that disagrees with the manifest two tries; each rule retry would fetch it twice more.
        retries: 0
        log:
            f"{RESULTS}/logs/download/{{slide}}.log",
        conda:
            "../envs/wsi.yaml"
        script:
            "../workflow_scripts/download.py"

    rule clinical:
        """The survival table of the cohort: the given one, or built from the GDC cases endpoint.

        Params are what decides the table; how the GDC is reached comes from the config and reruns nothing.
        """
        output:
            survival="results/{cohort}/clinical/survival.csv",
        params:
            table=TCGA_DATASET.table_choices(),
            slide_ids=slide_ids(),
        log:
            "results/{cohort}/logs/clinical.log",
        conda:
            "../envs/wsi.yaml"
        script:
            "../workflow_scripts/clinical.py"
