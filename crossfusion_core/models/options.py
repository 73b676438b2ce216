"""Model options as frozen dataclasses, checked once when a model is built from the config.

``training.model_options.<model>`` in config/config.yaml is a free-form mapping; turning it into a typed
dataclass here means a typo (``embed_dims: 512``) fails at the start of training with a message that
names the option, rather than being silently ignored.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.scales import SCALE_NAMES
from crossfusion_core.settings import coerced_values

CONFIG_PATH = "config/config.yaml"

OptionsT = TypeVar("OptionsT", bound="ModelOptions")


def options_error(model_name: str, problem: str, fix: str) -> PipelineInputError:
    """An error pointing at ``training.model_options.<model>`` in the config."""
    return PipelineInputError(CONFIG_PATH, f"training.model_options.{model_name}: {problem}", fix)


@dataclasses.dataclass(frozen=True)
class ModelOptions:
    """Base of every model's options: ``from_mapping`` rejects unknown keys and coerces numbers."""

    model_name: ClassVar[str] = "model"

    @classmethod
    def from_mapping(cls: type[OptionsT], mapping: Mapping[str, Any] | None) -> OptionsT:
        """Options from a config mapping; missing keys take the dataclass defaults."""
        mapping = dict(mapping or {})
        error = functools.partial(options_error, cls.model_name)
        known = sorted(field.name for field in dataclasses.fields(cls))
        unknown = sorted(set(mapping) - set(known))
        if unknown:  # the config calls these options, so the message does too
            raise error(f"unknown option(s) {unknown}", f"use only {known}")
        return cls(**coerced_values(mapping, cls, error))

    def check_probability(self, name: str) -> None:
        """Dropout rates must lie in [0, 1)."""
        value = getattr(self, name)
        if not 0.0 <= value < 1.0:
            raise options_error(
                self.model_name, f"{name}={value} is not in [0, 1)", f"set {name} to e.g. 0.25"
            )

    def check_positive(self, name: str) -> None:
        """Sizes and counts must be at least one."""
        value = getattr(self, name)
        if value < 1:
            raise options_error(self.model_name, f"{name}={value} must be positive", f"set {name} >= 1")

    def check_scale(self, name: str = "scale") -> None:
        """A scale option names one of the three bags."""
        value = getattr(self, name)
        if value not in SCALE_NAMES:
            raise options_error(
                self.model_name, f"{name}={value!r} is not a scale", f"use one of {SCALE_NAMES}"
            )


@dataclasses.dataclass(frozen=True)
class SingleScaleMILOptions(ModelOptions):
    """Options every attention-pooling baseline shares; ``scale`` names the bag it reads
    (coarse = 5x, source = 10x, fine = 20x)."""

    hidden_dim: int = 256
    dropout: float = 0.25
    scale: str = "source"

    def __post_init__(self) -> None:
        self.check_positive("hidden_dim")
        self.check_probability("dropout")
        self.check_scale()


@dataclasses.dataclass(frozen=True)
class PadTransformerOptions(ModelOptions):
    """The original CrossFusion's sizes and dropouts, shared by every Pad-Transformer model. As in the
    original, ``attn_dropout`` acts in the Pad-Transformers (the cross-attention has none) and
    ``qkv_bias`` in the cross-attention (the Pad-Transformers always have biases)."""

    model_name = "crossfusion"
    embed_dim: int = 512
    num_heads: int = 4
    num_layers: int = 1
    mlp_ratio: float = 2.0
    dropout: float = 0.3
    attn_dropout: float = 0.2
    qkv_bias: bool = True

    def __post_init__(self) -> None:
        for name in ("embed_dim", "num_heads", "num_layers"):
            self.check_positive(name)
        self.check_probability("dropout")
        self.check_probability("attn_dropout")
        if self.embed_dim % self.num_heads or self.embed_dim % 2:
            raise options_error(
                self.model_name,
                f"embed_dim={self.embed_dim} must be even and divisible by num_heads={self.num_heads}",
                "use e.g. embed_dim 512 with 4 heads",
            )


CROSS_INITS = ("original", "mean_pool")


@dataclasses.dataclass(frozen=True)
class CrossFusionOptions(PadTransformerOptions):
    """``cross_init``: ``original`` starts the cross-attention blocks from the original's small random
    weights, so a source patch first receives its context at a few percent of its own amplitude;
    ``mean_pool`` starts their value and output projections as the identity, so each source patch
    first receives the mean of the other scale's patches at full amplitude (see ``models.crossfusion``)."""

    cross_init: str = "mean_pool"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.cross_init not in CROSS_INITS:
            raise options_error(
                self.model_name, f"cross_init={self.cross_init!r}", f"use one of {CROSS_INITS}"
            )


@dataclasses.dataclass(frozen=True)
class CrossFusionConcatOptions(CrossFusionOptions):
    """Same options; the ablation that concatenates the three maps instead of the Conv Processor."""

    model_name = "crossfusion_concat"


@dataclasses.dataclass(frozen=True)
class CrossFusionSingleOptions(PadTransformerOptions):
    """CrossFusion's options plus the one ``scale`` read (coarse = 5x, source = 10x, fine = 20x)."""

    model_name = "crossfusion_single"
    scale: str = "source"

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_scale()


@dataclasses.dataclass(frozen=True)
class TransMILOptions(CrossFusionSingleOptions):
    """TransMIL's sizes: 512-dim tokens, 8 heads."""

    model_name = "transmil"
    num_heads: int = 8
    dropout: float = 0.25
    attn_dropout: float = 0.1


@dataclasses.dataclass(frozen=True)
class ABMILOptions(SingleScaleMILOptions):
    """``attention_dim``: width of the gated attention's hidden layer."""

    model_name = "abmil"
    attention_dim: int = 128

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_positive("attention_dim")


@dataclasses.dataclass(frozen=True)
class DSMILOptions(SingleScaleMILOptions):
    """``query_dim``: width of the queries that compare each patch with the critical one."""

    model_name = "dsmil"
    query_dim: int = 128

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_positive("query_dim")


POOLINGS = ("mean", "mean_max", "mean_std")
HEADS = ("cox", "discrete")


@dataclasses.dataclass(frozen=True)
class LinearProbeOptions(ModelOptions):
    """``scales``: which bags are pooled (coarse = 5x, source = 10x, fine = 20x); ``n_components``:
    whitened PCA components per scale (and pooling), 0 keeps every standardised feature; ``penalty``:
    the elastic net's alpha for the Cox head, the L2 weight for the discrete head; ``l1_ratio``: the
    Cox head's mix of L1 and L2."""

    model_name = "linear_probe"
    scales: tuple[str, ...] = SCALE_NAMES
    pooling: str = "mean_std"
    n_components: int = 4
    head: str = "cox"
    penalty: float = 0.1
    l1_ratio: float = 0.5

    def __post_init__(self) -> None:
        unknown = [scale for scale in self.scales if scale not in SCALE_NAMES]
        if not self.scales or unknown or len(set(self.scales)) != len(self.scales):
            raise options_error(
                self.model_name, f"scales={list(self.scales)}", f"use a subset of {SCALE_NAMES}"
            )
        for name, choices in (("pooling", POOLINGS), ("head", HEADS)):
            if getattr(self, name) not in choices:
                raise options_error(
                    self.model_name, f"{name}={getattr(self, name)!r}", f"use one of {choices}"
                )
        if self.n_components < 0 or self.penalty <= 0 or not 0.0 < self.l1_ratio <= 1.0:
            raise options_error(
                self.model_name,
                f"n_components={self.n_components}, penalty={self.penalty}, l1_ratio={self.l1_ratio}",
                "use n_components >= 0, penalty > 0 and 0 < l1_ratio <= 1",
            )
