"""A backbone run on the CPU by ONNX Runtime: the same network and weights, several times the patches/s.

Why: PyTorch's CPU kernels for depthwise convolutions are slow, and the CNN backbones (EfficientNet,
ConvNeXt) are mostly depthwise convolutions. On the project's 2-core VM efficientnet_lite0 in fp32 runs
~23 patches/s in PyTorch (channels-last) and ~200 patches/s under ONNX Runtime, with features at cosine
similarity 0.9999999 to PyTorch's (benchmarks/README.md, "CPU inference runtime"). On a GPU PyTorch stays.

The backbone, with its weights loaded, is exported once to ONNX (the TorchScript exporter, dynamic batch
axis) and cached under ``cache_dir`` by a digest of its weights and the export settings, so every batch
job after the first loads the graph in well under a second.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from crossfusion_core.io import atomic_path

LOGGER = logging.getLogger(__name__)

OPSET = 17
EXPORT_BATCH = 2
CACHE_ENV = "CROSSFUSION_ONNX_CACHE"
"""Environment variable naming the folder of exported graphs (default: ~/.cache/crossfusion-workflow/onnx)."""


def default_cache_dir() -> Path:
    """Where exported graphs are kept between jobs: ``$CROSSFUSION_ONNX_CACHE`` or the user's cache."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "crossfusion-workflow" / "onnx"


class OnnxRuntimeEncoder:
    """Called like the torch backbone: (N, 3, H, W) float tensor in, (N, D) float tensor out."""

    def __init__(self, graph_path: Path, threads: int) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        self.graph_path = graph_path
        self.session = onnxruntime.InferenceSession(
            str(graph_path), options, providers=["CPUExecutionProvider"]
        )
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        pixels = np.ascontiguousarray(x.detach().float().cpu().numpy())
        return torch.from_numpy(self.session.run(None, {self.input_name: pixels})[0])


def onnx_encoder(
    name: str, model: nn.Module, input_px: int, threads: int, cache_dir: Path | None = None
) -> OnnxRuntimeEncoder:
    """``model`` (a loaded backbone in eval mode) as an ONNX Runtime session, exporting it if needed."""
    cache_dir = Path(cache_dir or default_cache_dir())
    graph_path = cache_dir / f"{name}-{weights_digest(model, input_px)}.onnx"
    if not graph_path.is_file():
        export_graph(model, input_px, graph_path)
    return OnnxRuntimeEncoder(graph_path, threads)


def weights_digest(model: nn.Module, input_px: int) -> str:
    """A digest of every parameter and buffer and of what the export depends on, so a graph is reused
    only for exactly these weights, input size, opset and torch version."""
    digest = hashlib.sha256(f"{input_px}:{OPSET}:{torch.__version__}".encode())
    for key, tensor in model.state_dict().items():
        digest.update(key.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def export_graph(model: nn.Module, input_px: int, graph_path: Path) -> None:
    """Export ``model`` with a dynamic batch axis, written atomically (parallel jobs may race here)."""
    graph_path.parent.mkdir(parents=True, exist_ok=True)
    LOGGER.info("exporting the backbone to ONNX: %s", graph_path)
    example = torch.zeros(EXPORT_BATCH, 3, input_px, input_px)
    with atomic_path(graph_path) as partial, torch.no_grad():
        torch.onnx.export(
            model.float().to(memory_format=torch.contiguous_format),
            example,
            str(partial),
            input_names=["pixels"],
            output_names=["features"],
            dynamic_axes={"pixels": {0: "patches"}, "features": {0: "patches"}},
            opset_version=OPSET,
            dynamo=False,
        )
