"""``crossfusion-convert-checkpoint``: an original CrossFusion ``best_model.pt`` -> our ``model.pt``.

Sizes the original's state dict reveals (embedding, backbone, bins, layers) are read from it; only
the number of heads, invisible in the weights, must be given when it is not the default 4.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.models.checkpoint import save_checkpoint
from crossfusion_core.models.crossfusion import CrossFusion


def original_sizes(state_dict: Mapping[str, torch.Tensor], source: Path) -> dict[str, int]:
    """embed_dim, num_layers, backbone_dim and n_classes as the original's weights show them."""
    if "cls_token" not in state_dict or "mlp_head.0.weight" not in state_dict:
        raise PipelineInputError(
            source,
            "no cls_token / mlp_head.0.weight: not a CrossFusion state dict",
            "pass the original's best_model.pt",
        )
    embed_dim = state_dict["cls_token"].shape[-1]
    layer_indices = {
        int(match.group(1))
        for key in state_dict
        if (match := re.match(r"final_transformer\.pre_layers\.layers\.(\d+)\.", key))
    }
    projection = state_dict.get("s_lin_proj.0.weight")
    return {
        "embed_dim": embed_dim,
        "num_layers": len(layer_indices),
        "backbone_dim": embed_dim if projection is None else projection.shape[1],
        "n_classes": state_dict["mlp_head.0.weight"].shape[0],
    }


def read_original_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The state dict in ``path``: saved bare by the original, or under a ``state_dict``-like key."""
    loaded = torch.load(path, map_location="cpu", weights_only=True)
    for wrapper in ("state_dict", "model_state_dict", "model"):
        if isinstance(loaded, Mapping) and isinstance(loaded.get(wrapper), Mapping):
            loaded = loaded[wrapper]
    return {key.removeprefix("module."): value for key, value in loaded.items()}


def convert_checkpoint(
    original_path: str | Path,
    output_path: str | Path,
    num_heads: int = 4,
    bin_edges: Sequence[float] | None = None,
) -> dict[str, int]:
    """Convert and write; returns the sizes read from the original checkpoint."""
    original_path = Path(original_path)
    state_dict = read_original_state_dict(original_path)
    sizes = original_sizes(state_dict, original_path)
    model = CrossFusion.from_original_state_dict(state_dict, num_heads=num_heads, **sizes)
    options = {"embed_dim": sizes["embed_dim"], "num_heads": num_heads, "num_layers": sizes["num_layers"]}
    save_checkpoint(
        output_path, model, "crossfusion", options, sizes["backbone_dim"], sizes["n_classes"], bin_edges
    )
    return sizes


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("original", type=Path, help="best_model.pt saved by the original CrossFusion code")
    parser.add_argument("output", type=Path, help="where to write the crossfusion-workflow model.pt")
    parser.add_argument("--num-heads", type=int, default=4, help="attention heads the model was trained with")
    parser.add_argument(
        "--bin-edges", type=float, nargs="+", default=None, help="time-bin edges in months, if known"
    )
    args = parser.parse_args(argv)
    sizes = convert_checkpoint(args.original, args.output, args.num_heads, args.bin_edges)
    print(f"wrote {args.output} (crossfusion, {sizes})")


if __name__ == "__main__":
    main()
