"""The data behind the teaching figures: the worked example of docs/guide.md (the configuration,
the click and the box of `samspec explain`), its float64 trace, and the deliberately broken ports
the failing-port figures check."""

from __future__ import annotations

import argparse
import io

import numpy as np

from samspec.reference import SHORT_NAMES, SAMPromptEncoder, init_params

from . import explain

SHORT = SHORT_NAMES  # the short output names, from samspec.reference (old import path)

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
