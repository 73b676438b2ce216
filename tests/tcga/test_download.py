"""Downloads from the loopback GDC: faults recovered, resumption without restarting, corruption refused,
and the kept copy that lets a rerun find its slide again without the network."""

from __future__ import annotations

import logging
import os
import re

import pytest
from fake_gdc_server import Fault

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.tcga.download import download_slide
from crossfusion_core.tcga.gdc import GdcAccessError

FILE_ID = "3b7d387a-7854-449f-832b-0054985518d4"
FILENAME = "TCGA-14-3476-01Z-00-DX1.5bad3783-e461-4c14-aabf-56eddcbeaa07.svs"
CONTENT = os.urandom(3 * 1024 * 1024 + 123)
FAST = {"retries": 3, "backoff_s": 0.01, "timeout_s": 5.0}


@pytest.fixture
def served(fake_gdc):
    md5, size = fake_gdc.add_file(FILE_ID, FILENAME, CONTENT)
    return fake_gdc, md5, size


def fetch(gdc, md5, size, dest_dir, **kwargs):
    return download_slide(FILE_ID, FILENAME, md5, size, dest_dir, gdc.url, **{**FAST, **kwargs})


def leftovers(dest_dir):
    return sorted(path.name for path in dest_dir.iterdir())


def test_clean_download_is_verified_kept_and_linked_into_place(served, tmp_path):
    gdc, md5, size = served
    result = fetch(gdc, md5, size, tmp_path)
    assert result.action == "downloaded" and result.bytes_fetched == size
    assert (tmp_path / FILENAME).read_bytes() == CONTENT
    assert leftovers(tmp_path) == sorted([FILENAME, FILE_ID])
    assert leftovers(tmp_path / FILE_ID) == [FILENAME, FILENAME + ".verified.json"]
    assert (tmp_path / FILENAME).samefile(tmp_path / FILE_ID / FILENAME)


def test_server_errors_are_retried(served, tmp_path):
    gdc, md5, size = served
    gdc.faults[FILE_ID] = [Fault("status", 503), Fault("status", 502)]
    fetch(gdc, md5, size, tmp_path)
    assert (tmp_path / FILENAME).read_bytes() == CONTENT
    assert len(gdc.requests_to("/data/")) == 3


def test_cut_connection_resumes_from_the_cut(served, tmp_path):
    gdc, md5, size = served
    cut = 1_500_000
    gdc.faults[FILE_ID] = [Fault("cut", cut)]
    result = fetch(gdc, md5, size, tmp_path)
    assert (tmp_path / FILENAME).read_bytes() == CONTENT
    ranges = [headers.get("Range") for _, _, headers in gdc.requests_to("/data/")]
    assert ranges == [None, f"bytes={cut}-"]
    assert gdc.bytes_sent == size and result.bytes_fetched == size


def test_interrupted_job_resumes_its_partial_file(served, tmp_path):
    gdc, md5, size = served
    (tmp_path / f".{FILENAME}.download").write_bytes(CONTENT[:1000])
    fetch(gdc, md5, size, tmp_path)
    assert [headers.get("Range") for _, _, headers in gdc.requests_to("/data/")] == ["bytes=1000-"]
    assert (tmp_path / FILENAME).read_bytes() == CONTENT


def test_one_corrupted_transfer_is_discarded_and_fetched_again(served, tmp_path):
    gdc, md5, size = served
    gdc.faults[FILE_ID] = [Fault("corrupt", 4242)]
    fetch(gdc, md5, size, tmp_path)
    assert (tmp_path / FILENAME).read_bytes() == CONTENT
    assert len(gdc.requests_to("/data/")) == 2


def test_persistently_corrupted_file_is_never_put_in_place(served, tmp_path):
    gdc, md5, size = served
    gdc.faults[FILE_ID] = [Fault("corrupt", 10), Fault("corrupt", 10), Fault("corrupt", 10)]
    with pytest.raises(GdcAccessError, match="md5 mismatch"):
        fetch(gdc, md5, size, tmp_path)
    assert leftovers(tmp_path) == []


def test_endless_server_errors_give_up_with_a_clear_error(served, tmp_path):
    gdc, md5, size = served
    gdc.faults[FILE_ID] = [Fault("status", 503)] * 10
    with pytest.raises(GdcAccessError, match=r"failed 4 times in a row \(last: HTTP 503\)"):
        fetch(gdc, md5, size, tmp_path)
    assert not (tmp_path / FILENAME).exists()


def test_unknown_file_fails_at_once(served, tmp_path):
    gdc, md5, size = served
    with pytest.raises(GdcAccessError, match="HTTP 404"):
        download_slide("00000000-0000-0000-0000-000000000000", "x.svs", md5, size, tmp_path, gdc.url, **FAST)
    assert len(gdc.requests) == 1


def test_downloaded_slide_is_not_fetched_again(served, tmp_path):
    gdc, md5, size = served
    fetch(gdc, md5, size, tmp_path)
    before = len(gdc.requests)
    assert fetch(gdc, md5, size, tmp_path).action == "present"
    assert len(gdc.requests) == before


def test_a_rerun_finds_its_slide_again_offline(served, tmp_path, closed_port_url):
    """What Snakemake does to a job it reruns (delete the output) costs neither the slide nor a fetch."""
    gdc, md5, size = served
    fetch(gdc, md5, size, tmp_path)
    (tmp_path / FILENAME).unlink()
    result = download_slide(FILE_ID, FILENAME, md5, size, tmp_path, closed_port_url, **{**FAST, "retries": 0})
    assert result.action == "linked" and (tmp_path / FILENAME).read_bytes() == CONTENT


@pytest.mark.parametrize("content", [CONTENT, CONTENT[:-1] + b"?"], ids=["whole", "corrupt"])
def test_a_file_put_at_the_final_name_by_hand_is_refused_untouched(served, tmp_path, content):
    gdc, md5, size = served
    (tmp_path / FILENAME).write_bytes(content)
    with pytest.raises(PipelineInputError, match="its md5 was never checked") as refused:
        fetch(gdc, md5, size, tmp_path)
    assert f"move it to {tmp_path / FILE_ID / FILENAME}" in refused.value.fix
    assert (tmp_path / FILENAME).read_bytes() == content and gdc.requests == []


@pytest.mark.parametrize("name", [FILENAME, f"{FILE_ID}/{FILENAME}"], ids=["final name", "kept copy"])
def test_a_link_to_a_file_outside_the_data_folder_is_refused_not_followed(served, tmp_path, name):
    gdc, md5, size = served
    data_dir, outside = tmp_path / "data", tmp_path / "elsewhere.svs"
    outside.write_bytes(CONTENT)
    (data_dir / name).parent.mkdir(parents=True)
    (data_dir / name).symlink_to(outside)
    with pytest.raises(PipelineInputError, match="outside the data folder"):
        fetch(gdc, md5, size, data_dir)
    assert outside.read_bytes() == CONTENT and gdc.requests == []


def test_a_kept_copy_that_differs_from_the_manifest_is_fetched_again(served, tmp_path):
    gdc, md5, size = served
    kept = tmp_path / FILE_ID / FILENAME
    kept.parent.mkdir()
    kept.write_bytes(CONTENT[:-1] + b"?")
    assert fetch(gdc, md5, size, tmp_path).action == "downloaded"
    assert (tmp_path / FILENAME).read_bytes() == CONTENT and kept.read_bytes() == CONTENT


def test_a_new_manifest_md5_is_not_taken_on_the_old_record(served, tmp_path):
    gdc, md5, size = served
    fetch(gdc, md5, size, tmp_path)
    new_content = CONTENT[::-1]
    new_md5, _ = gdc.add_file(FILE_ID, FILENAME, new_content)
    assert fetch(gdc, new_md5, size, tmp_path).action == "downloaded"
    assert (tmp_path / FILENAME).read_bytes() == new_content


def test_gdc_client_download_is_linked_without_fetching(served, tmp_path):
    gdc, md5, size = served
    client_copy = tmp_path / FILE_ID / FILENAME
    client_copy.parent.mkdir()
    client_copy.write_bytes(CONTENT)
    result = fetch(gdc, md5, size, tmp_path)
    assert result.action == "linked"
    assert os.path.samefile(tmp_path / FILENAME, client_copy)
    assert gdc.requests == []


def test_missing_md5_is_looked_up_at_the_files_endpoint(served, tmp_path):
    gdc, _, _ = served
    fetch(gdc, None, None, tmp_path)
    assert (tmp_path / FILENAME).read_bytes() == CONTENT
    assert len(gdc.requests_to(f"/files/{FILE_ID}")) == 1


def test_token_is_sent_but_never_logged(served, tmp_path, caplog):
    gdc, md5, size = served
    secret = "s3cr3t-token-value"
    token_file = tmp_path / "token.txt"
    token_file.write_text(secret + "\n")
    gdc.faults[FILE_ID] = [Fault("status", 503)]
    with caplog.at_level(logging.DEBUG):
        fetch(gdc, md5, size, tmp_path / "slides", token_file=token_file)
    assert {headers.get("X-Auth-Token") for _, _, headers in gdc.requests} == {secret}
    assert caplog.records and secret not in caplog.text


@pytest.mark.parametrize("filename", ["../../x.svs", "/etc/passwd", "sub/x.svs"])
def test_hostile_file_name_is_refused_before_any_write(served, tmp_path, filename):
    gdc, md5, size = served
    data_dir = tmp_path / "data"
    with pytest.raises(PipelineInputError, match="not a plain file name"):
        download_slide(FILE_ID, filename, md5, size, data_dir, gdc.url, **FAST)
    assert leftovers(tmp_path) == [] and gdc.requests == []


def data_gets(gdc):
    return len(gdc.requests_to("/data/"))


def attempt_lines(caplog):
    return [record.getMessage() for record in caplog.records if "attempt" in record.getMessage()]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("faults", [[], [Fault("bare")] * 4], ids=["announced", "unannounced"])
def test_manifest_size_below_the_file_fails_after_two_logged_attempts(served, tmp_path, caplog, faults):
    gdc, md5, size = served
    gdc.faults[FILE_ID] = list(faults)
    caplog.set_level(logging.INFO)
    with pytest.raises(GdcAccessError, match=f"manifest says {size - 1} bytes"):
        fetch(gdc, md5, size - 1, tmp_path)
    assert data_gets(gdc) == 2
    assert len(attempt_lines(caplog)) == 2
    assert leftovers(tmp_path) == []


@pytest.mark.timeout(60)
def test_manifest_size_above_the_file_fails_after_two_logged_attempts(served, tmp_path, caplog):
    gdc, md5, size = served
    caplog.set_level(logging.INFO)
    with pytest.raises(GdcAccessError, match=f"manifest says {size + 1} bytes"):
        fetch(gdc, md5, size + 1, tmp_path)
    assert data_gets(gdc) == 2
    assert len(attempt_lines(caplog)) == 2
    assert leftovers(tmp_path) == []


@pytest.mark.timeout(60)
@pytest.mark.parametrize("strict_ranges", [False, True], ids=["empty-206", "416"])
def test_partial_file_already_whole_but_short_of_the_manifest_size_fails(served, tmp_path, strict_ranges):
    gdc, md5, size = served
    gdc.strict_ranges = strict_ranges
    (tmp_path / f".{FILENAME}.download").write_bytes(CONTENT)
    with pytest.raises(GdcAccessError, match=f"manifest says {size + 10} bytes"):
        fetch(gdc, md5, size + 10, tmp_path)
    assert data_gets(gdc) == 2
    assert leftovers(tmp_path) == []


def test_unannounced_reply_is_never_written_past_the_manifest_size(served, tmp_path):
    gdc, md5, size = served
    gdc.faults[FILE_ID] = [Fault("bare")]
    result = fetch(gdc, md5, size, tmp_path)
    assert (tmp_path / FILENAME).read_bytes() == CONTENT and result.bytes_fetched == size


def _plant_symlink(partial, outside):
    partial.symlink_to(outside)


def _plant_dangling_symlink(partial, outside):
    outside.unlink()
    partial.symlink_to(outside)


def _plant_hard_link(partial, outside):
    os.link(outside, partial)


@pytest.mark.parametrize(
    ("plant", "what"),
    [
        (_plant_symlink, "a symbolic link"),
        (_plant_dangling_symlink, "a symbolic link"),
        (_plant_hard_link, "a hard link"),
    ],
    ids=["symlink", "dangling-symlink", "hard-link"],
)
def test_partial_file_planted_as_a_link_is_refused(served, tmp_path, plant, what):
    gdc, md5, size = served
    data_dir, outside = tmp_path / "data", tmp_path / "outside.bin"
    data_dir.mkdir()
    outside.write_bytes(b"not yours")
    partial = data_dir / f".{FILENAME}.download"
    plant(partial, outside)
    with pytest.raises(PipelineInputError, match=f"{re.escape(str(partial))}: .*{what}"):
        fetch(gdc, md5, size, data_dir)
    assert not outside.exists() or outside.read_bytes() == b"not yours"
    assert gdc.requests == [] and not (data_dir / FILENAME).exists()


def test_errors_print_the_whole_url(served, tmp_path):
    gdc, md5, size = served
    gdc.faults[FILE_ID] = [Fault("status", 503)] * 10
    with pytest.raises(GdcAccessError) as raised:
        fetch(gdc, md5, size, tmp_path, retries=0)
    assert str(raised.value).startswith(f"{gdc.url}/data/{FILE_ID}: ")
