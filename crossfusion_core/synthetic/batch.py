"""A batch of synthetic slides in one process (the workflow's `synthetic_slides` job).

Drawing a slide takes about as long as starting Python and importing the drawing code, so the
workflow draws its slides in batches (see :mod:`crossfusion_core.slide_batches`); each slide is drawn
from its id and the settings alone, so the batch it falls in does not change its pixels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from crossfusion_core.slide_batches import run_per_slide
from crossfusion_core.synthetic.settings import SyntheticSettings
from crossfusion_core.synthetic.slides import write_synthetic_slide


def write_synthetic_batch(
    settings: SyntheticSettings, slide_ids: Sequence[str], folder: str | Path, file_names: Mapping[str, str]
) -> list[str]:
    """Each slide's SVS and truth h5 into ``folder/{slide}/{file_names["slide" | "truth"]}``."""
    return run_per_slide(
        folder,
        slide_ids,
        lambda slide_id, slide_folder: write_synthetic_slide(
            settings, slide_id, slide_folder / file_names["slide"], slide_folder / file_names["truth"]
        ),
    )
