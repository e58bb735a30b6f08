"""The reference's sparse tokens of one case, in the order the assembly (spec §7) puts them: for each
token what it is (label value, padding token, box corner, trailing not-a-point), whether it keeps its
positional encoding (§5.2), and that encoding and its Fourier argument (§4.1) from the reference's trace.
The localisation reads differing tokens through it, and the phase of the features (``phase``) their
arguments; ``which_row`` names the parameter row a token (or a token minus its encoding) equals."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

ROWS = (  # parameter rows a token may consist of, with the words a port author knows them by
    ("point_embeddings.0.weight", "point_embeddings.0 (the background row)"),
    ("point_embeddings.1.weight", "point_embeddings.1 (the foreground row)"),
    ("point_embeddings.2.weight", "point_embeddings.2 (the top-left corner row)"),
    ("point_embeddings.3.weight", "point_embeddings.3 (the bottom-right corner row)"),
    ("not_a_point_embed.weight", "not_a_point_embed"),
    ("no_mask_embed.weight", "no_mask_embed"),
)
ROW_OF_NAME = {  # LABEL_ROWS names of the reference's label rule -> parameter
    "not_a_point": "not_a_point_embed.weight",
    "background": "point_embeddings.0.weight",
    "foreground": "point_embeddings.1.weight",
    "top_left": "point_embeddings.2.weight",
    "bottom_right": "point_embeddings.3.weight",
}


class Token(NamedTuple):
    """One expected sparse token."""

    kind: str  # "label 1 tokens", "padding tokens", "box top-left corner tokens", ... (a group's name)
    keep: bool  # the token carries its positional encoding (§5.2)
    pe: np.ndarray | None  # the reference's positional encoding of the token (C,)
    argument: np.ndarray | None = None  # its Fourier argument A (C/2,), spec §4.1


def anonymous(count: int) -> list:
    """Tokens known by position only (the reference's assembly has another length)."""
    return [Token(f"token {n}", True, None) for n in range(count)]


def reference_tokens(trace, conventions, inputs, batch: int) -> list:
    """Per batch entry, the list of its expected tokens (``Token``), from the float64 reference's
    ``trace`` of the case, the ``conventions`` it is judged under and the case's ``inputs``."""
    labels = trace.get("points.labels")
    corners = trace.get("boxes.positional_encoding")
    pe, argument = trace.get("points.positional_encoding"), trace.get("points.fourier_argument")
    corner_arguments = trace.get("boxes.fourier_argument")
    padded = conventions.pad_points and inputs.get("points") is not None and inputs.get("boxes") is None
    per_box = 3 if getattr(conventions, "box_trailing_not_a_point", False) else 2
    rows = []
    for b in range(batch):
        tokens = []
        if labels is not None:
            labels = np.asarray(labels)
            count = labels.shape[1]
            for n in range(count):
                label = int(labels[b, n])
                kind = "padding tokens" if padded and n == count - 1 else f"label {label} tokens"
                keep = conventions.labels.entries.get(label, (1, None))[0]
                tokens.append(
                    Token(
                        kind,
                        bool(keep),
                        None if pe is None else pe[b, n],
                        None if argument is None else argument[b, n],
                    )
                )
        if corners is not None:
            for m in range(corners.shape[1]):
                for corner, kind in enumerate(("box top-left corner tokens", "box bottom-right corner tokens")):
                    found = None if corner_arguments is None else corner_arguments[b, m, corner]
                    tokens.append(Token(kind, True, corners[b, m, corner], found))
                if per_box == 3:
                    tokens.append(Token("box trailing not-a-point tokens", False, None))
        rows.append(tokens)
    return rows


def which_row(vector, ev, with_pe=None):
    """The name of the parameter row ``vector`` equals (or zeros), optionally on top of ``with_pe``."""
    base = vector if with_pe is None else vector - with_pe
    tol = max(ev.tol, 1e-12)
    if np.max(np.abs(base)) <= tol:
        return "zeros" if with_pe is None else "the positional encoding alone"
    for key, words in ROWS:
        row = ev.params.get(key)
        if row is not None and row.shape[-1] == base.shape[-1] and np.max(np.abs(base - row[0])) <= tol:
            return words if with_pe is None else f"the positional encoding + {words}"
    if with_pe is None:  # a stored row rounded to float16: the tokens are kept in float16 (§11.3)
        for key, words in ROWS:
            row = ev.params.get(key)
            if row is not None and row.shape[-1] == base.shape[-1]:
                if np.max(np.abs(base - row[0].astype(np.float16).astype(np.float64))) <= tol:
                    return f"{words} rounded to float16"
    return None
