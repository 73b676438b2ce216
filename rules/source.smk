"""Where slides and clinical data come from: the built-in synthetic cohort or TCGA via the GDC."""

if config["source"]["kind"] == "synthetic":

    rule synthetic_slide:
        """One synthetic Aperio SVS slide, with the map of the regions where risk was planted."""
        output:
            slide="results/{cohort}/slides/{slide}.svs",
            truth="results/{cohort}/synthetic/truth/{slide}.h5",
        params:
            synthetic=config["synthetic"],
        resources:
            mem_mb=3000,
        log:
            "results/{cohort}/logs/synthetic_slide/{slide}.log",
        conda:
            "../envs/wsi.yaml"
        script:
            "../workflow_scripts/synthetic_slide.py"

    rule synthetic_clinical:
        """Survival table, GDC-style manifest and the planted (true) risk of the synthetic cohort."""
        input:
            slides=lambda w: expand("results/{cohort}/slides/{slide}.svs", cohort=w.cohort, slide=slide_ids()),
        output:
            survival="results/{cohort}/clinical/survival.csv",
            true_risk="results/{cohort}/clinical/true_risk.csv",
            manifest="results/{cohort}/manifest.tsv",
        params:
            synthetic=config["synthetic"],
        log:
            "results/{cohort}/logs/synthetic_clinical.log",
        conda:
            "../envs/wsi.yaml"
        script:
            "../workflow_scripts/synthetic_clinical.py"

else:

    rule download:
        """One diagnostic slide from the GDC data endpoint, resumed on interruption, md5-checked."""
        output:
            slide=f"{config['source']['data_dir']}/{{slide}}.svs",
        params:
            source=config["source"],
            failures_dir=f"{RESULTS}/download_failures",
        resources:
            mem_mb=500,
            downloads=1,
        retries: 2
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
