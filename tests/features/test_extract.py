"""Feature extraction on real SVS files: exact pixels, both read strategies, bad input, kill and resume."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import h5py
import numpy as np
import pytest
import tifffile
import torch
from PIL import Image
from torch.utils._python_dispatch import TorchDispatchMode

from crossfusion_core.devices import CudaState
from crossfusion_core.errors import PipelineInputError, SlideReadError
from crossfusion_core.features.backbones import BACKBONES, load_backbone
from crossfusion_core.features.extract import (
    SlideToFeaturise,
    extract_batch_features,
    extract_slide_features,
    extraction_compute,
)
from crossfusion_core.features.feature_files import read_feature_file
from crossfusion_core.features.settings import FeatureSettings
from crossfusion_core.features.transforms import to_model_input
from crossfusion_core.wsi.slide import open_slide
from features.patch_files import write_empty_patches, write_patch_grid

FEATURE_TOLERANCE = 1e-4
"""Same pixels, same model: only batch composition differs, which moves fp32 results by ~1e-6."""

ONE_FAMILY_PER_4 = slice(0, None, 4)


def _settings(**overrides: object) -> FeatureSettings:
    """fp32 unless asked: the exactness tests compare with the model run by hand in fp32."""
    return FeatureSettings.from_mapping({"batch_size": 8, "num_workers": 1, "precision": "fp32", **overrides})


def _by_hand(slide_path: Path, corner: tuple[int, int], level: int, size_px: int) -> torch.Tensor:
    """The backbone applied to one region read with OpenSlide and box-averaged to 256 px, step by step.

    Pillow's ``reduce`` is the box average for an integer factor; ``resize(BOX)`` rounds differently
    (+-1 grey level on ~10% of pixels), which moves efficientnet features by up to ~0.15.
    """
    slide = open_slide(slide_path)
    rgba = slide.read_region(corner, level, (size_px, size_px))
    slide.close()
    rgb = Image.fromarray(np.asarray(rgba)[..., :3]).reduce(size_px // 256)
    spec, model = load_backbone("efficientnet_lite0")
    with torch.inference_mode():
        return model(to_model_input(torch.from_numpy(np.array(rgb))[None], spec.transform))[0]


@pytest.mark.parametrize(
    ("strategy", "magnification", "level", "size_at_level_px"),
    [("shared", 20, 0, 512), ("per_patch", 5, 1, 512)],
)
def test_features_equal_the_model_applied_by_hand(
    svs_40x: Path,
    tmp_path: Path,
    out_paths: dict[int, Path],
    strategy: str,
    magnification: int,
    level: int,
    size_at_level_px: int,
) -> None:
    patches = write_patch_grid(tmp_path / "patches.h5", svs_40x, keep_20x=ONE_FAMILY_PER_4)
    extract_slide_features(
        svs_40x, patches, "efficientnet_lite0", _settings(read_strategy=strategy), None, out_paths, 2
    )
    written = read_feature_file(out_paths[magnification])
    row = len(written.coords_level0) - 1
    corner = tuple(int(v) for v in written.coords_level0[row])
    expected = _by_hand(svs_40x, corner, level, size_at_level_px)
    torch.testing.assert_close(
        torch.from_numpy(written.features[row]), expected, rtol=0, atol=FEATURE_TOLERANCE
    )


def test_output_files_follow_the_contract(svs_20x: Path, tmp_path: Path, out_paths: dict[int, Path]) -> None:
    patches = write_patch_grid(tmp_path / "patches.h5", svs_20x, keep_20x=ONE_FAMILY_PER_4)
    extract_slide_features(
        svs_20x, patches, "efficientnet_lite0", _settings(num_workers=2), None, out_paths, 1
    )
    with h5py.File(patches) as source:
        for magnification, path in out_paths.items():
            written = read_feature_file(path)
            group = source[f"x{magnification}"]
            assert written.features.dtype == np.float32 and written.features.shape == (
                len(group["coords"]),
                1280,
            )
            np.testing.assert_array_equal(written.coords_level0, group["coords"][()])
            assert np.isfinite(written.features).all() and np.abs(written.features).sum() > 0
            assert written.attrs["encoder"] == "efficientnet_lite0"
            assert written.attrs["target_magnification"] == magnification
            assert written.attrs["level0_magnification"] == 20
            assert written.attrs["patch_size"] == 256
            assert written.attrs["precision"] == "fp32"
            if magnification != 5:
                np.testing.assert_array_equal(written.parent_index, group["parent_index"][()])


def test_slide_without_patches_gives_valid_empty_files(
    svs_20x: Path, tmp_path: Path, out_paths: dict[int, Path]
) -> None:
    patches = write_empty_patches(tmp_path / "patches.h5", svs_20x)
    extract_slide_features(svs_20x, patches, "efficientnet_lite0", _settings(), None, out_paths, 1)
    for path in out_paths.values():
        with pytest.warns(UserWarning, match="no patches"):
            written = read_feature_file(path)
        assert written.features.shape == (0, 1280) and written.coords_level0.shape == (0, 2)


def test_nan_features_stop_the_slide_with_a_clear_error(
    svs_20x: Path, tmp_path: Path, out_paths: dict[int, Path]
) -> None:
    _spec, model = load_backbone("efficientnet_lite0")
    poisoned = {
        k: torch.full_like(v, float("nan")) if v.is_floating_point() else v
        for k, v in model.net.state_dict().items()
    }
    weights = tmp_path / "nan.pth"
    torch.save(poisoned, weights)
    patches = write_patch_grid(tmp_path / "patches.h5", svs_20x, keep_20x=ONE_FAMILY_PER_4)
    settings = _settings(weights={"efficientnet_lite0": str(weights)}, num_workers=0)
    with pytest.raises(PipelineInputError, match="NaN/inf features") as info:
        extract_slide_features(svs_20x, patches, "efficientnet_lite0", settings, None, out_paths, 1)
    assert str(svs_20x) in str(info.value)
    assert not any(path.exists() for path in out_paths.values())


def test_undecodable_tile_is_reported_with_slide_and_location(
    svs_40x: Path, tmp_path: Path, out_paths: dict[int, Path]
) -> None:
    broken = tmp_path / "BROKEN.svs"
    shutil.copy(svs_40x, broken)
    with tifffile.TiffFile(broken) as tiff:
        first_tile_offset = tiff.pages[0].dataoffsets[0]
    with open(broken, "r+b") as handle:
        handle.seek(first_tile_offset)
        handle.write(b"\0" * 64)
    patches = write_patch_grid(tmp_path / "patches.h5", broken, keep_20x=ONE_FAMILY_PER_4)
    with pytest.raises(SlideReadError) as info:
        extract_slide_features(broken, patches, "efficientnet_lite0", _settings(), None, out_paths, 1)
    message = str(info.value)
    assert str(broken) in message and "x=0, y=0" in message and "3 attempts" in message


def test_auto_precision_is_the_backbones_own_on_gpus_and_fp32_on_cpus():
    gpu = CudaState(1, "2.5.1", "12.4", True, "NVIDIA H100", (9, 0), ("sm_90",))
    no_gpu = CudaState(gpus_present=0, torch_version="2.5.1", built_for_cuda="12.4", available=False)

    def precision(backbone: str, state: CudaState, setting: str = "auto") -> str:
        settings = _settings(precision=setting, device="auto")
        return extraction_compute(backbone, settings, settings.resources, state).precision

    assert precision("uni", no_gpu) == "fp32"
    assert precision("uni", gpu) == BACKBONES["uni"].precision == "fp16"
    assert precision("uni2_h", gpu) == BACKBONES["uni2_h"].precision == "bf16"
    assert precision("conch_v1", gpu) == "fp32"
    assert precision("uni", gpu, "fp32") == "fp32"
    assert precision("uni", no_gpu, "bf16") == "bf16"


def test_bf16_features_are_recorded_as_such_and_close_to_fp32(svs_20x: Path, tmp_path: Path) -> None:
    """bf16 moves efficientnet_lite0's features (measured cosine to fp32: 0.999 at 5x, 0.996 at 10x,
    0.977 at 20x on average): close, not equal, which is why `auto` keeps fp32 on the CPU."""
    patches = write_patch_grid(tmp_path / "patches.h5", svs_20x, keep_20x=ONE_FAMILY_PER_4)
    written = {}
    for precision in ("fp32", "bf16"):
        outs = {m: tmp_path / precision / f"x{m}.h5" for m in (5, 10, 20)}
        extract_slide_features(
            svs_20x,
            patches,
            "efficientnet_lite0",
            _settings(precision=precision, num_workers=0),
            None,
            outs,
            1,
        )
        written[precision] = [read_feature_file(path) for path in outs.values()]
    for fp32, bf16 in zip(written["fp32"], written["bf16"], strict=True):
        assert (fp32.attrs["precision"], bf16.attrs["precision"]) == ("fp32", "bf16")
        cosine = (fp32.features * bf16.features).sum(1) / (
            np.linalg.norm(fp32.features, axis=1) * np.linalg.norm(bf16.features, axis=1)
        )
        assert cosine.mean() > 0.95 and cosine.min() > 0.9
        assert not np.array_equal(fp32.features, bf16.features)


def test_a_batch_writes_each_slides_files_and_a_bad_slide_fails_alone(
    svs_20x: Path, svs_40x: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "TRUNCATED.svs"
    broken.write_bytes(svs_20x.read_bytes()[:5000])
    grid_20x = write_patch_grid(tmp_path / "p20.h5", svs_20x, keep_20x=ONE_FAMILY_PER_4)
    grid_40x = write_patch_grid(tmp_path / "p40.h5", svs_40x, keep_20x=ONE_FAMILY_PER_4)
    slides = {
        "GOOD-20X": SlideToFeaturise(svs_20x, grid_20x, None),
        "BROKEN": SlideToFeaturise(broken, grid_20x, None),
        "GOOD-40X": SlideToFeaturise(svs_40x, grid_40x, None),
    }
    files = {"x5": "x5.h5", "x10": "x10.h5", "x20": "x20.h5"}
    failed = extract_batch_features(slides, "efficientnet_lite0", _settings(), tmp_path / "batch", files, 1)
    assert failed == ["BROKEN"]
    assert "TRUNCATED.svs" in (tmp_path / "batch" / "BROKEN" / "error.txt").read_text()
    assert not list((tmp_path / "batch" / "BROKEN").glob("*.h5"))
    for slide, grid in (("GOOD-20X", grid_20x), ("GOOD-40X", grid_40x)):
        with h5py.File(grid) as source:
            for m in (5, 10, 20):
                written = read_feature_file(tmp_path / "batch" / slide / f"x{m}.h5")
                np.testing.assert_array_equal(written.coords_level0, source[f"x{m}/coords"][()])
                assert np.isfinite(written.features).all()


class HostSyncs(TorchDispatchMode):
    """Counts the tensor operations that make the host wait for the device when it is a GPU: reading
    a value back (``item``, ``bool``, ``nonzero``'s data-dependent size) and making a tensor from Python
    numbers (a synchronous host-to-device copy). On the CPU they are cheap, but they run all the same."""

    SYNCING = frozenset({"nonzero", "_local_scalar_dense", "lift_fresh", "is_nonzero", "equal"})

    def __init__(self) -> None:
        super().__init__()
        self.counts: Counter[str] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func.overloadpacket.__name__ in self.SYNCING:
            self.counts[func.overloadpacket.__name__] += 1
        return func(*args, **(kwargs or {}))


def test_the_extraction_loop_syncs_with_the_host_per_slide_not_per_batch(
    svs_20x: Path, tmp_path: Path, out_paths: dict[int, Path]
) -> None:
    """Run as on a GPU (the torch path, not ONNX Runtime): as many host syncs with 2-patch batches as
    with one batch for the slide."""
    patches = write_patch_grid(tmp_path / "patches.h5", svs_20x, keep_20x=ONE_FAMILY_PER_4)
    counts = {}
    for batch_size in (2, 64):
        settings = _settings(batch_size=batch_size, num_workers=0, cpu_runtime="torch")
        with HostSyncs() as syncs:
            extract_slide_features(svs_20x, patches, "efficientnet_lite0", settings, None, out_paths, 1)
        counts[batch_size] = syncs.counts
    assert sum(len(read_feature_file(path).features) for path in out_paths.values()) > 2 * 2
    assert counts[2] == counts[64]


KILLABLE_RUN = """
import sys
from pathlib import Path
from crossfusion_core.features.extract import extract_slide_features
from crossfusion_core.features.settings import FeatureSettings
slide, patches, out = sys.argv[1:4]
outs = {m: Path(out) / f"x{m}" / "SLIDE.h5" for m in (5, 10, 20)}
extract_slide_features(slide, patches, "efficientnet_lite0",
                       FeatureSettings.from_mapping({"batch_size": 1, "num_workers": 0}), None, outs, 1)
"""


def test_killed_extraction_leaves_no_result_and_a_rerun_finishes(
    svs_40x: Path, tmp_path: Path, out_paths: dict[int, Path]
) -> None:
    patches = write_patch_grid(tmp_path / "patches.h5", svs_40x, keep_20x=ONE_FAMILY_PER_4)
    out_dir = out_paths[5].parent.parent
    log = tmp_path / "progress.log"
    with open(log, "w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-c", KILLABLE_RUN, str(svs_40x), str(patches), str(out_dir)], stderr=stderr
        )
        deadline = time.monotonic() + 120
        while "/18" not in log.read_text() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert process.poll() is None, log.read_text()
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert not any(path.exists() for path in out_paths.values())
    extract_slide_features(svs_40x, patches, "efficientnet_lite0", _settings(), None, out_paths, 2)
    assert [len(read_feature_file(p).features) for p in out_paths.values()] == [2, 8, 8]
