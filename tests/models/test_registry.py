"""Every registered model honours the shared interface: any bag size, gradients, patch scores."""

from __future__ import annotations

import pytest
import torch

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.models.ensemble import SeedEnsemble
from crossfusion_core.models.interface import ClosedFormModel, SurvivalModel
from crossfusion_core.models.options import TransMILOptions
from crossfusion_core.models.outputs import SurvivalOutput
from crossfusion_core.models.registry import (
    MODEL_NAMES,
    build_model,
    model_options,
    model_type,
    options_type,
)
from crossfusion_core.models.standardized import Standardized
from crossfusion_core.settings import SettingsError

SMALL_OPTIONS = {
    "crossfusion": {"embed_dim": 16, "num_heads": 2},
    "crossfusion_concat": {"embed_dim": 16, "num_heads": 2},
    "crossfusion_single": {"embed_dim": 16, "num_heads": 2, "scale": "fine"},
    "transmil": {"embed_dim": 16, "num_heads": 2, "scale": "coarse"},
    "abmil": {"hidden_dim": 16, "attention_dim": 8, "scale": "fine"},
    "dsmil": {"hidden_dim": 16, "query_dim": 8},
    "linear_probe": {"n_components": 4, "scales": ["source", "fine"], "pooling": "mean_max"},
}
BACKBONE_DIM = 24
N_BINS = 4


def small_model(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(name, BACKBONE_DIM, N_BINS, SMALL_OPTIONS[name])


def bags(n5: int, n10: int, n20: int) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(n10)
    return tuple(torch.randn(n, BACKBONE_DIM, generator=generator) for n in (n5, n10, n20))


def test_every_model_has_small_options() -> None:
    assert set(SMALL_OPTIONS) == set(MODEL_NAMES)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_model_is_a_survival_model(name: str) -> None:
    """What training, evaluation and heatmaps rely on; only the linear probe is fitted in closed form."""
    model = small_model(name).eval()
    assert isinstance(model, SurvivalModel)
    assert isinstance(model(*bags(3, 7, 30)), SurvivalOutput)
    assert isinstance(model, ClosedFormModel) == issubclass(model_type(name), ClosedFormModel)
    assert isinstance(model, ClosedFormModel) == (name == "linear_probe")


def test_the_wrappers_training_puts_around_models_are_survival_models() -> None:
    members = [small_model("abmil"), small_model("dsmil")]
    for wrapper in (Standardized(members[0], BACKBONE_DIM), SeedEnsemble(members)):
        assert isinstance(wrapper, SurvivalModel) and not isinstance(wrapper, ClosedFormModel)


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize("sizes", [(1, 1, 1), (3, 7, 30), (2, 10, 37)])
def test_output_shapes_for_any_bag_size(name: str, sizes: tuple[int, int, int]) -> None:
    model = small_model(name).eval()
    output = model(*bags(*sizes))
    assert output.logits.shape == output.hazards.shape == output.survival.shape == (1, N_BINS)
    assert output.risk.shape == (1,)
    assert torch.all((output.hazards > 0) & (output.hazards < 1))
    assert torch.all(output.survival[:, 1:] <= output.survival[:, :-1])


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_batched_and_unbatched_bags_agree(name: str) -> None:
    model = small_model(name).eval()
    x5, x10, x20 = bags(3, 7, 30)
    with torch.no_grad():
        plain = model(x5, x10, x20).risk
        batched = model(x5[None], x10[None], x20[None]).risk
    torch.testing.assert_close(plain, batched)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_backward_reaches_every_parameter(name: str) -> None:
    model = small_model(name).train()
    model(*bags(3, 7, 30)).risk.sum().backward()
    without_grad = [
        key for key, param in model.named_parameters() if param.grad is None or not param.grad.any()
    ]
    assert without_grad == []


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_bfloat16_autocast_trains_with_float32_outputs(name: str) -> None:
    """What a GPU runs (training.loop turns bf16 autocast on for CUDA), on the CPU."""
    model = small_model(name).train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        output = model(*bags(3, 7, 30))
    assert {t.dtype for t in (output.logits, output.hazards, output.survival, output.risk)} == {torch.float32}
    assert not torch.equal(output.logits, output.logits.bfloat16().float()), "logits rounded to bf16"
    output.risk.sum().backward()
    grads = {key: param.grad for key, param in model.named_parameters() if param.requires_grad}
    assert all(grad is not None and torch.isfinite(grad).all() for grad in grads.values())


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_patch_scores_cover_the_bags(name: str) -> None:
    model = small_model(name).eval()
    x5, x10, x20 = bags(3, 7, 30)
    scores = model.patch_scores(x5, x10, x20, chunk_size=4)
    assert set(scores) == {"x5", "x10", "x20"}
    present = {key: value for key, value in scores.items() if value is not None}
    assert present, "a model must score at least the scale it reads"
    for key, value in present.items():
        assert value.shape == ({"x5": x5, "x10": x10, "x20": x20}[key].shape[0],)
        assert torch.isfinite(value).all()
        assert value.std() > 0


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_patch_scores_do_not_depend_on_chunk_size(name: str) -> None:
    model = small_model(name).eval()
    x5, x10, x20 = bags(3, 7, 30)
    small_chunks = model.patch_scores(x5, x10, x20, chunk_size=2)
    one_chunk = model.patch_scores(x5, x10, x20, chunk_size=10_000)
    for key, value in small_chunks.items():
        if value is None:
            assert one_chunk[key] is None
        else:
            torch.testing.assert_close(value, one_chunk[key])


def test_single_scale_models_read_their_scale() -> None:
    model = small_model("abmil").eval()
    x5, x10, x20 = bags(3, 7, 30)
    with torch.no_grad():
        before = model(x5, x10, x20).risk
        assert torch.equal(before, model(x5 + 1, x10 + 1, x20).risk)
        assert not torch.equal(before, model(x5, x10, x20 + 1).risk)


def test_unknown_model_is_named() -> None:
    with pytest.raises(PipelineInputError, match="'gigapath_mil' is not a model") as info:
        build_model("gigapath_mil", BACKBONE_DIM, N_BINS, {})
    assert "use one of" in info.value.fix


@pytest.mark.parametrize(
    ("name", "options", "key", "message"),
    [
        ("crossfusion", {"embed_dims": 512}, ("embed_dims",), "unknown key 'embed_dims'"),
        ("abmil", {"scale": "x10"}, ("scale",), "'x10' is not a scale"),
        ("crossfusion", {"dropout": 1.5}, ("dropout",), "1.5 is not valid"),
        ("crossfusion", {"embed_dim": 30, "num_heads": 4}, ("embed_dim",), "divisible"),
        ("dsmil", {"hidden_dim": "wide"}, ("hidden_dim",), "'wide' is not valid"),
        ("dsmil", {"query_dim": True}, ("query_dim",), "True is not a whole number"),
        ("transmil", {"mlp_ratio": 0}, ("mlp_ratio",), "0 is not valid"),
        ("crossfusion", {"cross_init": "zero"}, ("cross_init",), "'zero' is not allowed"),
        ("linear_probe", {"scales": ["fine", "fine"]}, ("scales",), "not a set of scales"),
        ("linear_probe", {"l1_ratio": 0}, ("l1_ratio",), "0 is not valid"),
    ],
)
def test_bad_options_are_explained(name: str, options: dict, key: tuple, message: str) -> None:
    with pytest.raises(SettingsError, match=message) as info:
        build_model(name, BACKBONE_DIM, N_BINS, options)
    assert (info.value.section, info.value.key) == (f"training.model_options.{name}", key)


def test_options_get_defaults_and_coerce_numbers() -> None:
    options = model_options("crossfusion", {"embed_dim": 256.0, "dropout": 0})
    assert (options.embed_dim, options.dropout, options.num_heads) == (256, 0.0, 4)
    assert isinstance(options.embed_dim, int)
    assert model_options("linear_probe", {"scales": "fine"}).scales == ("fine",)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_options_survive_a_json_round_trip(name: str) -> None:
    """Snakemake params and checkpoints carry options as plain values; they validate back unchanged."""
    options = model_options(name, SMALL_OPTIONS[name])
    assert options_type(name).model_validate(options.model_dump(mode="json")) == options
    assert model_options(name, options) is options


def test_transmil_takes_its_defaults_from_its_options() -> None:
    """The model class has no defaults of its own to disagree with: 8 heads and dropout 0.25."""
    model = build_model("transmil", BACKBONE_DIM, N_BINS, {"embed_dim": 16})
    defaults = TransMILOptions()
    assert (defaults.num_heads, defaults.dropout, defaults.attn_dropout) == (8, 0.25, 0.1)
    dropouts = {module.p for module in model.modules() if isinstance(module, torch.nn.Dropout)}
    assert dropouts <= {defaults.dropout, defaults.attn_dropout} and defaults.dropout in dropouts
    heads = {module.num_heads for module in model.modules() if hasattr(module, "num_heads")}
    assert heads == {defaults.num_heads}
