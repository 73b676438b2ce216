"""One table per backbone listing every slide's feature files, the single input of training.

Training reads the features of every slide; naming each file as an input of each fold's job would
put three files per slide into every training job of the DAG (45,000 edges for 1,000 slides, 5 folds
and 3 models), which is most of the time Snakemake spends building it. The index job depends on
the files once; training depends on the index. It also records bag sizes, so an empty slide is seen in
one place before any model starts.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import h5py
import pandas as pd

from crossfusion_core.errors import FeatureMismatchError
from crossfusion_core.io import write_csv
from crossfusion_core.scales import scale_at

LOGGER = logging.getLogger(__name__)


def write_feature_index(
    feature_files: Mapping[int, Sequence[str | Path]], out_csv: str | Path
) -> pd.DataFrame:
    """Write ``slide_id, n_x5, n_x10, n_x20, dim`` for the feature files of every slide and scale.

    ``feature_files`` maps a magnification to the files of all slides at that magnification.
    """
    columns = {f"n_{scale_at(mag).group}": _bag_sizes(paths) for mag, paths in sorted(feature_files.items())}
    index = pd.DataFrame(columns).rename_axis("slide_id").reset_index()
    index["dim"] = _common_dim([path for paths in feature_files.values() for path in paths])
    for slide_id in index.loc[index.filter(like="n_x").eq(0).any(axis=1), "slide_id"]:
        LOGGER.warning("%s has no patches at some scale; training skips its empty bags", slide_id)
    write_csv(out_csv, index)
    return index


def _bag_sizes(paths: Sequence[str | Path]) -> dict[str, int]:
    sizes = {}
    for path in map(Path, paths):
        with h5py.File(path, "r") as h5:
            sizes[path.stem] = int(h5["features"].shape[0])
    return sizes


def _common_dim(paths: Sequence[str | Path]) -> int:
    """The feature dimension all files share; a mix means two backbones' files were mixed up."""
    dims: dict[int, Path] = {}
    for path in map(Path, paths):
        with h5py.File(path, "r") as h5:
            dims.setdefault(int(h5["features"].shape[-1]), path)
    if len(dims) != 1:
        examples = ", ".join(f"{dim} in {path}" for dim, path in dims.items())
        raise FeatureMismatchError(None, f"feature files disagree on their dimension ({examples})")
    return next(iter(dims))
