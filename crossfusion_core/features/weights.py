"""Finding a backbone's checkpoint and loading it strictly into our own architecture.

Every failure here ends in one message that says which backbone, which file was expected where, and
how to get it; a checkpoint that does not fit the architecture is rejected rather than half-loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from crossfusion_core.errors import MissingWeightsError, PipelineInputError

if TYPE_CHECKING:
    from crossfusion_core.features.backbones import BackboneSpec

CHECKPOINT_WRAPPER_KEYS = ("state_dict", "model", "module")
DATA_PARALLEL_PREFIX = "module."
"""What ``torch.nn.DataParallel`` puts before every key of the checkpoints it saves."""


def locate_checkpoint(spec: BackboneSpec, configured: Path | None) -> Path:
    """The local file holding ``spec``'s weights: configured path, shipped package file, or hub cache."""
    if configured is not None:
        configured = Path(configured)
        if not configured.is_file():
            raise _missing(spec, f"the configured weights file {configured} does not exist", configured)
        return configured
    if spec.shipped_weights is not None:
        try:
            shipped = spec.shipped_weights()
        except ImportError as exc:
            raise _missing(spec, f"its weights package is not installed ({exc})", None) from exc
        if not shipped.is_file():
            raise _missing(spec, f"its shipped weights file {shipped} is missing", None)
        return shipped
    return _download_from_hub(spec)


def _download_from_hub(spec: BackboneSpec) -> Path:
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(repo_id=spec.hub_repo, filename=spec.hub_filename))
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise _missing(
            spec,
            f"no local weights are configured and downloading {spec.hub_filename} from the Hugging Face "
            f"hub repo {spec.hub_repo} failed ({type(exc).__name__}: {reason[:200]})",
            None,
        ) from None


def _missing(spec: BackboneSpec, problem: str, configured: Path | None) -> MissingWeightsError:
    target = configured or Path(f"weights/{spec.name}/{spec.hub_filename}")
    return MissingWeightsError(
        f"backbone {spec.name}: {problem}. Fix: download {spec.weights_hint}, put it at {target} and set "
        f"`features.weights: {{{spec.name}: {target}}}` in the config (or log in to the hub with access "
        f"and network)."
    )


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint file (.safetensors or torch pickle), unwrapped from common containers."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise PipelineInputError(path, f"cannot read the checkpoint ({exc})", "download it again") from exc
    for key in CHECKPOINT_WRAPPER_KEYS:
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise PipelineInputError(path, "the checkpoint holds no state dict", "point to the weights file")
    if state and all(key.startswith(DATA_PARALLEL_PREFIX) for key in state):
        state = {key.removeprefix(DATA_PARALLEL_PREFIX): value for key, value in state.items()}
    return state


def load_into(net: nn.Module, path: Path, spec: BackboneSpec) -> None:
    """Load ``path`` into ``net``: every parameter must be filled; only known-unused keys may be left.

    Only the keys under ``spec.checkpoint_prefix`` are ``net``'s (the prefix removed).
    """
    prefix = spec.checkpoint_prefix
    state = {
        key.removeprefix(prefix): value
        for key, value in read_state_dict(path).items()
        if key.startswith(prefix) and not key.removeprefix(prefix).startswith(spec.unused_checkpoint_prefixes)
    }
    result = net.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise PipelineInputError(
            path,
            f"checkpoint does not fit backbone {spec.name}: {len(result.missing_keys)} missing keys "
            f"(e.g. {result.missing_keys[:3]}), {len(result.unexpected_keys)} unexpected keys "
            f"(e.g. {result.unexpected_keys[:3]})",
            f"use the checkpoint named in the {spec.name} registry entry: {spec.weights_hint}",
        )
