"""Spec §5–§7: point tokens, box-corner tokens and the sparse assembly.

``embed_point_labels``, ``embed_box_corners``, ``append_box_not_a_point`` and ``assemble_sparse``
are the stages as the spec states them. reference/fast/label_table.py computes §3.2–§7 for all
tokens at once from one lookup table.
"""

from __future__ import annotations

from .backend import Array, Namespace
from .semantics import LABEL_ROWS, LabelRule
from .validation import check_labels


def append_padding_point(coords, labels, xp):
    """Spec §5.1, the padding rule (applied only when points come without boxes).

        coords: (B, N, 2) -> (B, N+1, 2), the new point at (0, 0)
        labels: (B, N)    -> (B, N+1),    the new label -1 ("not a point")

    SAM's mask decoder was trained with a box's two corner tokens or with this extra token
    following the points; the token carries only not_a_point_embed (§5.2), never a position.
    """
    batch = coords.shape[0]
    pad_coords = xp.zeros((batch, 1, 2), dtype=coords.dtype)
    pad_labels = xp.full((batch, 1), -1, dtype=labels.dtype)
    return xp.concat([coords, pad_coords], axis=1), xp.concat([labels, pad_labels], axis=1)


def label_embedding_table(params, dtype, xp):
    """Spec §5.2, the table E whose rows are LABEL_ROWS: zeros, not-a-point, background,
    foreground, top-left corner, bottom-right corner.                       -> (6, C)
    """
    rows = {
        "not_a_point": params["not_a_point_embed.weight"],
        "background": params["point_embeddings.0.weight"],
        "foreground": params["point_embeddings.1.weight"],
        "top_left": params["point_embeddings.2.weight"],
        "bottom_right": params["point_embeddings.3.weight"],
    }
    zero = xp.zeros_like(rows["background"])
    return xp.concat([rows.get(name, zero) for name in LABEL_ROWS], axis=0)


def embed_point_labels(point_pe: Array, labels: Array, table: Array, rule: LabelRule, xp: Namespace) -> Array:
    """Spec §5.2, point tokens from positional encodings and labels, label by label.

        token[b, n] = keep[l] * PE[b, n] + E[row[l]]   where labels[b, n] == l, for each allowed l
        point_pe: (B, N, C), labels: (B, N) ints, E: (6, C) -> (B, N, C)

    ``rule`` maps each allowed label to (keep, row); under the `sam` profile label -1 keeps
    nothing and takes not_a_point_embed, 0 and 1 add the background and foreground embeddings,
    and 2 and 3 add nothing. One mask and one ``where`` per allowed label (the form of SAM v1's
    ``_embed_points``). A label outside the rule is a ValueError (§13), never a zero token.
    """
    check_labels(labels, rule.allowed, None, xp)
    tokens = xp.zeros_like(point_pe)
    for label, (keep, row) in sorted(rule.entries.items()):
        value = float(keep) * point_pe + table[LABEL_ROWS.index(row), :]
        tokens = xp.where((labels == label)[..., None], value, tokens)
    return tokens


def embed_box_corners(corner_pe, top_left, bottom_right, xp):
    """Spec §6.2, box tokens: each corner's PE plus its corner embedding.

    token[b, 2m]   = PE(top-left of box m)     + E_top_left
    token[b, 2m+1] = PE(bottom-right of box m) + E_bottom_right
    corner_pe: (B, M, 2, C), top_left / bottom_right: (1, C) -> (B, 2M, C)
    """
    corner_table = xp.concat([top_left, bottom_right], axis=0)  # (2, C)
    tokens = corner_pe + corner_table
    batch, boxes, _, channels = corner_pe.shape
    return xp.reshape(tokens, (batch, 2 * boxes, channels))


def append_box_not_a_point(box_tokens, not_a_point, xp):
    """Spec §6.3, the trailing not-a-point token of each box (profiles with ``box_trailing_not_a_point``).

        box_tokens: (B, 2M, C) as tl0, br0, tl1, br1, ...; not_a_point: (1, C)
        -> (B, 3M, C) as tl0, br0, nap0, tl1, br1, nap1, ...

    transformers' ``Sam2PromptEncoder._embed_boxes`` pads each box's two corners with a third
    point and overwrites its token with ``not_a_point_embed``: the token carries no position.
    """
    batch, tokens, channels = box_tokens.shape
    pairs = xp.reshape(box_tokens, (batch, tokens // 2, 2, channels))
    trailing = xp.broadcast_to(xp.reshape(not_a_point, (1, 1, 1, channels)), (batch, tokens // 2, 1, channels))
    return xp.reshape(xp.concat([pairs, trailing], axis=2), (batch, 3 * (tokens // 2), channels))


def assemble_sparse(point_tokens, box_tokens, batch, hidden_size, dtype, xp):
    """Spec §7, the sparse embeddings: point tokens, then box tokens, along the token axis.

    (B, N', C) ++ (B, KM, C) -> (B, N' + KM, C), K = 2 (or 3, §6.3); no prompt gives (B, 0, C).
    """
    parts = [t for t in (point_tokens, box_tokens) if t is not None]
    if not parts:
        return xp.zeros((batch, 0, hidden_size), dtype=dtype)
    return xp.concat(parts, axis=1)
