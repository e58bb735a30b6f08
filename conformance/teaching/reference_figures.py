"""Figures 1-4 of docs/guide.md, drawn from the float64 reference's trace of the worked example: the
Gaussian matrix as spatial frequencies, channels of the dense positional grid, how a click is
localised, and the mask downscaler."""

from __future__ import annotations

import math

import numpy as np

from .drawing import new_figure
from .example import EXAMPLE_BOX, EXAMPLE_CONFIG, EXAMPLE_POINT

# -- 1. the Gaussian matrix ----------------------------------------------------------------------------


def figure_gaussian_frequencies(ctx):
    G = ctx["params"]["pe_layer.positional_encoding_gaussian_matrix"]
    # A = 2π (2u − 1)·g: across the image (u from 0 to 1) the phase turns by 2π·2g, i.e. 2g cycles.
    fx, fy = 2.0 * G[0], 2.0 * G[1]
    magnitude = np.hypot(fx, fy)
    h, w = EXAMPLE_CONFIG["image_embedding_size"]
    fig = new_figure(11.0, 4.4)
    left, right = fig.subplots(1, 2, width_ratios=[1.0, 1.25])

    points = left.scatter(fx, fy, c=magnitude, cmap="viridis", s=22, edgecolors="black", linewidths=0.3)
    limit = 1.1 * magnitude.max()
    left.set_xlim(-limit, limit)
    left.set_ylim(-limit, limit)
    left.set_aspect("equal")
    left.axhline(0, color="grey", lw=0.5)
    left.axvline(0, color="grey", lw=0.5)
    left.set_xlabel("cycles across the image width  (2·G[0, k])")
    left.set_ylabel("cycles down the image height  (2·G[1, k])")
    left.set_title("each column k of G is one spatial frequency")
    fig.colorbar(points, ax=left, label="|frequency|, cycles per image", shrink=0.9)

    bins = np.linspace(0.0, math.ceil(magnitude.max()) + 1.0, 17)
    right.hist(
        magnitude, bins=bins, color="#4c72b0", edgecolor="white", label=f"the {magnitude.size} columns of G (seed 0)"
    )
    r = np.linspace(0.0, bins[-1], 200)
    # |2g| for g ~ N(0, I2) is Rayleigh with sigma 2: the density every draw of G follows
    density = r / 4.0 * np.exp(-(r**2) / 8.0)
    right.plot(
        r,
        density * magnitude.size * (bins[1] - bins[0]),
        color="black",
        lw=1.5,
        label="expected for G ~ N(0, 1): Rayleigh, σ = 2",
    )
    right.set_xlabel("|frequency|, cycles per image side")
    right.set_ylabel("number of columns")
    right.yaxis.get_major_locator().set_params(integer=True)
    right.set_title(f"every |f| ≤ {magnitude.max():.1f} cycles/image; the {h}×{w} grid resolves up to {w // 2}")
    right.legend(loc="upper right", fontsize=9)
    finest = EXAMPLE_CONFIG["input_image_size"][1] / magnitude.max()
    right.text(
        0.98,
        0.62,
        f"finest wavelength: {finest:.0f} px of {EXAMPLE_CONFIG['input_image_size'][1]}\n"
        f"= {finest / 16:.1f} grid cells",
        transform=right.transAxes,
        ha="right",
        fontsize=9,
    )
    return fig


# -- 2. channels of the dense positional grid ----------------------------------------------------------


def figure_dense_pe_channels(ctx):
    grid = np.asarray(ctx["trace"]["dense_pe.grid"])  # (h, w, C), channels last
    G = ctx["params"]["pe_layer.positional_encoding_gaussian_matrix"]
    half = G.shape[1]
    magnitude = 2.0 * np.hypot(G[0], G[1])
    order = np.argsort(magnitude)
    picks = [int(order[int(q * (half - 1))]) for q in (0.0, 0.4, 0.8, 1.0)]
    fig = new_figure(11.5, 6.0)
    axes = fig.subplots(2, len(picks))
    image = None
    for column, k in enumerate(picks):
        for row, (channel, kind) in enumerate(((k, "sin"), (k + half, "cos"))):
            ax = axes[row, column]
            image = ax.imshow(grid[:, :, channel], cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
            title = f"channel {channel} = {kind} A[{k}]"
            if row == 0:
                title += f"\nf = ({2 * G[0, k]:+.2f}, {2 * G[1, k]:+.2f}), |f| = {magnitude[k]:.2f}"
            ax.set_title(title, fontsize=9.5)
            ax.set_xticks([0, 31, 63])
            ax.set_yticks([0, 31, 63])
        axes[1, column].set_xlabel("grid column j", fontsize=9)
    axes[0, 0].set_ylabel("grid row i")
    axes[1, 0].set_ylabel("grid row i")
    fig.colorbar(image, ax=axes, shrink=0.8, label="value of the channel")
    fig.suptitle(
        "prompt_dense_positional_embeddings[0, c] for the slowest, two middle and the fastest column of G\n"
        "top: sines (channels 0-127); bottom: the matching cosines (channels 128-255); "
        "f = 2·G[:, k] in cycles per image (x, y)",
        fontsize=11,
    )
    return fig


# -- 3. how the encoder localises a click --------------------------------------------------------------


def figure_point_similarity(ctx):
    trace = ctx["trace"]
    grid = np.asarray(trace["dense_pe.grid"])  # (h, w, C)
    h, w, channels = grid.shape
    H, W = EXAMPLE_CONFIG["input_image_size"]
    click = np.asarray(trace["points.positional_encoding"])[0, 0]
    corners = np.asarray(trace["boxes.positional_encoding"])[0, 0]  # (2, C)
    norm = channels / 2.0  # |PE|² = C/2: sin² + cos² = 1 per frequency
    similarity = grid @ click / norm
    corner_similarity = np.maximum(grid @ corners[0], grid @ corners[1]) / norm
    x, y = np.asarray(EXAMPLE_POINT) + 0.5
    # the click in grid-cell coordinates: cell j covers u in [j/w, (j+1)/w), centre at j + 0.5
    cj, ci = x / W * w - 0.5, y / H * h - 0.5
    box = np.asarray(EXAMPLE_BOX) + 0.5
    fig = new_figure(13.0, 4.9)
    a, b, c = fig.subplots(1, 3, width_ratios=[1.0, 1.0, 1.3])
    image = a.imshow(similarity, cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
    a.plot(cj, ci, marker="+", color="black", markersize=14, mew=1.5)
    a.set_title("PE(click) · PE(cell) / 128\nclick (500, 375) px, marked +", fontsize=10)
    a.set_xlabel("grid column j")
    a.set_ylabel("grid row i")
    b.imshow(corner_similarity, cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
    for cx, cy in ((box[0], box[1]), (box[2], box[3])):
        b.plot(cx / W * w - 0.5, cy / H * h - 0.5, marker="+", color="black", markersize=14, mew=1.5)
    b.set_title("the box's two corners (max of both)\nbox (100, 100, 700, 600) px", fontsize=10)
    b.set_xlabel("grid column j")
    fig.colorbar(image, ax=[a, b], orientation="horizontal", shrink=0.6, aspect=35, label="cosine similarity")

    row = int(round(ci))
    offset = ((np.arange(w) + 0.5) / w) - x / W  # Δu along x, in units of the image width
    c.plot(np.arange(w), similarity[row], "o-", color="#c44e52", ms=3, label=f"grid row {row}, through the click")
    dense_offsets = np.linspace(offset[0], offset[-1], 400)
    c.plot(
        dense_offsets * w + cj,
        np.exp(-8.0 * math.pi**2 * dense_offsets**2),
        color="black",
        lw=1.2,
        label="expected: exp(−8π²Δu²)",
    )
    c.axhline(0, color="grey", lw=0.5)
    c.axvline(cj, color="grey", lw=0.5, ls=":")
    c.set_xlabel("grid column j")
    c.set_ylabel("similarity along the row")
    c.set_ylim(-0.35, 1.3)
    c.set_title(
        f"a Gaussian bump: σ = 1/(4π) = {1 / (4 * math.pi):.3f} of the width\n"
        f"= {W / (4 * math.pi):.0f} px = {w / (4 * math.pi):.1f} cells",
        fontsize=10,
    )
    c.legend(loc="upper center", fontsize=8, ncols=1, frameon=False)
    return fig


# -- 4. the mask downscaler ----------------------------------------------------------------------------


def _montage(channels, columns):
    """Channels (n, y, x) tiled in a grid with one blank pixel between them; each scaled to [-1, 1]."""
    n, height, width = channels.shape
    rows = -(-n // columns)
    tiled = np.full((rows * (height + 1) - 1, columns * (width + 1) - 1), np.nan)
    for index in range(n):
        r, c = divmod(index, columns)
        channel = channels[index]
        scale = float(np.max(np.abs(channel))) or 1.0
        tiled[r * (height + 1) : r * (height + 1) + height, c * (width + 1) : c * (width + 1) + width] = channel / scale
    return tiled


def figure_mask_downscaling(ctx):
    import matplotlib

    trace = ctx["trace"]
    dense = np.asarray(trace["prompt_dense_embeddings"])[0]  # (C, h, w)
    stages = [  # name, channels first (n, y, x), what, montage columns, channels shown
        ("mask.input", np.asarray(trace["mask.input"]), "mask logits, the input", 1, None),
        ("mask.act1", np.moveaxis(np.asarray(trace["mask.act1"])[0], -1, 0), "conv 2×2/s2, LayerNorm, GELU", 2, None),
        ("mask.act2", np.moveaxis(np.asarray(trace["mask.act2"])[0], -1, 0), "conv 2×2/s2, LayerNorm, GELU", 4, None),
        ("prompt_dense_embeddings", dense[:16], "conv 1×1: the dense output", 4, dense.shape[0]),
    ]
    cmap = matplotlib.colormaps["RdBu_r"].with_extremes(bad="white")
    fig = new_figure(12.0, 6.8)
    axes = fig.subplots(2, len(stages))
    # the zoom: a window on the ellipse's upper-left edge, in units of the image (0..1)
    zoom = (0.12, 0.34)
    image = None
    for column, (name, channels, what, across, total) in enumerate(stages):
        n, height, width = channels.shape
        shown = f"{total} channels, first 16 shown" if total else f"{n} channel{'s' if n > 1 else ''}"
        top = axes[0, column]
        image = top.imshow(_montage(channels, across), cmap=cmap, vmin=-1, vmax=1, interpolation="nearest")
        top.set_title(f"{name}\n{what}\n{height}×{width}, {shown}", fontsize=10)
        top.set_xticks([])
        top.set_yticks([])
        bottom = axes[1, column]
        first = channels[0] / (float(np.max(np.abs(channels[0]))) or 1.0)
        bottom.imshow(first, cmap=cmap, vmin=-1, vmax=1, interpolation="nearest", extent=(0, 1, 1, 0))
        bottom.set_xlim(*zoom)
        bottom.set_ylim(zoom[1], zoom[0])
        cells = round((zoom[1] - zoom[0]) * width)
        bottom.set_title(
            f"channel 0, zoom on the edge:\n{cells}×{cells} {'pixels' if column == 0 else 'cells'}", fontsize=10
        )
        bottom.set_xticks(zoom)
        bottom.set_yticks(zoom)
    axes[1, 0].set_ylabel("y / H")
    for ax in axes[1]:
        ax.set_xlabel("x / W")
    bar = fig.colorbar(image, ax=axes, shrink=0.6, pad=0.02)
    bar.set_label("value / max |value| of its channel")
    fig.suptitle(
        "The mask downscaler on the ellipse of `samspec explain --demo-mask` (logits ±8): every step halves "
        "the resolution and multiplies the channels;\neach output cell is a function of one 4×4 patch of "
        "the mask, so only cells on the edge differ from the inside and outside vectors",
        fontsize=11,
    )
    return fig


# -- 5. a failing port's error, side by side -----------------------------------------------------------
