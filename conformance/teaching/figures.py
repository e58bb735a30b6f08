"""`samspec figures`: the teaching figures of docs/guide.md, drawn from the reference itself.

    samspec figures --out docs/img                  every figure, as PNG
    samspec figures --out /tmp/img --only point_similarity
    samspec figures --out /tmp/img --report report.json     report.png: the heat map of a check's report

``--out`` is required: samspec never writes into the current folder unless told to.

Each figure is computed from the float64 reference (``init_params(seed=0)``, the configuration and
the worked example of ``samspec explain --points 500,375 --labels 1 --box 100,100,700,600
--demo-mask``) or from the shipped fixtures, so the pictures always show what the code does.
matplotlib is an optional dependency (samspec's ``figures`` extra), imported only by ``run``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..reports.install_hint import missing_package_hint
from .check_figures import figure_check_ratios, figure_failing_port, figure_report, heatmap_png, read_report
from .drawing import save_png
from .example import demo_ports, example_trace
from .reference_figures import (
    figure_dense_pe_channels,
    figure_gaussian_frequencies,
    figure_mask_downscaling,
    figure_point_similarity,
)

__all__ = ["CAPTIONS", "FIGURES", "add_arguments", "demo_ports", "heatmap_png", "main", "run"]

MISSING_MATPLOTLIB = missing_package_hint("matplotlib", "figures")

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
                save_png(BUILDERS[name](ctx), path, args.dpi)
                print(f"wrote {path} ({path.stat().st_size // 1024} KiB): {CAPTIONS[name]}")
            if report is not None:
                path = out / "report.png"
                save_png(figure_report(report), path, args.dpi)
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
