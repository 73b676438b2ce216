"""Small local cohorts on disk: real slide files in two formats, a slide sheet and a clinical table.

Slides are tiny (1 x 0.75 mm of tissue) so that a whole cohort is written in about a second: Aperio SVS
files and generic pyramidal TIFFs (OpenSlide's ``generic-tiff``, mpp in the resolution tags).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from fixture_slides import tissue_rgb

from crossfusion_core.synthetic.svs_writer import write_aperio_svs
from crossfusion_core.synthetic.tiff_writer import write_pyramidal_tiff


def write_table(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> Path:
    """A CSV, or a TSV when the name ends in .tsv."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t" if path.suffix == ".tsv" else ",")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_local_cohort(root: Path, n_patients: int = 4) -> tuple[Path, Path]:
    """Patients P1..Pn, each with one slide, alternating a 20x SVS and a 40x TIFF in a sub-folder.

    Patient 1 has a second slide, an SVS whose header has neither mpp nor objective power, in a third
    folder; its sheet row gives its mpp. Only
    patient 3 is censored, so that two patients share a time bin x censorship stratum (stratified folds
    need one). Returns (sheet, clinical table).
    """
    sheet_rows = []
    for patient in range(1, n_patients + 1):
        if patient % 2:
            path = write_aperio_svs(
                root / "slides" / f"scan_{patient}.svs", tissue_rgb(0.5, seed=patient), 0.5, 20
            )
        else:
            path = write_pyramidal_tiff(
                root / "slides" / "tiff" / f"scan_{patient}.tif", tissue_rgb(0.25, seed=patient), 0.25
            )
        sheet_rows.append([f"S{patient}", f"P{patient}", path.relative_to(root).as_posix(), ""])
    extra = write_aperio_svs(
        root / "slides" / "no_mpp" / "scan_1b.svs", tissue_rgb(0.5, seed=99), 0.5, None, write_mpp=False
    )
    sheet_rows.append(["S1b", "P1", extra.relative_to(root).as_posix(), "0.5"])
    sheet = write_table(root / "slides.csv", ["slide_id", "case_id", "path", "mpp"], sheet_rows)
    clinical_rows = [
        [f"P{patient}", 6.0 * patient, int(patient == 3), 50 + patient]
        for patient in range(1, n_patients + 1)
    ]
    clinical = write_table(
        root / "clinical.tsv", ["case_id", "survival_months", "censorship", "age"], clinical_rows
    )
    return sheet, clinical
