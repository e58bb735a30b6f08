"""Figures 5-6 of docs/guide.md and the HTML report's heat maps, drawn from `samspec check`'s results:
a failing port's error side by side with the expected values, and a whole check as an error /
budget heat map (also of a `--report` file)."""

from __future__ import annotations

import argparse
import io
import json

import numpy as np

from samspec.reference import OUTPUT_KEYS
from samspec.reference import SHORT_NAMES as SHORT

from .drawing import log_ratio, log_ratio_norm, new_figure, ratio_colorbar, save_png
from .example import demo_ports, verdict_lines

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
        log_ratio(shown[2] / budget), cmap="RdBu_r", norm=log_ratio_norm(), aspect=aspect, interpolation="nearest"
    )
    axes[2].set_title(f"|error| / budget   (budget {budget:.2e})\nmax {result.ratio:.3g}: {result.verdict}", fontsize=9)
    ratio_colorbar(subfig, ratio, axes[2], shrink=0.9)
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
    element). ImportError without matplotlib (samspec's ``figures`` extra)."""
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
    fig = new_figure(11.0, 3.6 if got.ndim == 4 else 3.0)
    tokens = None if got.ndim == 4 else [f"img {b} token {n}" for b in range(got.shape[0]) for n in range(got.shape[1])]
    _failing_panels(fig, fig, None, key, expected, got, result, token_labels=tokens, heading=title)
    buffer = io.BytesIO()
    save_png(fig, buffer, dpi)
    return buffer.getvalue()


def figure_failing_port(ctx):
    from ..harness.check import Checker
    from ..profiles.profile import get_profile

    rows = [
        (demo_ports()[1], "seed.points", "prompt_sparse_embeddings"),
        (demo_ports()[2], "masks.binary", "prompt_dense_embeddings"),
    ]
    cases = {c.id: c for c in ctx["cases"]}
    fig = new_figure(13.0, 8.0)
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
            values[i, j] = log_ratio(r["ratio"])
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
        np.ma.masked_invalid(values), cmap=cmap, norm=log_ratio_norm(), aspect="auto", interpolation="nearest"
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
    rows = min(0.2 * len(case_ids), 10.8)  # inches for the case rows: 0.2 a case up to 54 cases, then shared
    fig = new_figure(max(3.2 + 2.3 * len(reports), 6.0), rows + 2.4)  # at most 1320 px high
    axes = np.atleast_1d(fig.subplots(1, len(reports)))
    image = None
    for column, (ax, (title, results)) in enumerate(zip(axes, reports)):
        image = _ratio_panel(fig, ax, results, title, case_ids, show_cases=column == 0)
    ratio_colorbar(fig, image, list(axes), shrink=0.6, label="error / budget (fail > 1)")
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
