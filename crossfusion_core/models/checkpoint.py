"""The trained-model file ``{model}/{backbone}/fold_{k}/model.pt``: its one writer and its readers.

Storing the model name and its checked options next to the weights means evaluation and heatmaps
rebuild exactly the trained architecture without reading the training config again. A model is also
applied to other cohorts, possibly on another machine (``deploy``), so the file says what it must be
fed: the backbone and width of its features and the scales (magnification and microns per pixel) of
its bags, and how it was trained. Training, conversion, evaluation, heatmaps and deployment all go
through this module, so the file has one layout.
"""

from __future__ import annotations

import dataclasses
import json
import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.io import atomic_path
from crossfusion_core.models.ensemble import SeedEnsemble
from crossfusion_core.models.options import ModelOptions
from crossfusion_core.models.registry import build_model, model_options
from crossfusion_core.models.standardized import Standardized
from crossfusion_core.scales import SCALES

REQUIRED_KEYS = ("model_name", "model_options", "backbone_dim", "n_bins", "bin_edges", "state_dict")
"""Keys every ``model.pt`` has; ``best_epoch``, ``protocol``, ``input_standardization`` (the fold's
feature statistics, see ``models.standardized``; None when the model reads raw features), ``backbone``,
``scales``, ``training_settings`` and ``ensemble_size`` (members of a ``models.ensemble``, 1 for a
single model) are optional (files written before they existed lack them)."""


@dataclasses.dataclass(frozen=True)
class CheckpointInfo:
    """Everything in ``model.pt`` except the weights.

    ``bin_edges``: the time-bin edges in months (None when unknown, e.g. a converted checkpoint);
    ``best_epoch`` and ``protocol``: which epoch training kept and under which selection rule (None
    for checkpoints that were not trained here; ``best_epoch`` None for a model fitted in closed form,
    which ran no epochs); ``backbone``: the name of the features' backbone;
    ``scales``: one ``{"group", "magnification", "mpp"}`` per scale of the bags it was trained on;
    ``training_settings``: the fold-level ``training`` settings it was trained under (its options are
    stored above). The last three are None when the file does not record them.
    """

    model_name: str
    model_options: ModelOptions
    backbone_dim: int
    n_bins: int
    bin_edges: tuple[float, ...] | None
    best_epoch: int | None = None
    protocol: str | None = None
    backbone: str | None = None
    scales: tuple[Mapping[str, Any], ...] | None = None
    training_settings: Mapping[str, Any] | None = None


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    model_name: str,
    options: ModelOptions | Mapping[str, Any] | None,
    backbone_dim: int,
    n_bins: int,
    bin_edges: Sequence[float] | None,
    *,
    best_epoch: int | None = None,
    protocol: str | None = None,
    backbone: str | None = None,
    training_settings: Mapping[str, Any] | None = None,
) -> None:
    """Write the checkpoint atomically; ``options`` are checked and stored with every default filled in.

    A :class:`Standardized` model is stored as its inner model's weights plus the statistics, so the
    weights keep the layout of the bare architecture (the one converted checkpoints have). Every model
    here reads bags at the pipeline's three scales, which are recorded with their microns per pixel;
    ``training_settings`` are stored as plain JSON values, which ``weights_only`` loading accepts.
    """
    standardization = None
    if isinstance(model, Standardized):
        standardization = {name: buffer.detach().cpu() for name, buffer in model.named_buffers(recurse=False)}
        model = model.model
    payload = {
        "model_name": model_name,
        "model_options": model_options(model_name, options).model_dump(mode="json"),
        "backbone_dim": int(backbone_dim),
        "n_bins": int(n_bins),
        "bin_edges": None if bin_edges is None else [float(edge) for edge in bin_edges],
        "state_dict": {key: value.detach().cpu() for key, value in model.state_dict().items()},
        "best_epoch": None if best_epoch is None else int(best_epoch),
        "protocol": protocol,
        "input_standardization": standardization,
        "backbone": backbone,
        "scales": [{"group": s.group, "magnification": s.magnification, "mpp": s.mpp} for s in SCALES],
        "training_settings": None if training_settings is None else json.loads(json.dumps(training_settings)),
        "ensemble_size": len(model.members) if isinstance(model, SeedEnsemble) else 1,
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def read_checkpoint_info(path: str | Path) -> CheckpointInfo:
    """The checkpoint's fields without building the model (what evaluation needs: the bin edges)."""
    return _info(_read(path), path)


def load_checkpoint(path: str | Path) -> tuple[nn.Module, CheckpointInfo]:
    """The model (in eval mode, on the CPU) and the checkpoint's other fields; behind its feature
    standardisation when the checkpoint has one."""
    payload = _read(path)
    info = _info(payload, path)
    standardization = payload.get("input_standardization")
    components = None if standardization is None else standardization.get("components")
    width = info.backbone_dim if components is None else components.shape[-1]
    model = _architecture(info, width, int(payload.get("ensemble_size", 1)))
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as error:
        raise PipelineInputError(
            path,
            f"the weights do not fit model {info.model_name!r} with the stored options ({error})",
            "retrain this fold, or convert the checkpoint again",
        ) from None
    if standardization is not None:
        model = Standardized(model, info.backbone_dim, 0 if components is None else components.shape[-1])
        for name, value in standardization.items():
            getattr(model, name).copy_(value)
    return model.eval(), info


def _architecture(info: CheckpointInfo, width: int, ensemble_size: int) -> nn.Module:
    """The stored model's architecture: one model, or ``ensemble_size`` of them (``models.ensemble``)."""
    models = [
        build_model(info.model_name, width, info.n_bins, info.model_options) for _ in range(ensemble_size)
    ]
    return models[0] if ensemble_size == 1 else SeedEnsemble(models)


def _read(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise PipelineInputError(path, "checkpoint does not exist", "run the training of this fold")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, OSError, EOFError, pickle.UnpicklingError) as error:  # truncated or foreign
        raise PipelineInputError(
            path, f"cannot read the checkpoint ({type(error).__name__}: {error})", "retrain this fold"
        ) from None
    absent = [key for key in REQUIRED_KEYS if not isinstance(payload, Mapping) or key not in payload]
    if absent:
        raise PipelineInputError(
            path,
            f"not a crossfusion-workflow checkpoint (no {absent})",
            "convert checkpoints of the original code with crossfusion-convert-checkpoint",
        )
    return dict(payload)


def _info(payload: Mapping[str, Any], path: str | Path) -> CheckpointInfo:
    edges = payload["bin_edges"]
    try:
        options = model_options(payload["model_name"], payload["model_options"])
    except PipelineInputError as error:
        raise PipelineInputError(
            path, f"the stored settings are not valid here: {error.problem}", "retrain this fold"
        ) from None
    return CheckpointInfo(
        model_name=payload["model_name"],
        model_options=options,
        backbone_dim=int(payload["backbone_dim"]),
        n_bins=int(payload["n_bins"]),
        bin_edges=None if edges is None else tuple(float(edge) for edge in edges),
        best_epoch=payload.get("best_epoch"),
        protocol=payload.get("protocol"),
        backbone=payload.get("backbone"),
        scales=None if payload.get("scales") is None else tuple(dict(scale) for scale in payload["scales"]),
        training_settings=payload.get("training_settings"),
    )
