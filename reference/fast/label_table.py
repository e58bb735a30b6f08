"""Spec §5.2–§7, fast form: every token of the sparse output from one lookup table.

A point's token is keep[label] * PE + E[row[label]] (§5.2); a box corner's is PE + its corner
embedding (§6.2), and §6.3's trailing token not_a_point_embed alone: each is a token *code* whose
keep factor and row of E a table gives (``token_table``). ``sparse_embeddings`` encodes every
position at once and writes the whole sparse output with one multiply-add.
"""

from __future__ import annotations

from ..backend import Array, Namespace
from ..coordinates import normalise_coordinates
from ..positional_encoding import fourier_argument
from ..semantics import LABEL_ROWS, LabelRule
from ..validation import check_labels
from .half_angle import sin_and_cos


def token_table(table: Array, rule: LabelRule, xp: Namespace) -> tuple[Array, Array]:
    """Spec §5.2, §6.2 and §6.3 as one lookup table, indexed by a *token code*.

        code = label - min(rule.allowed)       for a point                  (keep, row) from the rule
        code = span, span + 1                  for a box's two corners      (1, top_left), (1, bottom_right)
        code = span + 2                        for a box's trailing token   (0, not_a_point)   (§6.3)
        -> keep: (span + 3,), embeddings: (span + 3, C)       span = max - min of the allowed labels + 1

    A box corner is a token like a point whose PE is kept and whose row of E is its corner's, and
    §6.3's trailing token one whose PE is discarded, so one table serves every token of the sparse
    output. Codes of no allowed label have keep 0 and row none.
    """
    lowest = min(rule.allowed)
    span = max(rule.allowed) - lowest + 1
    keep = [0.0] * span + [1.0, 1.0, 0.0]
    rows = [0] * span + [LABEL_ROWS.index(name) for name in ("top_left", "bottom_right", "not_a_point")]
    for label, (kept, row) in rule.entries.items():
        keep[label - lowest] = float(kept)
        rows[label - lowest] = LABEL_ROWS.index(row)
    return xp.asarray(keep, dtype=table.dtype), xp.take(table, xp.asarray(rows), axis=0)


def embed_point_labels_by_table(point_pe: Array, labels: Array, table: Array, rule: LabelRule, xp: Namespace) -> Array:
    """Spec §5.2, point tokens from positional encodings and labels, by two table lookups.

        token[b, n] = keep[l] * PE[b, n] + E[row[l]],   l = labels[b, n]
        point_pe: (B, N, C), labels: (B, N) ints, E: (6, C) -> (B, N, C)

    Why this equals the definition (``sparse.embed_point_labels``, one ``where`` per label): the
    rule is a function of the label, so it is a table indexed by the label code
    ``label - min(rule.allowed)`` of ``token_table``, and each token takes the same keep and row
    of E, with the same arithmetic (keep is 0 or 1, exact). A label outside the rule is a
    ValueError (§13), never another row's token.
    """
    check_labels(labels, rule.allowed, None, xp)
    keep_table, embed_table = token_table(table, rule, xp)
    codes = xp.reshape(labels - min(rule.allowed), (-1,))
    keep = xp.reshape(xp.take(keep_table, codes), labels.shape + (1,))
    rows = xp.reshape(xp.take(embed_table, codes, axis=0), labels.shape + (table.shape[1],))
    return keep * point_pe + rows


def sparse_embeddings(
    point_coords,
    labels,
    box_corners,
    keep_table,
    embed_table,
    rule,
    gaussian_matrix,
    input_image_size,
    xp,
    box_trailing_not_a_point=False,
):
    """Spec §3.2–§7 for every token at once: the sparse embeddings.

        point_coords: (B, N', 2) shifted and padded, labels: (B, N') ints, box_corners: (B, M, 2, 2)
        shifted (either part may be None, not both); keep_table, embed_table: ``token_table``
        -> (B, T, C),  T = N' + KM: points first, then tl0, br0, tl1, br1, ... (K = 2),
        or tl0, br0, nap0, tl1, ... with ``box_trailing_not_a_point`` (K = 3, §6.3).

    Why this equals §5.2, §6.2, §6.3 and §7: from §3.2 to §6.2 every stage acts on each token
    alone, so encoding the concatenated token positions and splitting the result equals encoding
    each part and concatenating (§7); and with ``token_table`` a box corner is one more token
    code, so

        tokens = keep[code] * PE + embeddings[code]

    is §5.2 for the points and §6.2 for the corners (keep 1: PE + corner embedding). §6.3's
    trailing token is placed at (0, 0) with keep 0: its PE is finite, so 0 * PE + not_a_point_embed
    is not_a_point_embed exactly. The whole sparse output is written by one multiply-add, done in
    place on this function's own temporaries (PE and the looked-up rows): the same operations on
    the same values (a + b = b + a exactly), with no per-part copies and no final concat.
    The sinusoids are ``sin_and_cos`` (float64 NumPy: the half-angle form, 8 machine epsilons).
    Its labels are the encoder's, already checked (§13): nothing is read back from the device.
    """
    lowest = min(rule.allowed)
    span = keep_table.shape[0] - 3  # token_table: the label codes, then tl, br and the trailing token
    positions, codes = [], []
    if point_coords is not None:
        positions.append(point_coords)
        codes.append(labels - lowest)
    if box_corners is not None:
        batch, boxes = box_corners.shape[0], box_corners.shape[1]
        per_box = 3 if box_trailing_not_a_point else 2
        if box_trailing_not_a_point:  # §6.3: a third position per box, at (0, 0) (its PE is discarded)
            box_corners = xp.concat([box_corners, xp.zeros((batch, boxes, 1, 2), dtype=box_corners.dtype)], axis=2)
        positions.append(xp.reshape(box_corners, (batch, per_box * boxes, 2)))
        corner_codes = xp.arange(span, span + per_box, dtype=codes[0].dtype if codes else xp.int64)
        codes.append(xp.reshape(xp.broadcast_to(corner_codes, (batch, boxes, per_box)), (batch, per_box * boxes)))
    positions = xp.concat(positions, axis=1) if len(positions) > 1 else positions[0]
    codes = xp.reshape(xp.concat(codes, axis=1) if len(codes) > 1 else codes[0], (-1,))
    unit = normalise_coordinates(positions, input_image_size, xp)  # §3.2
    argument = fourier_argument(unit, gaussian_matrix, xp)  # §4.1
    del unit
    pe = xp.concat(sin_and_cos(argument, xp), axis=-1)  # §4.2: [sin A, cos A]
    del argument
    keep = xp.reshape(xp.take(keep_table, codes), positions.shape[:2] + (1,))
    embeddings = xp.reshape(xp.take(embed_table, codes, axis=0), pe.shape)
    pe *= keep  # §5.2, §6.2, §6.3, §7, in place: keep * PE + embeddings
    embeddings += pe
    return embeddings
