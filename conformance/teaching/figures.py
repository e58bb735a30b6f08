"""`samspec figures`: the teaching figures of docs/guide.md, drawn from the reference itself.

    samspec figures --out docs/img                  every figure, as PNG
    samspec figures --out /tmp/img --only point_similarity
    samspec figures --out /tmp/img --report report.json     report.png: the heat map of a check's report

``--out`` is required: samspec never writes into the current folder unless told to.

Each figure is computed from the float64 reference (``init_params(seed=0)``, the configuration and
the worked example of ``samspec explain --points 500,375 --labels 1 --box 100,100,700,600
--demo-mask``) or from the shipped fixtures, so the pictures always show what the code does.
matplotlib is an optional dependency (``pip install 'samspec[figures]'``), imported only by ``run``.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
from pathlib import Path

import numpy as np

from samspec.reference import OUTPUT_KEYS, SAMPromptEncoder, init_params

from . import explain

MISSING_MATPLOTLIB = "matplotlib is not installed: pip install 'samspec[figures]'"

# The worked example of docs/guide.md: the reference's default configuration and this prompt.
EXAMPLE_CONFIG = dict(
    hidden_size=256,
    image_embedding_size=(64, 64),
    input_image_size=(1024, 1024),
    mask_in_channels=16,
    activation="gelu",
)
EXAMPLE_POINT = (500.0, 375.0)  # a foreground click, label 1
EXAMPLE_BOX = (100.0, 100.0, 700.0, 600.0)
EXAMPLE_PROMPT = argparse.Namespace(  # as `samspec explain` parses its command line
    points=[",".join(f"{v:g}" for v in EXAMPLE_POINT)],
    labels=[1],
    box=",".join(f"{v:g}" for v in EXAMPLE_BOX),
    mask=None,
    demo_mask=True,
)

# What each figure shows, in one line (docs/guide.md gives the full captions).
CAPTIONS = {
    "gaussian_frequencies": "the 128 columns of G as spatial frequencies: random directions, 0.3 to 7 cycles "
    "per image, far below the 64x64 grid's limit of 32",
    "dense_pe_channels": "channels of the dense positional grid: each a plane wave across the grid; "
    "channel k + 128 is channel k's cosine",
    "point_similarity": "similarity of the click's encoding to every grid cell: one Gaussian bump at the "
    "click, width 1/(4 pi) of the image",
    "mask_downscaling": "the mask downscaler: 256x256 x 1 channel -> 128x128 x 4 -> 64x64 x 16 -> 64x64 x 256; "
    "each output cell sees one 4x4 patch of the mask",
    "failing_port": "two broken ports on a fixture case: expected | port | |error| / budget, titled with "
    "samspec check's verdict row",
    "check_ratios": "samspec check as a heat map: error / budget of every case and output for a faithful "
    "port and two broken ones",
}
FIGURES = tuple(CAPTIONS)
SHORT = {
    "prompt_sparse_embeddings": "sparse",
    "prompt_dense_embeddings": "dense",
    "prompt_dense_positional_embeddings": "dense_pe",
}


# -- the data behind the figures ---------------------------------------------------------------------


def example_trace():
    """The worked example's float64 trace, exactly as `samspec explain` computes it."""
    params = init_params(EXAMPLE_CONFIG["hidden_size"], EXAMPLE_CONFIG["mask_in_channels"], seed=0)
    encoder = SAMPromptEncoder(**EXAMPLE_CONFIG, params=params, dtype="float64", profile="sam")
    prompt = explain.build_prompt(EXAMPLE_PROMPT, EXAMPLE_CONFIG)
    return params, prompt, encoder.trace(**prompt)


class BrokenReference:
    """A deliberately broken port: the reference in float32 with one stage or setting changed."""

    profile = "sam"

    def __init__(self, name, stages=None, **config):
        self.name, self.stages, self.overrides = name, stages, config

    def build(self, config, params):
        self.encoder = SAMPromptEncoder(
            **dict(config, **self.overrides), params=params, dtype="float32", stages=self.stages
        )

    def run(self, points, labels, boxes, masks):
        outputs = self.encoder(points=points, labels=labels, boxes=boxes, masks=masks)
        return {key: np.asarray(value) for key, value in outputs.items()}


def demo_ports():
    """(label, adapter): a faithful float32 port and two known bugs (docs/tolerances.md)."""
    return [
        ("reference-f32 (faithful)", BrokenReference("reference-f32")),
        ("no +0.5 shift (spec 3.1)", BrokenReference("no-shift", stages={"shift_to_pixel_centres": lambda c, xp: c})),
        ("tanh GELU (spec 9.3)", BrokenReference("tanh-gelu", activation="gelu_tanh")),
    ]


def verdict_lines(result) -> str:
    """The header and the row that `samspec check` prints for this result."""
    from ..reports.document import table

    buffer = io.StringIO()
    table([result], out=buffer)
    lines = buffer.getvalue().splitlines()
    return f"{lines[0]}\n{lines[2]}"


# -- drawing helpers -----------------------------------------------------------------------------------


def _new_figure(width, height):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _log_ratio_norm():
    from matplotlib.colors import TwoSlopeNorm

    return TwoSlopeNorm(vmin=-3.0, vcenter=0.0, vmax=3.0)


def _log_ratio(ratio):
    with np.errstate(divide="ignore"):
        return np.clip(np.log10(np.maximum(np.asarray(ratio, dtype=np.float64), 0.0)), -3.0, 3.0)


def _ratio_colorbar(fig, mappable, ax, **kwargs):
    bar = fig.colorbar(mappable, ax=ax, **kwargs)
    bar.set_ticks([-3, -2, -1, 0, 1, 2, 3])
    bar.set_ticklabels(["≤0.001", "0.01", "0.1", "1", "10", "100", "≥1000"])
    bar.set_label("|error| / budget   (fail > 1)")
    return bar


# -- 1. the Gaussian matrix ----------------------------------------------------------------------------


def figure_gaussian_frequencies(ctx):
    G = ctx["params"]["pe_layer.positional_encoding_gaussian_matrix"]
    # A = 2π (2u − 1)·g: across the image (u from 0 to 1) the phase turns by 2π·2g, i.e. 2g cycles.
    fx, fy = 2.0 * G[0], 2.0 * G[1]
    magnitude = np.hypot(fx, fy)
    h, w = EXAMPLE_CONFIG["image_embedding_size"]
    fig = _new_figure(11.0, 4.4)
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
    fig = _new_figure(11.5, 6.0)
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
    fig = _new_figure(13.0, 4.9)
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
    fig = _new_figure(12.0, 6.8)
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


def _failing_panels(fig, subfig, port, key, expected, got, result, token_labels=None, heading=None):
    budget = result.budget
    error = np.abs(got.astype(np.float64) - expected)
    if key == "prompt_sparse_embeddings":  # (B, N', C) -> rows = tokens
        shown = [a.reshape(-1, a.shape[-1]) for a in (expected, got, error)]
        where = "every token (rows) × channel (columns)"
    else:  # (B, C, h, w): the channel holding the worst element
        b, c = result.worst_index[0], result.worst_index[1]
        shown = [a[b, c] for a in (expected, got, error)]
        where = f"image {b}, channel {c} (the worst), {expected.shape[2]}×{expected.shape[3]} cells"
    axes = subfig.subplots(1, 3)
    limit = float(np.max(np.abs(shown[0]))) or 1.0
    aspect = "auto" if key == "prompt_sparse_embeddings" else "equal"
    for ax, data, title in zip(axes[:2], shown[:2], ("expected (float64 reference)", f"port ({result.dtype})")):
        im = ax.imshow(data, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect=aspect, interpolation="nearest")
        ax.set_title(f"{title}\n{where}", fontsize=9)
    subfig.colorbar(im, ax=axes[:2], shrink=0.9, label=SHORT[key] + " value")
    ratio = axes[2].imshow(
        _log_ratio(shown[2] / budget), cmap="RdBu_r", norm=_log_ratio_norm(), aspect=aspect, interpolation="nearest"
    )
    axes[2].set_title(f"|error| / budget   (budget {budget:.2e})\nmax {result.ratio:.3g}: {result.verdict}", fontsize=9)
    _ratio_colorbar(subfig, ratio, axes[2], shrink=0.9)
    if token_labels is not None:
        for ax in axes:
            ax.set_yticks(range(len(token_labels)))
            ax.set_yticklabels(token_labels if ax is axes[0] else [], fontsize=7.5)
            ax.set_xlabel("channel", fontsize=9)
    else:
        for ax in axes:
            ax.set_xticks(range(0, shown[0].shape[1], 5))
            ax.set_yticks(range(0, shown[0].shape[0], 5))
            ax.set_xlabel("grid column j", fontsize=9)
        axes[0].set_ylabel("grid row i", fontsize=9)
    if heading is None:
        heading = f"port: {port}; samspec check prints:\n{verdict_lines(result)}"
    if heading:
        subfig.suptitle(heading, family="monospace", fontsize=8, ha="left", x=0.01)


def heatmap_png(got, expected, budget, title: str = "", dpi: int = 80) -> bytes:
    """One failing output as a PNG in memory, for `samspec check --html`: expected | port |
    |error| / budget, drawn as in failing_port.png. ``got`` and ``expected`` are in the `sam` layout
    (sparse (B, N', C): every token x channel; dense (B, C, h, w): the channel holding the worst
    element). ImportError without matplotlib (``pip install 'samspec[figures]'``)."""
    import matplotlib  # noqa: F401  (ImportError names the missing extra to the caller)

    got = np.asarray(got)
    expected = np.asarray(expected, dtype=np.float64)
    if got.shape != expected.shape or got.ndim not in (3, 4) or not budget:
        raise ValueError(
            f"heatmap_png: expected two arrays of one (B, N, C) or (B, C, h, w) shape and a budget > 0; "
            f"received {got.shape}, {expected.shape}, budget {budget!r}"
        )
    error = np.abs(got.astype(np.float64) - expected)
    worst = tuple(
        int(i) for i in np.unravel_index(int(np.argmax(np.where(np.isfinite(error), error, np.inf))), error.shape)
    )
    result = argparse.Namespace(
        budget=float(budget),
        worst_index=list(worst),
        dtype=str(got.dtype),
        ratio=float(error[worst] / budget),
        verdict="fail" if error[worst] > budget else "pass",
    )
    key = "prompt_sparse_embeddings" if got.ndim == 3 else "prompt_dense_embeddings"
    fig = _new_figure(11.0, 3.6 if got.ndim == 4 else 3.0)
    tokens = None if got.ndim == 4 else [f"img {b} token {n}" for b in range(got.shape[0]) for n in range(got.shape[1])]
    _failing_panels(fig, fig, None, key, expected, got, result, token_labels=tokens, heading=title)
    buffer = io.BytesIO()
    _save(fig, buffer, dpi)
    return buffer.getvalue()


def figure_failing_port(ctx):
    from ..harness.check import Checker
    from ..profiles.profile import get_profile

    rows = [
        (demo_ports()[1], "seed.points", "prompt_sparse_embeddings"),
        (demo_ports()[2], "masks.binary", "prompt_dense_embeddings"),
    ]
    cases = {c.id: c for c in ctx["cases"]}
    fig = _new_figure(13.0, 8.0)
    subfigs = fig.subfigures(len(rows), 1, hspace=0.04)
    for subfig, ((label, adapter), case_id, key) in zip(subfigs, rows):
        if case_id not in cases:
            raise ValueError(f"failing_port: the fixtures have no case {case_id!r} (pass --fixtures or --only)")
        case = cases[case_id]
        checker = Checker(adapter, get_profile("sam"))
        result = next(r for r in checker.run_case(case) if r.output == key)
        got = np.asarray(adapter.run(**get_profile("sam").to_port(case.inputs, case.config))[key])
        expected = np.asarray(case.expected[key], dtype=np.float64)
        token_labels = None
        if key == "prompt_sparse_embeddings":
            names = {
                -1: "label -1, not a point",
                0: "label 0, background",
                1: "label 1, foreground",
                2: "label 2",
                3: "label 3",
            }
            labels = np.asarray(case.stages["points.labels"])
            given = case.inputs["labels"].shape[1]
            token_labels = [
                f"img {b} token {n}: " + (names[int(labels[b, n])] if n < given else "padding point")
                for b in range(labels.shape[0])
                for n in range(labels.shape[1])
            ]
        _failing_panels(fig, subfig, label, key, expected, got, result, token_labels)
    return fig


# -- 6. a whole check as a heat map --------------------------------------------------------------------


def _ratio_panel(fig, ax, results, title, case_ids, show_cases):
    outputs = list(OUTPUT_KEYS)
    values = np.full((len(case_ids), len(outputs)), np.nan)
    notes = [["" for _ in outputs] for _ in case_ids]
    index = {case: i for i, case in enumerate(case_ids)}
    for r in results:
        i, j = index.get(r["case"]), outputs.index(r["output"]) if r["output"] in outputs else None
        if i is None or j is None:
            continue
        if r["ratio"] is not None:
            values[i, j] = _log_ratio(r["ratio"])
            notes[i][j] = f"{r['ratio']:.2g}" if r["ratio"] >= 0.01 else ("0" if r["ratio"] == 0 else "<.01")
        elif r["verdict"] == "pass":
            values[i, j], notes[i][j] = -3.0, "0"
        else:
            notes[i][j] = r["verdict"]
        if r["verdict"] in ("xfail", "xpass"):
            notes[i][j] += f" {r['verdict']}"
    import matplotlib

    cmap = matplotlib.colormaps["RdBu_r"].with_extremes(bad="#bbbbbb")
    image = ax.imshow(
        np.ma.masked_invalid(values), cmap=cmap, norm=_log_ratio_norm(), aspect="auto", interpolation="nearest"
    )
    for i, row in enumerate(notes):
        for j, text in enumerate(row):
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                fontsize=7,
                color="white" if np.isfinite(values[i, j]) and abs(values[i, j]) > 1.8 else "black",
            )
    ax.set_xticks(range(len(outputs)))
    ax.set_xticklabels([SHORT[o] for o in outputs], fontsize=9)
    ax.xaxis.tick_top()
    ax.set_yticks(range(len(case_ids)))
    ax.set_yticklabels(case_ids if show_cases else [], fontsize=8)
    failed = sum(r["verdict"] in ("fail", "error") for r in results)
    ax.set_title(f"{title}\n{failed} of {len(results)} outputs fail", fontsize=10)
    return image


def figure_check_ratios(ctx, reports=None):
    """``reports``: [(title, results as dicts)]; by default the demo ports, checked here."""
    from ..harness.check import Checker, result_dicts
    from ..profiles.profile import get_profile

    if reports is None:
        reports = []
        for label, adapter in demo_ports():
            results = Checker(adapter, get_profile("sam")).run(ctx["cases"])
            reports.append((label, result_dicts(results)))
    case_ids = list(dict.fromkeys(r["case"] for _, results in reports for r in results))
    fig = _new_figure(max(3.2 + 2.3 * len(reports), 6.0), 0.2 * len(case_ids) + 2.4)  # 53 cases: 1300 px
    axes = np.atleast_1d(fig.subplots(1, len(reports)))
    image = None
    for column, (ax, (title, results)) in enumerate(zip(axes, reports)):
        image = _ratio_panel(fig, ax, results, title, case_ids, show_cases=column == 0)
    _ratio_colorbar(fig, image, list(axes), shrink=0.6, label="error / budget (fail > 1)")
    fig.suptitle(
        "samspec check: error / budget per case and output\n(grey: no ratio, e.g. an adapter error)", fontsize=11
    )
    return fig


def read_report(path) -> dict:
    """The JSON document written by `samspec check --report`; ValueError if it is not one."""
    with open(path, encoding="utf-8") as handle:
        try:
            document = json.load(handle)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"--report {path}: not JSON ({exc}); expected the file of `samspec check --report`"
            ) from None
    if not isinstance(document, dict) or not isinstance(document.get("results"), list):
        raise ValueError(f"--report {path}: no 'results' list; expected the file of `samspec check --report`")
    return document


def figure_report(document):
    """report.png: one panel for a `samspec check --report` document."""
    summary = ", ".join(f"{v} {k}" for k, v in document.get("summary", {}).items())
    title = f"{document.get('port', '?')} (profile {document.get('profile', '?')})\n{summary}"
    return figure_check_ratios(None, reports=[(title, document["results"])])


# -- the command -----------------------------------------------------------------------------------


BUILDERS = {
    "gaussian_frequencies": figure_gaussian_frequencies,
    "dense_pe_channels": figure_dense_pe_channels,
    "point_similarity": figure_point_similarity,
    "mask_downscaling": figure_mask_downscaling,
    "failing_port": figure_failing_port,
    "check_ratios": figure_check_ratios,
}
NEEDS_FIXTURES = {"failing_port", "check_ratios"}


def add_arguments(parser) -> None:
    parser.add_argument(
        "--out",
        metavar="DIR",
        required=True,
        help="folder for the PNGs (required: nothing is written into the current folder "
        "unless you say so; the docs' figures are `--out docs/img`)",
    )
    parser.add_argument(
        "--only", nargs="+", choices=FIGURES, metavar="NAME", help=f"draw only these figures (of {', '.join(FIGURES)})"
    )
    parser.add_argument("--fixtures", metavar="DIR", help="a fixture folder (default: the shipped one)")
    parser.add_argument(
        "--report",
        metavar="FILE.json",
        help="draw report.png, the error/budget heat map of a `samspec check --report` file "
        "(alone, unless --only names figures too)",
    )
    parser.add_argument("--dpi", type=int, default=100, help="resolution of the PNGs (default 100)")


def _save(fig, path, dpi):
    """Write a PNG (to a path or a binary file object) of at most 256 colours: a fraction of the
    size, the same picture (Pillow comes with matplotlib); no software or date stamp, so the same
    figure gives the same file."""
    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    buffer.seek(0)
    with Image.open(buffer) as image:
        image.convert("RGB").quantize(colors=256, dither=Image.Dither.NONE).save(path, format="PNG", optimize=True)


def run(args) -> int:
    try:
        import matplotlib
    except ImportError:
        print(f"samspec figures: error: {MISSING_MATPLOTLIB}", file=sys.stderr)
        return 2
    from ..cases.store import FixtureError, load_cases

    # --report alone draws report.png alone; --only adds the named figures to it
    names = list(args.only or ([] if args.report else FIGURES))
    out = Path(args.out)
    try:
        report = read_report(args.report) if args.report else None
        out.mkdir(parents=True, exist_ok=True)
        ctx = {"cases": load_cases(args.fixtures, strict=True) if NEEDS_FIXTURES & set(names) else None}
        if names:
            ctx["params"], ctx["prompt"], ctx["trace"] = example_trace()
        with matplotlib.rc_context({"font.size": 10, "image.interpolation": "nearest"}):
            for name in names:
                path = out / f"{name}.png"
                _save(BUILDERS[name](ctx), path, args.dpi)
                print(f"wrote {path} ({path.stat().st_size // 1024} KiB): {CAPTIONS[name]}")
            if report is not None:
                path = out / "report.png"
                _save(figure_report(report), path, args.dpi)
                print(f"wrote {path} ({path.stat().st_size // 1024} KiB): error / budget of {args.report}")
    except (FixtureError, OSError, ValueError) as exc:
        print(f"samspec figures: error: {exc}", file=sys.stderr)
        return 2
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="samspec figures", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
