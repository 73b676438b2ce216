"""The `download` rule as Snakemake runs it: a corrupt file costs two downloads per run, however the
run is configured to retry failed jobs (a profile's ``retries:``, or ``--retries`` on the command line).
"""

from __future__ import annotations

from pathlib import Path

import yaml
from fake_gdc_server import FakeGdc, Fault
from snakemake_runs import SNAKEFILE, run_snakemake

FILE_ID = "9c0f61c8-2b47-4d6e-8f0e-6a3b5d1c7e21"
SLIDE = "TCGA-ZZ-0001-01Z-00-DX1"
CONTENT = bytes(range(256)) * 4096


def _cohort_config(workdir: Path, gdc: FakeGdc) -> Path:
    md5, size = gdc.add_file(FILE_ID, f"{SLIDE}.svs", CONTENT)
    manifest = workdir / "manifest.tsv"
    manifest.write_text(f"id\tfilename\tmd5\tsize\tstate\n{FILE_ID}\t{SLIDE}.svs\t{md5}\t{size}\treleased\n")
    config = {
        "cohort": "fetch",
        "source": {
            "kind": "tcga",
            "project": "TCGA-ZZ",
            "manifest": str(manifest),
            "data_dir": str(workdir / "slides"),
            "gdc_api": gdc.url,
            "backoff_s": 0.01,
            "timeout_s": 10,
        },
    }
    path = workdir / "fetch.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_corrupt_file_is_downloaded_twice_in_a_run_with_job_retries(fake_gdc, tmp_path):
    config = _cohort_config(tmp_path, fake_gdc)
    fake_gdc.faults[FILE_ID] = [Fault("corrupt", 4242)] * 10
    target = tmp_path / "slides" / f"{SLIDE}.svs"
    retrying_run = ["--cores", "1", "--retries", "2"]  # what a profile with `retries: 2` asks for
    done = run_snakemake(tmp_path, SNAKEFILE, [config], [str(target)], retrying_run, 300)
    assert done.returncode != 0, done.stdout[-3000:]
    assert len(fake_gdc.requests_to(f"/data/{FILE_ID}")) == 2
    assert not target.exists()
    log = (tmp_path / "results" / "fetch" / "logs" / "download" / f"{SLIDE}.log").read_text()
    assert log.count("attempt") == 2 and "md5 mismatch" in log
    failure = (tmp_path / "results" / "fetch" / "download_failures" / f"{FILE_ID}.tsv").read_text()
    assert "md5 mismatch after a complete download" in failure
