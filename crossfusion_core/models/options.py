"""Model options as frozen settings models, checked once when a model is built from the config.

``training.model_options.<model>`` in config/config.yaml names a model's options; turning them into a
typed model here means a typo (``embed_dims: 512``) fails at the start of training with a message that
names the option, rather than being silently ignored. The defaults here are the only ones: the model
classes take every option from these models (``models.registry``), so the two cannot disagree.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator
from typing_extensions import Self

from crossfusion_core.scales import SCALE_NAMES
from crossfusion_core.settings import ConfigProblem, Count, Names, PositiveCount, Settings, choose


def _known_scale(name: str) -> str:
    """Scale names come from the table in crossfusion_core/scales.py, so they are checked against it."""
    if name not in SCALE_NAMES:
        raise ConfigProblem(f"{name!r} is not a scale", choose(name, SCALE_NAMES))
    return name


ScaleName = Annotated[str, AfterValidator(_known_scale)]
"""One of the three bags: coarse = 5x, source = 10x, fine = 20x."""
Probability = Annotated[float, Field(ge=0, lt=1)]
"""A dropout rate: 1 would drop everything."""


class ModelOptions(Settings):
    """Base of every model's options: unknown options are refused, absent ones take the defaults here."""

    model_name: ClassVar[str] = "model"

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        """Options checked on their own (a checkpoint's) are named by the config key they come from."""
        super().__pydantic_init_subclass__(**kwargs)
        cls.section = f"training.model_options.{cls.model_name}"


class SingleScaleMILOptions(ModelOptions):
    """Options every attention-pooling baseline shares; ``scale`` names the bag it reads
    (coarse = 5x, source = 10x, fine = 20x)."""

    hidden_dim: PositiveCount = 256
    dropout: Probability = 0.25
    scale: ScaleName = "source"


class PadTransformerOptions(ModelOptions):
    """The original CrossFusion's sizes and dropouts, shared by every Pad-Transformer model. As in the
    original, ``attn_dropout`` acts in the Pad-Transformers (the cross-attention has none) and
    ``qkv_bias`` in the cross-attention (the Pad-Transformers always have biases)."""

    model_name: ClassVar[str] = "crossfusion"
    embed_dim: PositiveCount = 512
    num_heads: PositiveCount = 4
    num_layers: PositiveCount = 1
    mlp_ratio: float = Field(2.0, gt=0)
    dropout: Probability = 0.3
    attn_dropout: Probability = 0.2
    qkv_bias: bool = True

    @model_validator(mode="after")
    def _heads_split_the_width(self) -> Self:
        """Each head takes an equal share of ``embed_dim``, and the Conv Processor halves it."""
        if self.embed_dim % self.num_heads or self.embed_dim % 2:
            raise ConfigProblem(
                f"embed_dim={self.embed_dim} must be even and divisible by num_heads={self.num_heads}",
                "use e.g. embed_dim 512 with 4 heads",
                key=("embed_dim",),
            )
        return self


class CrossFusionOptions(PadTransformerOptions):
    """``cross_init``: ``original`` starts the cross-attention blocks from the original's small random
    weights, so a source patch first receives its context at a few percent of its own amplitude;
    ``mean_pool`` starts their value and output projections as the identity, so each source patch
    first receives the mean of the other scale's patches at full amplitude (see ``models.crossfusion``)."""

    cross_init: Literal["original", "mean_pool"] = "mean_pool"


class CrossFusionConcatOptions(CrossFusionOptions):
    """Same options; the ablation that concatenates the three maps instead of the Conv Processor."""

    model_name: ClassVar[str] = "crossfusion_concat"


class CrossFusionSingleOptions(PadTransformerOptions):
    """CrossFusion's options plus the one ``scale`` read (coarse = 5x, source = 10x, fine = 20x)."""

    model_name: ClassVar[str] = "crossfusion_single"
    scale: ScaleName = "source"


class TransMILOptions(CrossFusionSingleOptions):
    """TransMIL's sizes: 512-dim tokens, 8 heads."""

    model_name: ClassVar[str] = "transmil"
    num_heads: PositiveCount = 8
    dropout: Probability = 0.25
    attn_dropout: Probability = 0.1


class ABMILOptions(SingleScaleMILOptions):
    """``attention_dim``: width of the gated attention's hidden layer."""

    model_name: ClassVar[str] = "abmil"
    attention_dim: PositiveCount = 128


class DSMILOptions(SingleScaleMILOptions):
    """``query_dim``: width of the queries that compare each patch with the critical one."""

    model_name: ClassVar[str] = "dsmil"
    query_dim: PositiveCount = 128


class LinearProbeOptions(ModelOptions):
    """``scales``: which bags are pooled (coarse = 5x, source = 10x, fine = 20x); ``n_components``:
    whitened PCA components per scale (and pooling), 0 keeps every standardised feature; ``penalty``:
    the elastic net's alpha for the Cox head, the L2 weight for the discrete head; ``l1_ratio``: the
    Cox head's mix of L1 and L2."""

    model_name: ClassVar[str] = "linear_probe"
    scales: Names = SCALE_NAMES
    pooling: Literal["mean", "mean_max", "mean_std"] = "mean_std"
    n_components: Count = Field(4, ge=0)
    head: Literal["cox", "discrete"] = "cox"
    penalty: float = Field(0.1, gt=0)
    l1_ratio: float = Field(0.5, gt=0, le=1)

    @field_validator("scales")
    @classmethod
    def _distinct_scales(cls, scales: tuple[str, ...]) -> tuple[str, ...]:
        """Some of the three bags, each once: a repeated bag would be pooled twice."""
        for name in scales:
            _known_scale(name)
        if not scales or len(set(scales)) != len(scales):
            raise ConfigProblem(
                f"{list(scales)} is not a set of scales", f"use a subset of {list(SCALE_NAMES)}, each once"
            )
        return scales
