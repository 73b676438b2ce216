"""Failure records of a --keep-going run: one file per failing job, gathered into one table."""

from __future__ import annotations

import pandas as pd

from crossfusion_core.tcga.failures import clear_failure, collect_failures, record_failure

ID_A = "dd82f8ca-7e2c-41dd-a7d0-620f07c69b4a"
ID_B = "2f8175ee-c8fc-49e2-9934-26f78f18c6d5"


def test_failures_are_collected_and_cleared(tmp_path):
    folder = tmp_path / "download_failures"
    record_failure(folder, ID_A, "b.svs", "HTTP 503\tfive times\nin a row")
    record_failure(folder, ID_B, "a.svs", "md5 mismatch")
    summary = tmp_path / "download_failures.tsv"
    table = collect_failures(folder, summary)
    assert table["filename"].tolist() == ["a.svs", "b.svs"]
    assert table["reason"].tolist() == ["md5 mismatch", "HTTP 503 five times in a row"]
    assert pd.read_csv(summary, sep="\t")["file_id"].tolist() == [ID_B, ID_A]
    clear_failure(folder, ID_B)
    assert collect_failures(folder, summary)["file_id"].tolist() == [ID_A]


def test_no_failures_give_an_empty_table_with_header(tmp_path):
    summary = tmp_path / "download_failures.tsv"
    assert collect_failures(tmp_path / "absent", summary).empty
    assert summary.read_text().strip() == "file_id\tfilename\treason\ttime_utc"
