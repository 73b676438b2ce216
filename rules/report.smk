"""The HTML report: Snakemake's own report over every figure and table of the run."""


rule report:
    """Snakemake's self-contained HTML report of the run, with captions from report/."""
    input:
        report_files,
    output:
        "results/{cohort}/report.html",
    params:
        snakefile=workflow.main_snakefile,
    log:
        "results/{cohort}/logs/report.log",
    conda:
        "../envs/stats.yaml"
    script:
        "../workflow_scripts/report.py"
