"""Whether trained models fit the cohort they are applied to, decided while the DAG is built.

A model fed another backbone's features, features of another width or a scale cut at other microns per
pixel does not fail: it returns risks, meaningless ones. So every such mismatch stops the dry run with
an error naming both sides: the checkpoint (or the trained cohort's config) and the deployment target.
Models trained elsewhere (``deploy.models_from``) are read here, which imports torch; a run that trains
its own models is checked on the two configs alone, before any model exists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crossfusion_core.errors import PipelineInputError
from crossfusion_core.scales import SCALES

if TYPE_CHECKING:
    from crossfusion_core.models.checkpoint import CheckpointInfo

FINAL_MODEL_FOLDER = "final"
"""``{model}/{backbone}/final/``: the model trained on every patient (``training.final_model``)."""


@dataclass(frozen=True)
class TrainedModel:
    """The files of one trained model that a deployment reads: its weights and the risks it gave the
    patients of the trained cohort (the reference the Kaplan-Meier cut-offs are taken from)."""

    checkpoint: Path
    reference_risks: tuple[Path, ...]


def trained_models(
    root: str | Path, model: str, backbone: str, weights: str, n_fold_runs: int
) -> list[TrainedModel]:
    """The models a deployment of ``model`` on ``backbone`` uses, below ``root`` (``results/{cohort}`` or
    ``deploy.models_from``): the final model, or every fold model with the risks it gave its training
    and its held-out patients (together, every patient of the trained cohort)."""
    folder = Path(root) / model / backbone
    if weights == "final":
        final = folder / FINAL_MODEL_FOLDER
        return [TrainedModel(final / "model.pt", (final / "training_risks.csv",))]
    return [
        TrainedModel(
            folder / f"fold_{fold}" / "model.pt",
            (folder / f"fold_{fold}" / "training_risks.csv", folder / f"fold_{fold}" / "predictions.csv"),
        )
        for fold in range(n_fold_runs)
    ]


def check_models_from(
    models: Sequence[TrainedModel], model: str, backbone: str, backbone_dim: int | None, target: str
) -> None:
    """Every file of ``models`` exists and each checkpoint fits features of ``backbone`` (``backbone_dim``
    wide, None when only the feature files will tell) at the pipeline's scales; ``target`` names the
    deployment target in messages."""
    from crossfusion_core.models.checkpoint import read_checkpoint_info

    for trained in models:
        for path in (trained.checkpoint, *trained.reference_risks):
            if not path.is_file():
                raise PipelineInputError(
                    path,
                    "deploy.models_from has no such file",
                    f"copy the whole {model}/{backbone} folder of the trained run (model.pt, "
                    "training_risks.csv and predictions.csv of each fold, or final/)",
                )
        check_checkpoint_fits(
            trained.checkpoint,
            read_checkpoint_info(trained.checkpoint),
            model,
            backbone,
            backbone_dim,
            target,
        )


def check_checkpoint_fits(
    path: Path, info: CheckpointInfo, model: str, backbone: str, backbone_dim: int | None, target: str
) -> None:
    """The checkpoint's model, backbone, feature width and scales against what the target will feed it."""
    if info.model_name != model:
        raise PipelineInputError(
            path,
            f"holds a {info.model_name!r} model, but sits in the folder of {model!r}",
            "copy each model's folder as the trained run wrote it",
        )
    if info.backbone is None or info.scales is None:
        raise PipelineInputError(
            path,
            "the checkpoint does not record the backbone and scales it was trained on",
            "train it again with this version of the workflow, whose model.pt records both",
        )
    if info.backbone != backbone:
        raise PipelineInputError(
            path,
            f"trained on {info.backbone!r} features, but the deployment target ({target}) gets "
            f"{backbone!r} features",
            f"deploy with features.backbones: [{info.backbone}], the backbone the model was trained on",
        )
    if backbone_dim is not None and info.backbone_dim != backbone_dim:
        raise PipelineInputError(
            path,
            f"trained on {info.backbone_dim}-dimensional features, but {backbone!r} gives the deployment "
            f"target ({target}) {backbone_dim}-dimensional ones",
            "deploy with the backbone and weights the model was trained on",
        )
    missing = [scale for scale in info.scales if not _is_pipeline_scale(scale)]
    if missing:
        available = [f"{scale.magnification}x at {scale.mpp} um/px" for scale in SCALES]
        raise PipelineInputError(
            path,
            f"trained on scale(s) {[_scale_text(scale) for scale in missing]}, which the deployment target "
            f"({target}) does not have (it has {available})",
            "deploy with models trained at this workflow's scales",
        )


def _is_pipeline_scale(stored: Mapping[str, Any]) -> bool:
    return any(
        stored.get("magnification") == scale.magnification and stored.get("mpp") == scale.mpp
        for scale in SCALES
    )


def _scale_text(stored: Mapping[str, Any]) -> str:
    return f"{stored.get('magnification')}x at {stored.get('mpp')} um/px"
