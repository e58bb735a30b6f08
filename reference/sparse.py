"""Spec §5–§7: point tokens, box-corner tokens and the sparse assembly."""

from __future__ import annotations

from .conventions import LABEL_ROWS, LabelRule


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


def embed_point_labels(point_pe, labels, table, rule: LabelRule, xp):
    """Spec §5.2, point tokens from positional encodings and labels.

        token[b, n] = keep[l] * PE[b, n] + E[row[l]],   l = labels[b, n]
        point_pe: (B, N, C), labels: (B, N) ints, E: (6, C) -> (B, N, C)

    ``rule`` maps each allowed label to (keep, row); under the `sam` profile label -1 keeps
    nothing and takes not_a_point_embed, 0 and 1 add the background and foreground embeddings,
    and 2 and 3 add nothing. Both lookups are plain table lookups (``take``) over the label range.
    """
    lowest = min(rule.allowed)
    span = max(rule.allowed) - lowest + 1
    keep_lut = [0.0] * span
    row_lut = [0] * span
    for label, (keep, row) in rule.entries.items():
        keep_lut[label - lowest] = float(keep)
        row_lut[label - lowest] = LABEL_ROWS.index(row)
    offset = xp.reshape(labels - lowest, (-1,))
    keep = xp.take(xp.asarray(keep_lut, dtype=point_pe.dtype), offset)
    rows = xp.take(table, xp.take(xp.asarray(row_lut, dtype=labels.dtype), offset), axis=0)
    keep = xp.reshape(keep, labels.shape + (1,))
    rows = xp.reshape(rows, labels.shape + (table.shape[1],))
    return keep * point_pe + rows


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


def assemble_sparse(point_tokens, box_tokens, batch, hidden_size, dtype, xp):
    """Spec §7, the sparse embeddings: point tokens, then box tokens, along the token axis.

        (B, N', C) ++ (B, 2M, C) -> (B, N' + 2M, C); no prompt at all gives (B, 0, C).
    """
    parts = [t for t in (point_tokens, box_tokens) if t is not None]
    if not parts:
        return xp.zeros((batch, 0, hidden_size), dtype=dtype)
    return xp.concat(parts, axis=1)
