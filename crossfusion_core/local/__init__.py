"""Local cohorts (``dataset.kind: local``): the user's own slides, listed in a sheet, and their clinical
table.

Both tables are read and checked while Snakemake builds its DAG, so a duplicate id, a missing file or a
patient without survival data stops the run before any slide is processed, naming the line to fix.
"""
