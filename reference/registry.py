"""The one registry of the encoder's stages and outputs: what each is, its section of docs/spec.md,
the part of the composition it belongs to and the outputs it feeds.

Three kinds of entry, each defined once here and read everywhere else (the encoder, its fast
compositions, the conformance suite's diagnosis, stage comparison, explain, figures and reports):

- ``OUTPUTS``: the three outputs of spec §11.2, with their short names (``sparse``, ``dense``,
  ``dense_pe``) and the sections that define them;
- ``PARTS``: the three parts of the composition (§3–§7, §8, §9–§10), each computing one output;
- ``STAGES``: the stage functions the encoder composes, each replaceable by name
  (``SAMPromptEncoder(stages={...})``), with the part or parts that call it;
- ``INTERMEDIATES``: the entries of ``SAMPromptEncoder.trace`` (spec §11.4), in computation order,
  each with the stage that computes it.

tests/reference/test_registry.py checks every section here against docs/spec.md's headings and
the stage functions' docstrings, and the intermediates against a real trace.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from .coordinates import normalise_coordinates, shift_to_pixel_centres
from .masks import downscale_mask, no_mask_embedding
from .positional_encoding import fourier_argument, grid_cell_centres, sinusoids
from .sparse import append_box_not_a_point, append_padding_point, assemble_sparse, embed_box_corners, embed_point_labels


class Output(NamedTuple):
    """One output of the encoder (spec §11.2)."""

    key: str  # the output's key in the encoder's result, reports and fixtures
    short: str  # its short name in tables, figures and test ids
    section: str  # the sections of docs/spec.md that define it
    meaning: str  # one line


OUTPUTS = (
    Output("prompt_sparse_embeddings", "sparse", "§7", "point tokens then box tokens"),
    Output("prompt_dense_embeddings", "dense", "§9, §10", "downscaled mask, or no_mask_embed everywhere"),
    Output("prompt_dense_positional_embeddings", "dense_pe", "§8.2", "dense positional grid"),
)
OUTPUT_KEYS = tuple(output.key for output in OUTPUTS)
SPARSE, DENSE, DENSE_PE = OUTPUT_KEYS
SHORT_NAMES = {output.key: output.short for output in OUTPUTS}  # output key -> short name


class Part(NamedTuple):
    """One part of the composition (``SAMPromptEncoder.compose``): it computes one output."""

    name: str  # the encoder's method (teaching form) and reference/fast/'s function (fast form)
    sections: str
    output: str  # the output key it computes


PARTS = (
    Part("sparse_tokens", "§3–§7", SPARSE),
    Part("positional_grid", "§8", DENSE_PE),
    Part("dense_embedding", "§9, §10", DENSE),
)
PART_NAMES = tuple(part.name for part in PARTS)


class Stage(NamedTuple):
    """One stage function of the composition, replaceable by its name."""

    function: Callable[..., Any]  # the definition; ``name`` is its __name__
    section: str  # the section of docs/spec.md it implements
    parts: tuple  # the parts (PART_NAMES) whose teaching composition calls it
    meaning: str  # one line

    @property
    def name(self) -> str:
        return self.function.__name__

    @property
    def outputs(self) -> frozenset:
        """The outputs this stage feeds: those of its parts."""
        return frozenset(part.output for part in PARTS if part.name in self.parts)


_SPARSE, _GRID, _DENSE = PART_NAMES

STAGES = (
    Stage(shift_to_pixel_centres, "§3.1", (_SPARSE,), "p + 0.5: pixel indices to pixel centres"),
    Stage(normalise_coordinates, "§3.2", (_SPARSE,), "u = (x / W, y / H): pixels to the unit square"),
    Stage(fourier_argument, "§4.1", (_SPARSE, _GRID), "A = 2*pi * (2u - 1) @ G"),
    Stage(sinusoids, "§4.2", (_SPARSE, _GRID), "[sin A, cos A]"),
    Stage(append_padding_point, "§5.1", (_SPARSE,), "a not-a-point after the points when no box is given"),
    Stage(embed_point_labels, "§5.2", (_SPARSE,), "keep[label] * PE + E[label]"),
    Stage(embed_box_corners, "§6.2", (_SPARSE,), "PE + top-left / bottom-right corner embedding"),
    Stage(append_box_not_a_point, "§6.3", (_SPARSE,), "a trailing not-a-point token after each box's corners"),
    Stage(assemble_sparse, "§7", (_SPARSE,), "point tokens, then box tokens"),
    Stage(grid_cell_centres, "§8.1", (_GRID,), "((j + 0.5) / w, (i + 0.5) / h)"),
    Stage(downscale_mask, "§9.5", (_DENSE,), "conv, LayerNorm, activation twice, then conv 1x1"),
    Stage(no_mask_embedding, "§10", (_DENSE,), "no_mask_embed at every cell"),
)
STAGE_BY_NAME = {stage.name: stage for stage in STAGES}


class Intermediate(NamedTuple):
    """One entry of ``SAMPromptEncoder.trace`` (spec §11.4) before the outputs."""

    name: str  # the trace key: "<input>.<step>"
    section: str
    stage: str  # the stage (STAGES) that computes it, or "" for an input as the composition receives it
    meaning: str  # one line


INTERMEDIATES = (
    Intermediate("points.shifted", "§3.1", "shift_to_pixel_centres", "points moved to pixel centres: p + 0.5"),
    Intermediate("points.labels", "§5.1", "append_padding_point", "labels after the padding rule (-1 = not a point)"),
    Intermediate("points.normalised", "§3.2", "normalise_coordinates", "u = (x / W, y / H)"),
    Intermediate("points.fourier_argument", "§4.1", "fourier_argument", "A = 2*pi * (2u - 1) @ G"),
    Intermediate("points.positional_encoding", "§4.2", "sinusoids", "[sin A, cos A]"),
    Intermediate("points.tokens", "§5.2", "embed_point_labels", "keep[label] * PE + E[label]"),
    Intermediate("boxes.shifted", "§6.1", "shift_to_pixel_centres", "box corners (top-left, bottom-right) + 0.5"),
    Intermediate("boxes.normalised", "§3.2", "normalise_coordinates", "u = (x / W, y / H)"),
    Intermediate("boxes.fourier_argument", "§4.1", "fourier_argument", "A = 2*pi * (2u - 1) @ G"),
    Intermediate("boxes.positional_encoding", "§4.2", "sinusoids", "[sin A, cos A]"),
    Intermediate("boxes.tokens", "§6.2", "embed_box_corners", "PE + top-left / bottom-right corner embedding"),
    Intermediate("dense_pe.cell_centres", "§8.1", "grid_cell_centres", "((j + 0.5) / w, (i + 0.5) / h)"),
    Intermediate(
        "dense_pe.fourier_argument", "§4.1", "fourier_argument", "A = 2*pi * (2u - 1) @ G at every cell centre"
    ),
    Intermediate("dense_pe.grid", "§8.2", "sinusoids", "[sin A, cos A] at every cell centre"),
    Intermediate("mask.input", "§9.5", "", "mask logits at 4x the embedding size"),
    Intermediate("mask.conv1", "§9.1", "downscale_mask", "conv 2x2 stride 2, 1 -> Cm/4 channels"),
    Intermediate("mask.norm1", "§9.2", "downscale_mask", "LayerNorm over channels, eps 1e-6"),
    Intermediate("mask.act1", "§9.3", "downscale_mask", "activation"),
    Intermediate("mask.conv2", "§9.1", "downscale_mask", "conv 2x2 stride 2, Cm/4 -> Cm channels"),
    Intermediate("mask.norm2", "§9.2", "downscale_mask", "LayerNorm over channels, eps 1e-6"),
    Intermediate("mask.act2", "§9.3", "downscale_mask", "activation"),
    Intermediate("mask.conv3", "§9.4", "downscale_mask", "conv 1x1, Cm -> C channels"),
)


def trace_sections() -> dict:
    """Every trace entry (intermediates, then outputs) -> (its section, one line of meaning)."""
    entries = {entry.name: (entry.section, entry.meaning) for entry in INTERMEDIATES}
    entries.update({output.key: (output.section, f"OUTPUT {output.short}: {output.meaning}") for output in OUTPUTS})
    return entries


def section_of(name: str) -> str:
    """The section of a trace entry. Another name ending in a step that several inputs compute by one
    stage (``shifted``, ``normalised``, ``fourier_argument``, ``positional_encoding``) gets that
    stage's section; any other name "".
    """
    sections = trace_sections()
    if name in sections:
        return sections[name][0]
    step = name.split(".")[-1]
    stages = {entry.stage for entry in INTERMEDIATES if entry.name.split(".")[-1] == step}
    computed_by = [entry for entry in INTERMEDIATES if entry.name.split(".")[-1] == step]
    if len(computed_by) > 1 and len(stages) == 1:
        return STAGE_BY_NAME[stages.pop()].section
    return ""
