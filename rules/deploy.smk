"""Deployment: the run's trained models applied to another cohort (external validation), and the final
model it may use.

The target cohort's slides go through the trained cohort's own dataset, slide and feature rules, loaded
again as the module of rules/deploy_target.smk with the target's config (rules named deploy_target_*);
the rules below then score, evaluate and paint the target's patients into
results/{cohort}/deploy/{target}/{model}/{backbone}/. Nothing of the trained cohort depends on the
target, so a change to the target's file reruns the target's side only.
"""

if RUN.training.final_model:

    rule train_final:
        """One model on one backbone's features, trained on every patient with the folds' settings."""
        input:
            survival="results/{cohort}/clinical/survival.csv",
            excluded="results/{cohort}/qc/excluded.csv",
            feature_index="results/{cohort}/features/{backbone}/index.csv",
        output:
            checkpoint="results/{cohort}/{model}/{backbone}/final/model.pt",
            epochs="results/{cohort}/{model}/{backbone}/final/epochs.csv",
            training_risks="results/{cohort}/{model}/{backbone}/final/training_risks.csv",
        params:
            training=TRAINING_JOB_SECTION,
            model_options=model_options,
            feature_dirs=feature_dirs,
        threads: 1
        resources:
            mem_mb=8000,
            gpu=job_gpus(RUN.training.device),
        log:
            "results/{cohort}/logs/train_final/{model}/{backbone}.log",
        conda:
            "../envs/torch.yaml"
        script:
            "../workflow_scripts/train_final.py"


if DEPLOYMENT is not None:

    module deployment_target:
        snakefile:
            "deploy_target.smk"
        config:
            DEPLOYMENT.target_config

    use rule * from deployment_target as deploy_target_*

    wildcard_constraints:
        target=TARGET.cohort_name,

    rule deploy_predict:
        """The target's patients scored by the trained models (their mean risk, or the final model's)."""
        input:
            checkpoints=deployed_checkpoints,
            feature_index="results/{target}/features/{backbone}/index.csv",
            survival=[f"results/{TARGET.cohort_name}/clinical/survival.csv"] if TARGET.has_survival else [],
        output:
            f"{DEPLOYED}/predictions.csv",
        params:
            weights=DEPLOYMENT.settings.weights,
            slide_patients={slide.slide_id: slide.case_id for slide in TARGET.slides},
            feature_dirs=target_feature_dirs,
        threads: 1
        resources:
            mem_mb=8000,
        log:
            "results/{cohort}/logs/deploy_predict/{target}/{model}/{backbone}.log",
        conda:
            "../envs/torch.yaml"
        script:
            "../workflow_scripts/deploy_predict.py"

    rule deploy_heatmaps:
        """Attention of the deployed models over every slide of the target."""
        input:
            checkpoints=deployed_checkpoints,
            predictions=f"{DEPLOYED}/predictions.csv",
        output:
            report(
                directory(f"{DEPLOYED}/heatmaps"),
                patterns=["{slide}.png"],
                caption="../report/deploy_heatmaps.rst",
                category="Deployment",
                subcategory="Heatmaps",
                labels={"model": "{model}", "backbone": "{backbone}", "slide": "{slide}"},
            ),
        params:
            heatmaps=section_params(TARGET.heatmaps),
            feature_dirs=target_feature_dirs,
            slide_paths={slide: TARGET.slide_file(slide) for slide in TARGET.slide_ids},
        threads: 2
        resources:
            mem_mb=8000,
        log:
            "results/{cohort}/logs/deploy_heatmaps/{target}/{model}/{backbone}.log",
        conda:
            "../envs/torch.yaml"
        script:
            "../workflow_scripts/deploy_heatmaps.py"

    if TARGET.has_survival:

        rule deploy_evaluate:
            """Harrell's and Uno's C of the deployed risk on the target, with bootstrap intervals."""
            input:
                predictions=f"{DEPLOYED}/predictions.csv",
            output:
                f"{DEPLOYED}/metrics.json",
            params:
                evaluation=section_params(TARGET.evaluation),
            log:
                "results/{cohort}/logs/deploy_evaluate/{target}/{model}/{backbone}.log",
            conda:
                "../envs/stats.yaml"
            script:
                "../workflow_scripts/deploy_evaluate.py"

        rule deploy_km:
            """Kaplan-Meier of the target's risk groups, cut at the trained cohort's risks, with log-rank p."""
            input:
                predictions=f"{DEPLOYED}/predictions.csv",
                reference=deployed_reference_risks,
            output:
                summary=f"{DEPLOYED}/km.json",
                figures=report(
                    expand(f"{DEPLOYED}/km.{{ext}}", ext=TARGET.km.formats, allow_missing=True),
                    caption="../report/deploy_km.rst",
                    category="Deployment",
                    subcategory="Kaplan-Meier",
                    labels={"model": "{model}", "backbone": "{backbone}", "figure": "Kaplan-Meier"},
                ),
            params:
                km=section_params(TARGET.km),
                cohorts=[RUN.cohort_name, TARGET.cohort_name],
            log:
                "results/{cohort}/logs/deploy_km/{target}/{model}/{backbone}.log",
            conda:
                "../envs/stats.yaml"
            script:
                "../workflow_scripts/deploy_km.py"

    rule deploy_summary:
        """The deployment's table: one row per model x backbone, the weights named."""
        input:
            predictions=deployment_files("predictions.csv"),
            metrics=deployment_files("metrics.json") if TARGET.has_survival else [],
            km=deployment_files("km.json") if TARGET.has_survival else [],
        output:
            csv="results/{cohort}/deploy/{target}/summary.csv",
            markdown=report(
                "results/{cohort}/deploy/{target}/summary.md",
                caption="../report/deploy_summary.rst",
                category="Deployment",
                subcategory="Scores",
            ),
        params:
            runs=[[m, b] for m in MODELS for b in BACKBONES],
            cohorts=[RUN.cohort_name, TARGET.cohort_name],
            confidence_level=TARGET.evaluation.confidence_level,
        log:
            "results/{cohort}/logs/deploy_summary/{target}.log",
        conda:
            "../envs/stats.yaml"
        script:
            "../workflow_scripts/deploy_summary.py"
