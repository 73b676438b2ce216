"""Where the tests find the original study's data: copies kept in the repository, not ../shared.

`config/tcga/` holds the study's GDC manifests, splits and survival tables (the pipeline uses them too);
`tests/fixtures/crossfusion/` holds the parity fixture made by running the original CrossFusion code
(MIT license, Rustin Soraki 2025; see its README).
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TCGA_REFERENCE = REPO / "config" / "tcga"
CROSSFUSION_REFERENCE = REPO / "tests" / "fixtures" / "crossfusion"
