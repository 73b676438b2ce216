"""The `download` rule as Snakemake runs it: what reruns it, what a rerun keeps, what the dry run refuses.

A corrupt file costs two downloads per run, however the run is configured to retry failed jobs (a
profile's ``retries:``, or ``--retries`` on the command line). How the GDC is reached (API address,
token, timeouts, retries) never reruns a download, and a download that Snakemake does rerun (a code
change, ``--forcerun``) finds its verified slide again without the network.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from fake_gdc_server import FakeGdc, Fault
from snakemake_runs import SNAKEFILE, run_snakemake

FILE_IDS = ("9c0f61c8-2b47-4d6e-8f0e-6a3b5d1c7e21", "0b4e8a52-6a0d-4f53-9d61-2f7c1e9a3b55")
SLIDES = ("TCGA-ZZ-0001-01Z-00-DX1", "TCGA-ZZ-0002-01Z-00-DX1")
CONTENTS = (bytes(range(256)) * 4096, bytes(range(255, -1, -1)) * 2048)
FILE_ID, SLIDE, CONTENT = FILE_IDS[0], SLIDES[0], CONTENTS[0]


def _cohort_config(workdir: Path, gdc: FakeGdc, **changes: object) -> Path:
    """The cohort's overlay (written again with ``changes`` applied to its `dataset` section)."""
    rows = ["id\tfilename\tmd5\tsize\tstate"]
    for file_id, slide, content in zip(FILE_IDS, SLIDES, CONTENTS, strict=True):
        md5, size = gdc.add_file(file_id, f"{slide}.svs", content)
        rows.append(f"{file_id}\t{slide}.svs\t{md5}\t{size}\treleased")
    manifest = workdir / "manifest.tsv"
    manifest.write_text("\n".join(rows) + "\n")
    dataset = {
        "kind": "tcga",
        "project": "TCGA-ZZ",
        "manifest": str(manifest),
        "data_dir": str(workdir / "slides"),
        "gdc_api": gdc.url,
        "backoff_s": 0.01,
        "timeout_s": 10,
    }
    path = workdir / "fetch.yaml"
    path.write_text(yaml.safe_dump({"cohort": "fetch", "dataset": {**dataset, **changes}}))
    return path


def _targets(workdir: Path) -> list[str]:
    return [str(workdir / "slides" / f"{slide}.svs") for slide in SLIDES]


def _snakemake(workdir: Path, config: Path, *args: str) -> str:
    done = run_snakemake(workdir, SNAKEFILE, [config], _targets(workdir), [*args, "--cores", "1"], 300)
    assert done.returncode == 0, done.stdout[-3000:]
    return done.stdout


def _planned_downloads(workdir: Path, config: Path) -> int:
    plan = _snakemake(workdir, config, "--dry-run", "--quiet", "rules")
    match = re.search(r"^download\s+(\d+)$", plan, re.MULTILINE)
    return int(match.group(1)) if match else 0


@pytest.fixture
def downloaded(fake_gdc: FakeGdc, tmp_path: Path) -> Path:
    """A run folder whose two slides were fetched by a real run of the rule."""
    _snakemake(tmp_path, _cohort_config(tmp_path, fake_gdc))
    assert [path.read_bytes() for path in map(Path, _targets(tmp_path))] == list(CONTENTS)
    return tmp_path


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


def test_no_transport_setting_reruns_a_download(fake_gdc, downloaded, closed_port_url):
    token = downloaded / "token.txt"
    token.write_text("a-token\n")
    changes = {
        "timeout_s": 5,
        "retries": 1,
        "backoff_s": 0.5,
        "gdc_api": closed_port_url,
        "fill_missing_from_gdc": True,
        "token_file": str(token),
    }
    planned = {
        key: _planned_downloads(downloaded, _cohort_config(downloaded, fake_gdc, **{key: value}))
        for key, value in changes.items()
    }
    assert planned == dict.fromkeys(changes, 0)


def test_a_changed_manifest_row_reruns_only_that_slides_download(fake_gdc, downloaded):
    manifest = downloaded / "manifest.tsv"
    manifest.write_text(manifest.read_text().replace(f"{len(CONTENTS[1])}\treleased", "999\treleased"))
    assert _planned_downloads(downloaded, downloaded / "fetch.yaml") == 1


def test_an_offline_rerun_keeps_every_slide(fake_gdc, downloaded, closed_port_url):
    offline = _cohort_config(downloaded, fake_gdc, gdc_api=closed_port_url, retries=0)
    before = len(fake_gdc.requests)
    log = _snakemake(downloaded, offline, "--forcerun", "download")
    assert "Finished jobid" in log or "steps (100%) done" in log
    assert [path.read_bytes() for path in map(Path, _targets(downloaded))] == list(CONTENTS)
    assert len(fake_gdc.requests) == before
    job_log = (downloaded / "results" / "fetch" / "logs" / "download" / f"{SLIDE}.log").read_text()
    assert "linked" in job_log


def _plant_corrupt_copy(final: Path, workdir: Path) -> None:
    final.parent.mkdir(parents=True, exist_ok=True)
    final.write_bytes(CONTENT[:-1] + b"?")


def _plant_link_outside(final: Path, workdir: Path) -> None:
    outside = workdir / "elsewhere" / final.name
    outside.parent.mkdir()
    outside.write_bytes(CONTENT)
    final.parent.mkdir(parents=True, exist_ok=True)
    final.symlink_to(outside)


@pytest.mark.parametrize(
    ("plant", "problem"),
    [
        (_plant_corrupt_copy, "its md5 was never checked"),
        (_plant_link_outside, "outside the data folder"),
    ],
    ids=["corrupt copy", "link outside"],
)
def test_a_file_placed_at_a_slides_name_stops_the_dry_run(fake_gdc, tmp_path, plant, problem):
    config = _cohort_config(tmp_path, fake_gdc)
    final = tmp_path / "slides" / f"{SLIDE}.svs"
    plant(final, tmp_path)
    kept = final.read_bytes()
    dry_run = ["--dry-run", "--cores", "1"]
    done = run_snakemake(tmp_path, SNAKEFILE, [config], _targets(tmp_path), dry_run, 300)
    assert done.returncode != 0
    assert f"{final}: " in done.stdout and problem in done.stdout, done.stdout[-3000:]
    assert f"slides/{FILE_ID}/{SLIDE}.svs" in done.stdout
    assert final.read_bytes() == kept and fake_gdc.requests == []


def test_a_slide_placed_by_hand_is_checked_where_the_fix_puts_it(fake_gdc, tmp_path, closed_port_url):
    """Following the refusal's fix (move the file to the GDC client layout), an offline run uses it."""
    final = tmp_path / "slides" / f"{SLIDE}.svs"
    kept = tmp_path / "slides" / FILE_ID / f"{SLIDE}.svs"
    kept.parent.mkdir(parents=True)
    kept.write_bytes(CONTENT)
    config = _cohort_config(tmp_path, fake_gdc, gdc_api=closed_port_url, retries=0)
    done = run_snakemake(tmp_path, SNAKEFILE, [config], [str(final)], ["--cores", "1"], 300)
    assert done.returncode == 0, done.stdout[-3000:]
    assert final.read_bytes() == CONTENT and final.samefile(kept)
