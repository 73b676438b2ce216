"""Drawing H&E-like tissue with prognosis planted at two scales, each invisible at the other scales.

Everything is drawn with whole-array operations (OpenCV distance transforms, blurs, lookups), first on a
coarse grid at ``MASK_MPP`` (tissue outline, risk regions) and then at ``RENDER_MPP`` (glands, nuclei,
colour). A 40x slide is the 20x rendering enlarged by pixel replication, since no stage reads finer
than 20x.

The two phenotypes are built so that a patch of the wrong scale cannot tell them apart, which is what
lets the cohort show whether a model really combines scales:

- nuclear, seen only at 20x: nuclei of high-risk regions have clumped chromatin, a speckle of light and
  dark 0.5 um pixels that sums to zero over every 2 x 2 block of the 20x grid. Size, colour, density and
  mean darkness of the nuclei are those of the rest, so a 10x pixel (the mean of a 2 x 2 block) and
  everything coarser are identical inside and outside the regions.
- architectural, seen only at 5x: the tissue is a mosaic of 256-um cells (one 10x patch each, on the
  patch grid) of two textures, round glands and crowded solid nests, half of each. Inside a 512-um
  block (one 5x patch) the four cells are either interleaved (a 2 x 2 checkerboard of the textures) or
  clustered (all four alike); high-risk regions are made of clustered blocks. Each cell is drawn from
  its own texture alone, so every 10x and 20x patch has the same content whichever block it sits in;
  only a 5x patch, which holds a whole block, sees the arrangement.

The share of blocks (architecture) or of tissue (nuclei) each phenotype covers grows with the patient's
latent score for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from crossfusion_core.synthetic.cohort import SyntheticSlide

RENDER_MPP = 0.5
LAYOUT_MPP = 1.0
MASK_MPP = 8.0
FINE_PER_COARSE = round(MASK_MPP / RENDER_MPP)
MARGIN_UM = 150.0
COARSE_PATCH_UM = 512.0
"""Side of a default 5x patch (256 px at 2 um/px): slides are whole multiples of it."""
MOSAIC_CELL_UM = COARSE_PATCH_UM / 2
"""Side of a mosaic cell: one default 10x patch (256 px at 1 um/px); a 5x patch holds 2 x 2 cells."""
TEXTURE_TILE_PX = 509
PIECE_GAP_UM = 250.0

BACKGROUND, STROMA, EPITHELIUM, LUMEN = 0, 1, 2, 3
PALETTE = np.array([(243, 241, 246), (248, 180, 214), (226, 154, 208), (255, 248, 255)], np.uint8)
"""Colour of each compartment before shading; tissue colours are darkened by ``SHADE_MEAN`` on average."""
SHADE_MEAN = 12.0
NUCLEUS_RGB = np.array((105, 62, 158), np.float32)
PEN_RGB = [(35, 70, 170), (40, 125, 70), (35, 35, 40)]


@dataclass(frozen=True)
class GlandStyle:
    """Gland layout of one phenotype, in microns: lumen radius, outer radius, grid spacing."""

    lumen_um: float
    outer_um: float
    spacing_um: float


GLANDS = GlandStyle(lumen_um=30.0, outer_um=46.0, spacing_um=150.0)
SOLID_NESTS = GlandStyle(lumen_um=7.0, outer_um=40.0, spacing_um=72.0)

NUCLEI_PER_UM2 = {STROMA: 1 / 600, EPITHELIUM: 1 / 50}
NUCLEUS_RADIUS_UM = 2.6
NUCLEUS_RADIUS_SPREAD = 0.12
NUCLEUS_BRIGHTNESS = (0.92, 1.12)
CHROMATIN_AMPLITUDE = 40.0
"""Grey levels added to and taken from the pixels of a clumped-chromatin nucleus."""
SUBPIXEL_BITS = 2

ZERO_SUM_BLOCKS = np.array(
    [
        [[1, 1], [-1, -1]],
        [[-1, -1], [1, 1]],
        [[1, -1], [1, -1]],
        [[-1, 1], [-1, 1]],
        [[1, -1], [-1, 1]],
        [[-1, 1], [1, -1]],
    ],
    np.float32,
)
"""The six 2 x 2 patterns of two light and two dark pixels: every 2 x 2 block of the speckle is one."""
CHECKERBOARD_BLOCKS = np.array([[[True, False], [False, True]], [[False, True], [True, False]]])
"""The two diagonal layouts of an interleaved block: every cell differs from the cells beside it, so
even a block cut by the tissue's edge shows the interleaving, provided two neighbouring cells remain."""


@dataclass(frozen=True)
class RenderedTissue:
    """The drawing of one slide: RGB at ``RENDER_MPP`` and the planted-region masks at ``MASK_MPP``."""

    rgb: np.ndarray
    tissue_mask: np.ndarray
    nuclear_mask: np.ndarray
    architecture_mask: np.ndarray


def render_tissue(slide: SyntheticSlide, rng: np.random.Generator) -> RenderedTissue:
    """Draw ``slide``: outline, risk regions, glands, nuclei, colour, and a pen mark if planned."""
    tissue = tissue_outline(slide, rng)
    nuclear = risk_region(tissue, slide.nuclear_score, rng)
    solid_cells, clustered_blocks = texture_mosaic(tissue, slide.architecture_score, rng)
    fine_shape = (tissue.shape[0] * FINE_PER_COARSE, tissue.shape[1] * FINE_PER_COARSE)
    labels = compartments(tissue, solid_cells, fine_shape, rng)
    rgb = _coloured(labels, rng)
    _draw_nuclei(rgb, labels, _enlarged(nuclear, fine_shape), rng)
    if slide.pen_mark:
        _draw_pen_mark(rgb, rng)
    architecture = tissue & _blocks_at_mask_mpp(clustered_blocks, tissue.shape)
    return RenderedTissue(rgb=rgb, tissue_mask=tissue, nuclear_mask=nuclear, architecture_mask=architecture)


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma_px: float) -> np.ndarray:
    """Gaussian-blurred white noise rescaled to unit standard deviation (float32)."""
    field = cv2.GaussianBlur(rng.standard_normal(shape, np.float32), (0, 0), sigma_px)
    return field / max(float(field.std()), 1e-6)


def tissue_outline(slide: SyntheticSlide, rng: np.random.Generator) -> np.ndarray:
    """Irregular tissue pieces on a coarse grid (bool, ``MASK_MPP``), one or two side by side."""
    n_pieces = 2 if slide.two_pieces else 1
    piece_um = slide.tissue_size_um * (0.72 if slide.two_pieces else 1.0)
    content_um = n_pieces * piece_um + (n_pieces - 1) * PIECE_GAP_UM
    width_um, height_um = (_whole_cells(extent + 2 * MARGIN_UM) for extent in (content_um, piece_um))
    shape = (int(np.ceil(height_um / MASK_MPP)), int(np.ceil(width_um / MASK_MPP)))
    y_um, x_um = (np.indices(shape, np.float32) + 0.5) * MASK_MPP
    tissue = np.zeros(shape, bool)
    left_um = (width_um - content_um) / 2
    for piece in range(n_pieces):
        centre = (left_um + piece * (piece_um + PIECE_GAP_UM) + piece_um / 2, height_um / 2)
        tissue |= _irregular_ellipse(x_um - centre[0], y_um - centre[1], piece_um / 2, rng)
    return tissue


def _whole_cells(extent_um: float) -> float:
    """``extent_um`` rounded up to whole 5x patches, so the patch grid (whole 5x cells from the slide's
    origin) reaches every bit of tissue instead of cutting off the last partial cell."""
    return float(np.ceil(extent_um / COARSE_PATCH_UM) * COARSE_PATCH_UM)


def _irregular_ellipse(x_um: np.ndarray, y_um: np.ndarray, radius_um: float, rng) -> np.ndarray:
    angle = rng.uniform(0, np.pi)
    aspect = rng.uniform(0.7, 0.95)
    along = x_um * np.cos(angle) + y_um * np.sin(angle)
    across = -x_um * np.sin(angle) + y_um * np.cos(angle)
    rho = np.hypot(along / radius_um, across / (radius_um * aspect))
    wobble = smooth_noise(rng, x_um.shape, sigma_px=110.0 / MASK_MPP)
    return rho < 0.97 + 0.1 * wobble


def risk_region(tissue: np.ndarray, score: float, rng: np.random.Generator) -> np.ndarray:
    """Blobs covering a share of the tissue that rises with ``score``: a logistic curve, 18% to 82% at
    one standard deviation below and above the mean."""
    field = smooth_noise(rng, tissue.shape, sigma_px=180.0 / MASK_MPP)
    threshold = np.quantile(field[tissue], 1.0 - _region_share(score)) if tissue.any() else np.inf
    return tissue & (field > threshold)


def _region_share(score: float) -> float:
    return 1.0 / (1.0 + np.exp(-1.5 * score))


def texture_mosaic(
    tissue: np.ndarray, score: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Which mosaic cells are solid nests (bool, one per cell) and which blocks are clustered.

    Of the 5x blocks that touch tissue, a share rising with ``score`` (same curve as the nuclear
    regions) is clustered: four cells of one texture, solid for half of them. The other blocks hold two
    cells of each texture on a diagonal (a 2 x 2 checkerboard). Either way every cell is solid with
    probability one half, so the cells on their own (10x patches) say nothing about the score.
    """
    cells_per_mask_px = round(MOSAIC_CELL_UM / MASK_MPP)
    block_shape = (tissue.shape[0] // (2 * cells_per_mask_px), tissue.shape[1] // (2 * cells_per_mask_px))
    blocks_with_tissue = np.flatnonzero(_block_any(tissue, block_shape))
    clustered = np.zeros(block_shape[0] * block_shape[1], bool)
    n_clustered = round(_region_share(score) * len(blocks_with_tissue))
    chosen = rng.permutation(blocks_with_tissue)[:n_clustered]
    clustered[chosen] = True
    solid_clustered = np.zeros_like(clustered)
    n_solid = (n_clustered + int(rng.integers(0, 2))) // 2  # half, odd counts rounded at random
    solid_clustered[rng.permutation(chosen)[:n_solid]] = True
    layouts = CHECKERBOARD_BLOCKS[rng.integers(0, len(CHECKERBOARD_BLOCKS), clustered.size)]
    layouts[clustered] = solid_clustered[clustered, None, None]
    solid_cells = (
        layouts.reshape(*block_shape, 2, 2)
        .transpose(0, 2, 1, 3)
        .reshape(2 * block_shape[0], 2 * block_shape[1])
    )
    return solid_cells, clustered.reshape(block_shape)


def _block_any(mask: np.ndarray, block_shape: tuple[int, int]) -> np.ndarray:
    rows, cols = mask.shape[0] // block_shape[0], mask.shape[1] // block_shape[1]
    return mask.reshape(block_shape[0], rows, block_shape[1], cols).any(axis=(1, 3)).ravel()


def _blocks_at_mask_mpp(blocks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A per-block (or per-cell) boolean grid spread over the ``MASK_MPP`` canvas it tiles."""
    return cv2.resize(blocks.astype(np.uint8), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST) > 0


def compartments(
    tissue: np.ndarray, solid_cells: np.ndarray, fine_shape: tuple[int, int], rng: np.random.Generator
) -> np.ndarray:
    """Label image at ``RENDER_MPP``: background, stroma, gland epithelium, lumen (uint8).

    Each texture is laid out over the whole tissue and each cell shows its own texture's layout, cut at
    the cell's edges, so that what a cell shows never depends on its neighbours. Glands are laid out at
    ``LAYOUT_MPP`` (their outlines need no finer detail) and enlarged.
    """
    step = round(LAYOUT_MPP / RENDER_MPP)
    layout_shape = (fine_shape[0] // step, fine_shape[1] // step)
    labels = _enlarged(tissue, layout_shape).astype(np.uint8) * STROMA
    wobble_px = smooth_noise(rng, layout_shape, sigma_px=6.0 / LAYOUT_MPP) * (5.0 / LAYOUT_MPP)
    solid = _blocks_at_mask_mpp(solid_cells, layout_shape)
    epithelium = np.zeros(layout_shape, bool)
    lumen = np.zeros(layout_shape, bool)
    for style, cells in ((GLANDS, ~solid), (SOLID_NESTS, solid)):
        distance_px = _distance_to_points(_gland_centres(style, tissue, rng), layout_shape)
        distance_px += wobble_px
        epithelium |= cells & (distance_px < style.outer_um / LAYOUT_MPP)
        lumen |= cells & (distance_px < style.lumen_um / LAYOUT_MPP)
    labels[(labels == STROMA) & epithelium] = EPITHELIUM
    labels[(labels == EPITHELIUM) & lumen] = LUMEN
    return cv2.resize(labels, (fine_shape[1], fine_shape[0]), interpolation=cv2.INTER_NEAREST)


def _gland_centres(style: GlandStyle, where: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Jittered-grid centres (N, 2) as (row, col) at ``LAYOUT_MPP``, kept where ``where`` is set."""
    height_um, width_um = where.shape[0] * MASK_MPP, where.shape[1] * MASK_MPP
    rows_um, cols_um = np.meshgrid(
        np.arange(style.spacing_um / 2, height_um, style.spacing_um),
        np.arange(style.spacing_um / 2, width_um, style.spacing_um),
        indexing="ij",
    )
    centres_um = np.stack([rows_um.ravel(), cols_um.ravel()], axis=1)
    centres_um += rng.uniform(-0.3, 0.3, centres_um.shape) * style.spacing_um
    centres_um = np.clip(centres_um, 0, [height_um - 1e-3, width_um - 1e-3])
    coarse = (centres_um / MASK_MPP).astype(int)
    kept = centres_um[where[coarse[:, 0], coarse[:, 1]]]
    return (kept / LAYOUT_MPP).astype(np.int64)


def _distance_to_points(points_rc: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Euclidean distance in pixels from every pixel to the nearest point (inf-like if none)."""
    if len(points_rc) == 0:
        return np.full(shape, np.float32(1e6))
    seeds = np.full(shape, 255, np.uint8)
    seeds[points_rc[:, 0], points_rc[:, 1]] = 0
    return cv2.distanceTransform(seeds, cv2.DIST_L2, cv2.DIST_MASK_5)


def _coloured(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Palette colours, darkened inside the tissue by patchy stain intensity and fibrous texture.

    All in uint8 OpenCV operations for speed. The fine texture is one random tile repeated (a prime
    period, so it does not line up with patch grids): fresh noise for every pixel would double the time
    to make a slide.
    """
    height, width = labels.shape
    patchy_u8 = _smooth_noise_u8(rng, labels.shape, sigma_um=60.0, mean=SHADE_MEAN, amplitude=6.0)
    tile = smooth_noise(rng, (TEXTURE_TILE_PX, TEXTURE_TILE_PX), sigma_px=1.5 / RENDER_MPP)
    tile_u8 = np.clip(8.0 + 5.0 * tile, 0, 255).astype(np.uint8)
    fibres_u8 = cv2.repeat(tile_u8, -(-height // TEXTURE_TILE_PX), -(-width // TEXTURE_TILE_PX))
    shade = cv2.add(cv2.subtract(patchy_u8, 8), fibres_u8[:height, :width])
    shade = cv2.bitwise_and(shade, cv2.compare(labels, BACKGROUND, cv2.CMP_NE))
    rgb = cv2.LUT(cv2.merge([labels] * 3), _palette_lut())
    return cv2.subtract(rgb, cv2.merge([shade] * 3))


def _palette_lut() -> np.ndarray:
    lut = np.zeros((256, 1, 3), np.uint8)
    lut[: len(PALETTE), 0] = PALETTE
    return lut


def _draw_nuclei(
    rgb: np.ndarray, labels: np.ndarray, nuclear_region: np.ndarray, rng: np.random.Generator
) -> None:
    """Paint round nuclei (density by compartment); those in ``nuclear_region`` get clumped chromatin."""
    max_density = max(NUCLEI_PER_UM2.values())
    area_um2 = labels.size * RENDER_MPP**2
    candidates = rng.integers(0, labels.shape, size=(rng.poisson(area_um2 * max_density), 2))
    rows, cols = candidates[:, 0], candidates[:, 1]
    density = np.zeros(len(rows))
    for compartment, per_um2 in NUCLEI_PER_UM2.items():
        density[labels[rows, cols] == compartment] = per_um2
    kept = rng.random(len(rows)) < density / max_density
    rows, cols = rows[kept], cols[kept]
    radius_px = NUCLEUS_RADIUS_UM / RENDER_MPP * rng.lognormal(0.0, NUCLEUS_RADIUS_SPREAD, len(rows))
    colours = NUCLEUS_RGB * rng.uniform(*NUCLEUS_BRIGHTNESS, len(rows))[:, None]
    clumped = np.zeros(labels.shape, np.uint8)
    # One OpenCV call per nucleus (not per pixel): anti-aliased discs at quarter-pixel precision.
    scale = 1 << SUBPIXEL_BITS
    for row, col, radius, ink in zip(
        rows, cols, radius_px * scale, colours.round().astype(int).tolist(), strict=True
    ):
        centre = (int(col) * scale, int(row) * scale)
        cv2.circle(rgb, centre, int(radius), ink, -1, cv2.LINE_AA, SUBPIXEL_BITS)
        if nuclear_region[row, col]:
            cv2.circle(clumped, centre, int(radius), 255, -1, cv2.LINE_AA, SUBPIXEL_BITS)
    clump_chromatin(rgb, clumped, rng)


def clump_chromatin(rgb: np.ndarray, coverage: np.ndarray, rng: np.random.Generator) -> None:
    """Add a light/dark speckle where ``coverage`` (uint8, 255 = nucleus) is set, in place.

    Each 2 x 2 block (on even rows and columns) gets one of the zero-sum patterns, scaled by the block's
    least coverage, so a nucleus's edge gets no more than its inside and every block keeps its mean:
    at 10x (2 x 2 means) and coarser the speckle is gone.
    """
    blocks = coverage.reshape(coverage.shape[0] // 2, 2, coverage.shape[1] // 2, 2).min(axis=(1, 3))
    rows, cols = np.nonzero(blocks)
    patterns = ZERO_SUM_BLOCKS[rng.integers(0, len(ZERO_SUM_BLOCKS), len(rows))]
    delta = np.rint(CHROMATIN_AMPLITUDE * blocks[rows, cols, None, None] / 255.0 * patterns)
    for dy in (0, 1):
        for dx in (0, 1):
            ys, xs = 2 * rows + dy, 2 * cols + dx
            rgb[ys, xs] = np.clip(rgb[ys, xs] + delta[:, dy, dx, None], 0, 255).astype(np.uint8)


def _draw_pen_mark(rgb: np.ndarray, rng: np.random.Generator) -> None:
    """A wavy marker stroke of a random ink colour across part of the slide, as pathologists leave."""
    height, width = rgb.shape[:2]
    t = np.linspace(0.0, 1.0, 200)
    start, end = rng.uniform(0.05, 0.95, 2), rng.uniform(0.05, 0.95, 2)
    wave = 0.06 * np.sin(2 * np.pi * (rng.uniform(1, 2.5) * t + rng.uniform()))
    xs = (start[0] + (end[0] - start[0]) * t) * width
    ys = (start[1] + (end[1] - start[1]) * t + wave) * height
    points = np.stack([xs, ys], axis=1).astype(np.int32)
    ink = np.zeros((height, width), np.uint8)
    cv2.polylines(ink, [points], False, 255, thickness=round(45.0 / RENDER_MPP), lineType=cv2.LINE_AA)
    alpha = (ink.astype(np.float32) / 255.0 * 0.8)[..., None]
    colour = np.array(PEN_RGB[rng.integers(len(PEN_RGB))], np.float32)
    touched = ink > 0
    rgb[touched] = (rgb[touched] * (1 - alpha[touched]) + colour * alpha[touched]).astype(np.uint8)


def _enlarged(mask: np.ndarray, fine_shape: tuple[int, int]) -> np.ndarray:
    """A coarse mask at ``RENDER_MPP`` with smooth (bilinear) instead of blocky edges."""
    size = (fine_shape[1], fine_shape[0])
    return cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_LINEAR) > 0.5


def _smooth_noise_u8(
    rng: np.random.Generator, shape: tuple[int, int], sigma_um: float, mean: float, amplitude: float
) -> np.ndarray:
    """``mean + amplitude * noise`` as uint8 of ``shape`` at ``RENDER_MPP``, features of ``sigma_um``.

    Smooth noise needs only a few samples per feature, so it is drawn small and enlarged for speed.
    """
    step = max(1, int(sigma_um / RENDER_MPP / 4))
    small = (-(-shape[0] // step), -(-shape[1] // step))
    field = smooth_noise(rng, small, sigma_px=sigma_um / RENDER_MPP / step)
    field_u8 = np.clip(mean + amplitude * field, 0, 255).astype(np.uint8)
    return cv2.resize(field_u8, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
