"""Drawing helpers shared by the teaching figures: a figure, the error / budget colour scale (log10,
centred on 1), and PNGs written small and reproducible."""

from __future__ import annotations

import io

import numpy as np


def new_figure(width, height):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def log_ratio_norm():
    from matplotlib.colors import TwoSlopeNorm

    return TwoSlopeNorm(vmin=-3.0, vcenter=0.0, vmax=3.0)


def log_ratio(ratio):
    with np.errstate(divide="ignore"):
        return np.clip(np.log10(np.maximum(np.asarray(ratio, dtype=np.float64), 0.0)), -3.0, 3.0)


def ratio_colorbar(fig, mappable, ax, **kwargs):
    bar = fig.colorbar(mappable, ax=ax, **kwargs)
    bar.set_ticks([-3, -2, -1, 0, 1, 2, 3])
    bar.set_ticklabels(["≤0.001", "0.01", "0.1", "1", "10", "100", "≥1000"])
    bar.set_label("|error| / budget   (fail > 1)")
    return bar


def save_png(fig, path, dpi):
    """Write a PNG (to a path or a binary file object) of at most 256 colours: a fraction of the
    size, the same picture (Pillow comes with matplotlib); no software or date stamp, so the same
    figure gives the same file."""
    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    buffer.seek(0)
    with Image.open(buffer) as image:
        image.convert("RGB").quantize(colors=256, dither=Image.Dither.NONE).save(path, format="PNG", optimize=True)
