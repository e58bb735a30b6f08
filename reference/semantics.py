"""Spec §12.1: the reference's *semantics*, the conventions in which it takes prompts and returns outputs.

One word for one thing: a *semantics* is the reference's (``SEMANTICS``: `sam`, `sam2`, `hf`,
`hf_sam2`, `ort_sam2`, `keras_hub`); a *profile* is the conformance suite's description of a port
(``samspec.conformance.profiles``), which names the semantics its outputs must reproduce. The
encoder's ``profile=`` argument and the old names ``PROFILES``, ``Conventions`` and
``get_conventions`` remain as aliases.

The mathematics of every stage is the same under every semantics. A semantics only fixes
(a) the layout of inputs and outputs, (b) whether a padding point is appended (§5.1),
(c) the label rule: what each allowed label value adds to a point's positional encoding (§5.2),
and (d) whether each box gives a trailing not-a-point token after its two corners (§6.3).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

# Rows of the label-embedding table (§5.2). Row 0 is a zero vector: "no embedding".
LABEL_ROWS = ("none", "not_a_point", "background", "foreground", "top_left", "bottom_right")


@dataclass(frozen=True)
class LabelRule:
    """What a point of each allowed label becomes: keep * PE(p) + E[row].

    ``keep`` is 1 when the positional encoding is kept and 0 when it is discarded;
    ``row`` names a row of LABEL_ROWS.
    """

    entries: dict = field(default_factory=dict)  # label value -> (keep, row)

    @property
    def allowed(self) -> tuple:
        return tuple(sorted(self.entries))

    def describe(self) -> str:
        return ", ".join(
            f"{label}: {'PE + ' if keep else ''}{row}" for label, (keep, row) in sorted(self.entries.items())
        )


SAM_LABELS = LabelRule(
    {
        -1: (0, "not_a_point"),  # padding / "not a point": the PE is discarded
        0: (1, "background"),
        1: (1, "foreground"),
        2: (1, "none"),  # box-corner labels of the ONNX prompt layout: PromptEncoder adds nothing
        3: (1, "none"),
    }
)

KERAS_HUB_LABELS = LabelRule(
    {
        -1: (0, "not_a_point"),
        0: (1, "background"),
        1: (1, "foreground"),
        2: (1, "foreground"),  # keras-hub: where(labels == 0, background, foreground)
        3: (1, "foreground"),
    }
)


SAM2_LABELS = LabelRule(
    {
        **SAM_LABELS.entries,
        2: (1, "top_left"),  # Meta sam2 1.1.0, ultralytics: labels 2 and 3 add the corner embeddings
        3: (1, "bottom_right"),
    }
)

HF_LABELS = LabelRule(
    {
        -10: (0, "none"),  # transformers SamPromptEncoder: an all-zero token (SamProcessor's padding label)
        **SAM_LABELS.entries,
    }
)

HF_SAM2_LABELS = LabelRule(
    {
        -10: (0, "none"),  # transformers Sam2PromptEncoder: an all-zero token (ragged point lists are padded with -10)
        **SAM2_LABELS.entries,  # labels >= 0 add point_embed(label): 2 and 3 are the corner embeddings
    }
)


@dataclass(frozen=True)
class Semantics:
    """One semantics of the reference (spec §12.1).

    - ``boxes_layout``: "xyxy" for (B, 4) boxes, one per image, or (B, M, 4), M per image (§6.1);
      "corners" for (B, M, 2, 2).
    - ``masks_layout``: "nchw" for (B, 1, 4h, 4w); "nmhwc" for (B, M, 4h, 4w, 1), flattened to B*M.
    - ``channels_last``: dense outputs as (B, h, w, C) instead of (B, C, h, w).
    - ``pad_points``: append a not-a-point when points are given without boxes (§5.1).
    - ``empty_prompt_batch``: batch size of the outputs when no prompt is given, or None if an
      empty prompt is an error under this profile.
    - ``box_trailing_not_a_point``: each box gives three tokens, its two corners then a
      not-a-point token (§6.3, transformers ``Sam2PromptEncoder``); False: two (§6.2).
    - ``empty_prompt_points``: a prompt with neither points nor boxes is zero points (B, 0, 2), which
      §5.1 pads, so its sparse output is the padding token alone (§7; onnxruntime's SAM 2 wrapper,
      whose points input is never absent); False: (B, 0, C).
    """

    name: str
    boxes_layout: str
    masks_layout: str
    channels_last: bool
    pad_points: bool
    labels: LabelRule
    empty_prompt_batch: int | None
    box_trailing_not_a_point: bool = False
    empty_prompt_points: bool = False


SAM = Semantics(
    name="sam",
    boxes_layout="xyxy",
    masks_layout="nchw",
    channels_last=False,
    pad_points=True,
    labels=SAM_LABELS,
    empty_prompt_batch=1,
)

SEMANTICS = {
    "sam": SAM,
    # the SAM v1 layouts and padding rule with other labels (and, for hf_sam2, §6.3's trailing token)
    "sam2": replace(SAM, name="sam2", labels=SAM2_LABELS),
    "hf": replace(SAM, name="hf", labels=HF_LABELS),
    "hf_sam2": replace(SAM, name="hf_sam2", labels=HF_SAM2_LABELS, box_trailing_not_a_point=True),
    # onnxruntime's SAM 2 export wrapper: sam2's labels; the padding point it appends to every prompt is
    # §6.3's trailing token after a box's corner points, and §5.1's token alone for an empty prompt
    "ort_sam2": replace(
        SAM, name="ort_sam2", labels=SAM2_LABELS, box_trailing_not_a_point=True, empty_prompt_points=True
    ),
    "keras_hub": Semantics(
        name="keras_hub",
        boxes_layout="corners",
        masks_layout="nmhwc",
        channels_last=True,
        pad_points=False,
        labels=KERAS_HUB_LABELS,
        empty_prompt_batch=None,
    ),
}


def get_semantics(profile: str) -> Semantics:
    """The semantics of that name (the encoder's ``profile=`` argument names one)."""
    if profile not in SEMANTICS:
        raise ValueError(f"profile: expected one of {sorted(SEMANTICS)}; received {profile!r}")
    return SEMANTICS[profile]


# the old names (docs and users import them)
Conventions = Semantics
PROFILES = SEMANTICS
get_conventions = get_semantics
