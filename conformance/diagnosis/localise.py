"""Error-structure localisation: where in the algorithm a failing output departs (docs/diagnosis.md).

The catalogue of known variants (``variants.py``) names the bugs it knows. For any other bug, this
module reads the *structure* of the difference between the port's output and the reference and
says which spec section it points to, one line per finding:

- sparse tokens (§5–§7): which tokens differ, grouped by what they are (label value, padding
  token, box corner, trailing not-a-point); whether a group differs by one same vector (→ that
  label's embedding row, §5.2, and which known row the port used instead); whether the tokens'
  positional parts differ while the dense grid agrees (→ coordinates, §3) or together with it
  (→ the encoding, §4); tokens present in another order (→ §7); for a shape mismatch, what the
  extra or missing tokens equal ("one extra token per box, equal to not_a_point_embed");
- dense embeddings (§9, §10): confined to mask cases (§9) or to the no-mask embedding (§10);
  a per-channel pattern (some channels only, or a per-channel scale or offset: a weight
  conversion); a transposed or flipped map, channels-last data (§11.2);
- dense positional grid (§8): transposed or flipped, channels permuted (§4.2), or the grid
  alone differs while the point tokens agree (§8.1).

``localise(evidence)`` returns (lines, section); every line ends with the section it points to.
Everything here is NumPy on arrays the diagnosis already holds for one case; nothing is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from samspec.reference import DENSE, DENSE_PE, SPARSE

from .tokens import anonymous, reference_tokens

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


@dataclass
class Evidence:
    """What the localisation reads for one failing output (all float64, one case)."""

    key: str
    got: np.ndarray
    expected: np.ndarray
    tol: float  # the output's error budget (absolute): a difference above it is real
    trace: dict  # the float64 reference's trace of this case (stage name -> array)
    params: dict  # float64 parameters
    conventions: object  # the reference Conventions the port is judged under
    inputs: dict  # the case's `sam`-layout inputs
    others: dict = field(default_factory=dict)  # other output key -> "pass" | "fail" | "missing"


def _section_of(line: str):
    """The first section a line points to: "... (§5.2)" or "(§9; ...)" -> §5.2, §9."""
    start = line.rfind("(§")
    if start < 0:
        return None
    inside = line[start + 1 : line.index(")", start)] if ")" in line[start:] else line[start + 1 :]
    return inside.split(",")[0].split(";")[0].split("–")[0].strip()


def _result(lines):
    lines = [line for line in lines if line]
    return lines, next((s for s in map(_section_of, lines) if s), None)


def localise(ev: Evidence, argument=None):
    """(lines, section) for one failing output; ([], None) when nothing structural is found.
    ``argument``: the ``phase.ArgumentFit`` of its positional encodings, which then leads."""
    if ev.key == SPARSE:
        lines = _sparse_shape(ev) if ev.got.shape != ev.expected.shape else _sparse(ev)
    elif ev.got.shape != ev.expected.shape:
        lines = _dense_shape(ev)
    elif ev.key == DENSE:
        lines = _dense(ev)
    else:
        lines = _grid(ev)
    if argument is not None:
        lines = [argument.line("sparse tokens' positional parts" if ev.key == SPARSE else "grid's features")] + lines
    batching = _batch_pattern(ev)
    if batching:  # another image's output is evidence enough to lead; an uneven batch alone is not
        lines = [batching[0]] + lines if batching[1] else lines + [batching[0]]
    return _result(lines)


def _batch_pattern(ev):
    """(line, strong) when the batch's images differ unevenly (§11.1): every differing image is another
    image's expected output (strong: a batch index mixed up), or every image but the first differs;
    else None."""
    got, expected, tol = ev.got, ev.expected, ev.tol
    if got.shape != expected.shape or got.ndim < 2 or got.shape[0] < 2 or not got.size:
        return None
    batch = got.shape[0]
    flat_got, flat_expected = got.reshape(batch, -1), expected.reshape(batch, -1)
    bad = [b for b in range(batch) if np.max(np.abs(flat_got[b] - flat_expected[b])) > tol]
    what = {SPARSE: "sparse tokens", DENSE: "dense embedding"}.get(ev.key, "output")
    sources = {}
    for b in bad:
        found = [c for c in range(batch) if c != b and np.max(np.abs(flat_got[b] - flat_expected[c])) <= tol]
        if not found:
            break
        sources[b] = found[0]
    if bad and len(sources) == len(bad):
        listed = ", ".join(f"image {b} has image {c}'s" for b, c in list(sources.items())[:4])
        more = ", ..." if len(sources) > 4 else ""
        return (
            f"{len(bad)} of {batch} images differ, each equal to another image's expected {what} ({listed}{more}): "
            f"the port mixes up the batch index (§11.1)",
            True,
        )
    if 0 not in bad and len(bad) == batch - 1:
        return (
            f"image 0 agrees and the other {batch - 1} images differ: a batching pattern, the first image is "
            f"handled differently from the rest (§11.1)",
            False,
        )
    return None


# -- known rows -------------------------------------------------------------------------------------------


def _which_row(vector, ev, with_pe=None):
    """The name of the parameter row ``vector`` equals (or zeros), optionally on top of ``with_pe``."""
    base = vector if with_pe is None else vector - with_pe
    tol = max(ev.tol, 1e-12)
    if np.max(np.abs(base)) <= tol:
        return "zeros" if with_pe is None else "the positional encoding alone"
    for key, words in ROWS:
        row = ev.params.get(key)
        if row is not None and row.shape[-1] == base.shape[-1] and np.max(np.abs(base - row[0])) <= tol:
            return words if with_pe is None else f"the positional encoding + {words}"
    return None


# -- sparse tokens (§5–§7) --------------------------------------------------------------------------------


def _tokens(ev):
    """Per batch entry of the expected sparse output, its tokens (``tokens.Token``)."""
    return reference_tokens(ev.trace, ev.conventions, ev.inputs, ev.expected.shape[0])


def _group(kinds, bad):
    """{kind: (tokens, differing tokens)} over (batch, token) positions."""
    groups = {}
    for b, row in enumerate(kinds):
        for n, (kind, *_) in enumerate(row):
            total, wrong = groups.get(kind, (0, 0))
            groups[kind] = (total + 1, wrong + int(bad[b, n]))
    return groups


def _spell_groups(groups, wrong: bool) -> str:
    parts = [f"{k} ({w if wrong else t - w} of {t})" for k, (t, w) in groups.items() if (w if wrong else t - w)]
    return ", ".join(parts)


def _permutation(got, expected, tol):
    """For each got token of batch 0, the index of an expected token it equals (or -1)."""
    found = []
    for token in got:
        distance = np.max(np.abs(expected - token), axis=-1)
        best = int(np.argmin(distance)) if len(distance) else -1
        found.append(best if best >= 0 and distance[best] <= tol else -1)
    return found


def _sparse(ev):
    got, expected, tol = ev.got, ev.expected, ev.tol
    if got.ndim != 3 or got.shape[1] == 0:
        return ["the sparse output differs (§7)"]
    if _same(got, expected[..., ::-1], tol):
        return ["the sparse tokens are the expected ones with their channels in reverse order (§11.2)"]
    kinds = _tokens(ev)
    if any(len(row) != got.shape[1] for row in kinds):
        kinds = [anonymous(got.shape[1]) for _ in range(got.shape[0])]
    difference = got - expected
    bad = np.max(np.abs(difference), axis=2) > tol  # (B, N): per token, over channels
    groups = _group(kinds, bad)
    lines = [
        f"sparse tokens that differ: {_spell_groups(groups, True)}"
        + (f"; that agree: {_spell_groups(groups, False)}" if not bad.all() else "; every token differs")
    ]
    reordered = _reordered(got, expected, tol)
    if reordered:
        return lines + [reordered]
    findings = []
    for kind in groups:
        members = [(b, n) for b, row in enumerate(kinds) for n, (k, *_) in enumerate(row) if k == kind and bad[b, n]]
        if members:
            findings.append(_token_group(ev, kind, members, kinds, difference))
    positional = [f for f in findings if f[0] == "pe"]
    for finding in findings:
        if finding[0] == "row":
            lines.append(finding[1])
    if positional:
        lines.append(_positional_line(ev, positional, kinds))
    for finding in findings:
        if finding[0] == "other":
            lines.append(finding[1])
    return lines


def _reordered(got, expected, tol):
    """The line for tokens that are the expected ones in another order (every batch entry), or None."""
    for b in range(got.shape[0]):
        order = _permutation(got[b], expected[b], tol)
        if -1 in order or sorted(order) != list(range(len(order))):
            return None
        if order != list(range(len(order))):
            moved = [f"{n}<-{m}" for n, m in enumerate(order) if n != m][:6]
            return (
                f"the tokens are the expected ones in another order (position<-expected: {', '.join(moved)}): "
                f"the sparse assembly or the token order differs (§7)"
            )
    return None


def _positional_line(ev, positional, kinds):
    """Where a positional difference of some token groups points: the sinusoids (§4.2), the label
    embedding (§5.2), the box corners (§6.1), the coordinates (§3) or the encoding (§4)."""
    names = ", ".join(f[2] for f in positional)
    grid = ev.others.get(DENSE_PE)
    point_pe_bad = any(f[2].startswith(("label", "padding")) for f in positional)
    box_pe_bad = any(f[2].startswith("box") for f in positional)
    has_points = any(k.startswith("label") for row in kinds for k, *_ in row)
    half = next((f[4] for f in positional if f[4]), None)
    if half and grid != "pass":  # one half of the features is right: so is their argument (§4.1)
        return f"{names}: {half} (§4.2)"
    if any(f[3] for f in positional) and grid != "pass":  # the port's PE part is no valid sin/cos pair
        return (
            f"{names}: the features are not sin/cos pairs of one argument: the sinusoids or their "
            f"channel order differ (§4.2)"
        )
    if any(f[3] for f in positional):
        return (
            f"{names}: what is added to the positional encoding is not a known row: the label embedding differs (§5.2)"
        )
    if grid == "pass" and box_pe_bad and not point_pe_bad and has_points:
        return (
            f"{names}: the positional encoding of the box corners differs while the points' and the dense "
            f"grid's agree: the corners are read or shifted differently (§6.1)"
        )
    if grid == "pass":
        return (
            f"{names}: each token's positional part differs while the dense grid agrees, so the Fourier "
            f"features are right and the coordinates fed to them differ: shift or normalisation (§3)"
        )
    return (
        f"{names}: each token's positional part differs and so does the dense grid: the positional "
        f"encoding itself differs (§4)"
    )


def _one_half(got, expected, tol):
    """The words when one half of the features (§4.2: sines first, then cosines) agrees and the other
    differs: the argument both come from is right and the sinusoids differ; else None."""
    half = expected.shape[-1] // 2
    sines, cosines = (float(np.max(np.abs(got[..., s] - expected[..., s]))) for s in (slice(half), slice(half, None)))
    if (sines <= tol) == (cosines <= tol):
        return None
    right, wrong = ("sine", "cosine") if sines <= tol else ("cosine", "sine")
    return (
        f"the {right} halves of the features agree and the {wrong} halves differ: the argument they share is "
        f"right and the {wrong}s differ"
    )


def _token_group(ev, kind, members, kinds, difference):
    """One group of differing tokens, ``members`` its (batch, token) positions: ("row", line) for one
    same difference vector, ("pe", "", kind, not_sinusoid) for a positional difference, ("other", line)."""
    tol = ev.tol
    vectors = np.stack([difference[b, n] for b, n in members])
    b, n = members[0]
    _, keep, pe, _ = kinds[b][n]
    got_token = ev.got[b, n]
    if len(members) == 1 and (kind == "padding tokens" or not keep):  # one token: no "same vector" to see
        used = _which_row(got_token, ev) or (_which_row(got_token, ev, with_pe=pe) if pe is not None else None)
        section = "§5.1" if kind == "padding tokens" else ("§6.3" if kind.startswith("box") else "§5.2")
        return ("row", f"{kind} differ (one token): it equals {used or 'no known row'} ({section})")
    positions = np.stack([kinds[bb][nn].pe for bb, nn in members]) if keep and pe is not None else None
    if positions is not None and np.max(np.abs(positions - positions[0])) <= tol:
        members_apart = 1  # tokens at one position differ by one vector whatever the bug: no "same vector" to see
    else:
        members_apart = len(members)
    if members_apart > 1 and np.max(np.abs(vectors - vectors[0])) <= 2 * tol:  # one same vector for every token
        if kind == "padding tokens" or not keep:
            used = _which_row(got_token, ev) or (_which_row(got_token, ev, with_pe=pe) if pe is not None else None)
            what = f"they equal {used}" if used else "they equal no known row"
            section = "§5.1" if kind == "padding tokens" else ("§6.3" if kind.startswith("box") else "§5.2")
            return ("row", f"{kind} differ by one same vector: {what} ({section})")
        used = _which_row(got_token, ev, with_pe=pe) if pe is not None else None
        what = f"the port gives them {used}" if used else "the port adds another vector to their positional encoding"
        section = "§6.2" if kind.startswith("box") else "§5.2"
        return ("row", f"{kind} differ by one same vector: their embedding row differs; {what} ({section})")
    if keep and pe is not None:
        rows_alone = [ev.expected[bb, nn] - kinds[bb][nn].pe for bb, nn in members]  # the expected row, no PE
        if all(np.max(np.abs(ev.got[bb, nn] - row)) <= 2 * tol for (bb, nn), row in zip(members, rows_alone)):
            section = "§6.2" if kind.startswith("box") else "§5.2"
            return (
                "row",
                f"{kind} equal their embedding row alone: the port drops their positional encoding ({section})",
            )
        port_pe = np.stack([ev.got[bb, nn] - (ev.expected[bb, nn] - kinds[bb][nn].pe) for bb, nn in members])
        half = port_pe.shape[-1] // 2
        norms = port_pe[..., :half] ** 2 + port_pe[..., half:] ** 2
        not_sinusoid = bool(np.max(np.abs(norms - 1.0)) > max(1e3 * tol, 1e-3))
        return ("pe", "", kind, not_sinusoid, _one_half(port_pe, positions, tol))
    if not keep:
        used = _which_row(got_token, ev)
        return (
            "other",
            f"{kind} differ token by token although they carry no position; the first equals "
            f"{used or 'no known row'} (§5.2)",
        )
    return ("other", f"{kind} differ (§5)")


def _sparse_shape(ev):
    got, expected, tol = ev.got, ev.expected, ev.tol
    if got.ndim == expected.ndim == 3 and _same(np.swapaxes(got, 1, 2), expected, tol):
        return [f"the sparse output is (batch, hidden_size, tokens), shape {got.shape}: channels first (§11.2)"]
    if got.ndim != 3 or expected.ndim != 3 or got.shape[2] != expected.shape[2]:
        return [
            f"the sparse output has shape {got.shape} where {expected.shape} is expected: "
            f"(batch, tokens, hidden_size) (§7, §11.1)"
        ]
    if got.shape[0] != expected.shape[0]:
        return [f"the sparse output has batch {got.shape[0]} where {expected.shape[0]} is expected (§11.1)"]
    kinds = _tokens(ev)[0] if expected.shape[0] else []
    if len(kinds) != expected.shape[1]:
        kinds = anonymous(expected.shape[1])
    matched, extra, missing = _match_tokens(got[0], expected[0], tol)
    count = f"the sparse output has {got.shape[1]} tokens where {expected.shape[1]} are expected"
    if extra and not missing:
        return [count + ": " + "; ".join(f"{text} ({section})" for text, section in _extra_tokens(ev, kinds, extra))]
    if not missing:
        return [count + " and its tokens differ from the expected ones (§7)"]
    gone = _spell_groups(_group([[kinds[m] for m in missing]], np.ones((1, len(missing)), dtype=bool)), True)
    section = (
        "§5.1"
        if all(kinds[m][0] == "padding tokens" for m in missing)
        else ("§6" if all(kinds[m][0].startswith("box") for m in missing) else "§7")
    )
    order = [m for _, m in matched]
    present = "the others are present" + ("" if order == sorted(order) else ", in another order")
    if not extra:
        return [f"{count}: missing {gone}; {present} ({section})"]
    return [
        f"{count}: missing {gone}; {present}, and {len(extra)} of the port's tokens equal no expected token ({section})"
    ]


def _match_tokens(got, expected, tol):
    """Each of the port's tokens (N, C) matched against every expected token (M, C) not matched yet:
    (matched [(port index, expected index)], extra [(expected tokens before it, token)], missing
    [expected index])."""
    free = list(range(expected.shape[0]))
    matched, extra = [], []
    for n, token in enumerate(got):
        distance = np.max(np.abs(expected - token), axis=-1) if expected.shape[0] else np.zeros(0)
        found = next((m for m in free if distance[m] <= tol), None)
        if found is None:
            after = matched[-1][1] + 1 if matched else 0
            extra.append((after, token))
        else:
            free.remove(found)
            matched.append((n, found))
    return matched, extra, free


def _extra_tokens(ev, kinds, extra):
    """(words, section) for the port's extra tokens, by the row each equals and what precedes it."""
    described = {}
    for after, token in extra:
        name = _which_row(token, ev) or "no known row"
        preceding = kinds[after - 1][0] if after > 0 else "the start"
        described.setdefault((name, preceding), 0)
        described[(name, preceding)] += 1
    parts = []
    for (name, preceding), count in described.items():
        if preceding.startswith("box bottom-right"):
            parts.append(
                (
                    f"{'one extra token per box' if count > 1 or len(extra) == 1 else f'{count} extra tokens'}"
                    f" after each box's corners, equal to {name}",
                    "§6",
                )
            )
        elif preceding.startswith("box"):
            parts.append((f"{count} extra token(s) after {preceding[:-1]} of a box, equal to {name}", "§6"))
        elif (
            name == "not_a_point_embed"
            and preceding.startswith(("label", "padding"))
            and (after == len(kinds) or not kinds[after][0].startswith(("label", "padding")))
        ):
            parts.append((f"{count} extra token(s) after the point tokens, equal to {name}", "§5.1"))
        elif after == len(kinds):
            parts.append((f"{count} extra token(s) after all the expected tokens, equal to {name}", "§7"))
        else:
            parts.append((f"{count} extra token(s) after {preceding}, equal to {name}", "§7"))
    return parts


# -- dense outputs (§8–§11) -------------------------------------------------------------------------------


def sample_view(a, size=4096):
    """A strided view of about ``size`` values of ``a`` (every n-th index along its longest axis; no copy)."""
    if a.size <= size or a.ndim == 0:
        return a
    axis = int(np.argmax(a.shape))
    index = [slice(None)] * a.ndim
    index[axis] = slice(None, None, a.size // size + 1)
    return a[tuple(index)]


def _same(a, b, tol) -> bool:
    """a equals b within tol (a strided sample first: most rearrangements differ everywhere)."""
    if a.shape != b.shape:
        return False
    if not a.size:
        return True
    if np.max(np.abs(sample_view(a) - sample_view(b))) > tol:
        return False
    return bool(np.max(np.abs(a - b)) <= tol)


def _spatial_rearrangement(got, expected, tol, what, section):
    """Transposed, flipped or channels-last versions of a (B, C, h, w) map."""
    checks = [
        ("flipped top to bottom", lambda e: e[:, :, ::-1, :]),
        ("flipped left to right", lambda e: e[:, :, :, ::-1]),
        ("rotated by 180 degrees", lambda e: e[:, :, ::-1, ::-1]),
        ("transposed (h and w exchanged)", lambda e: np.swapaxes(e, 2, 3)),
        ("channels-last data reshaped to (B, C, h, w)", lambda e: np.reshape(np.transpose(e, (0, 2, 3, 1)), e.shape)),
        ("in reversed channel order", lambda e: e[:, ::-1]),
    ]
    for words, transform in checks:
        candidate = transform(expected)
        if candidate.shape == got.shape and _same(got, candidate, tol):
            return f"the {what} is the expected one {words} ({'§11.2' if 'channel' in words else section})"
    return None


def _dense_shape(ev):
    got, expected = ev.got, ev.expected
    what = "dense embedding" if ev.key == DENSE else "dense positional grid"
    if got.ndim == expected.ndim == 4:
        if sorted(got.shape) == sorted(expected.shape) and got.shape[1] != expected.shape[1]:
            if got.shape == (expected.shape[0], expected.shape[2], expected.shape[3], expected.shape[1]):
                return [
                    f"the {what} has shape {got.shape}, channels last, where {expected.shape} (B, C, h, w) is "
                    "expected (§11.2)"
                ]
        if got.shape[1:] == expected.shape[1:]:
            return [f"the {what} has batch {got.shape[0]} where {expected.shape[0]} is expected (§11.1)"]
        if got.shape[:2] == expected.shape[:2] and got.shape[2:] == expected.shape[2:][::-1]:
            return [
                f"the {what} is (h, w)-transposed: shape {got.shape} where {expected.shape} is expected "
                f"({'§8.2' if ev.key == DENSE_PE else '§9.1'})"
            ]
    return [f"the {what} has shape {got.shape} where {expected.shape} is expected (§11.2)"]


def _channel_pattern(got, expected, tol):
    """Which channels differ, and whether each is a per-channel scale or offset of the expected one."""
    difference = np.abs(got - expected)
    per_channel = np.max(difference, axis=(0, 2, 3))
    bad = np.nonzero(per_channel > tol)[0]
    channels = expected.shape[1]
    lines = []
    if 0 < len(bad) < channels:
        listed = ", ".join(str(int(c)) for c in bad[:8]) + (", ..." if len(bad) > 8 else "")
        lines.append(
            f"only {len(bad)} of {channels} channels differ ({listed}): a per-channel pattern, as from a "
            f"weight conversion of those output channels"
        )
    e = expected.transpose(1, 0, 2, 3).reshape(channels, -1)
    g = got.transpose(1, 0, 2, 3).reshape(channels, -1)
    if e.shape[1] >= 3 and len(bad):
        offset = g - e
        if np.max(np.abs(offset - offset[:, :1])) <= 2 * tol:
            lines.append(
                "each channel differs by one constant over every pixel and image: a per-channel offset "
                "(a bias not loaded or loaded into the wrong channels)"
            )
        else:
            centred_e = e - e.mean(axis=1, keepdims=True)
            centred_g = g - g.mean(axis=1, keepdims=True)
            denominator = np.sum(centred_e * centred_e, axis=1)
            scale = np.where(
                denominator > 0, np.sum(centred_e * centred_g, axis=1) / np.where(denominator > 0, denominator, 1), 1.0
            )
            residual = np.max(np.abs(centred_g - scale[:, None] * centred_e))
            if residual <= 4 * tol and np.max(np.abs(scale - 1.0)) > 1e-6:
                lines.append(
                    "each channel is the expected one times its own factor plus its own offset: a per-channel "
                    "scale (a weight loaded into the wrong channels, or scaled)"
                )
    return lines


def _dense(ev):
    got, expected, tol = ev.got, ev.expected, ev.tol
    has_mask = ev.inputs.get("masks") is not None
    where = "the downscaled mask (the mask path)" if has_mask else "the no-mask embedding"
    lines = []
    moved = _spatial_rearrangement(got, expected, tol, "dense embedding", "§9.1" if has_mask else "§10")
    if moved:
        return [moved]
    pattern = _channel_pattern(got, expected, tol)
    if not has_mask:
        used = _which_row(got[0, :, 0, 0], ev) if got.size and np.max(np.abs(got - got[:, :, :1, :1])) <= tol else None
        if used:
            lines.append(
                f"without a mask the dense output is {used} at every cell where no_mask_embed is expected (§10)"
            )
        else:
            lines.append("only the no-mask dense output differs: no_mask_embed broadcast to (B, C, h, w) (§10)")
        return lines + [f"{p} (§10)" for p in pattern]
    if pattern:
        return [f"{p} (§9)" for p in pattern] + [
            "the difference is confined to mask cases: the mask downscaler's weights or their conversion (§9)"
        ]
    return [
        f"the difference is confined to {where}: conv 2x2, LayerNorm2d, activation, conv 1x1 "
        f"(§9; the trace shows the first stage that departs: on by default for a few failing cases, `--trace` for all)"
    ]


def _grid(ev):
    got, expected, tol = ev.got, ev.expected, ev.tol
    moved = _spatial_rearrangement(got, expected, tol, "dense positional grid", "§8.2")
    if moved:
        return [moved]
    half = expected.shape[1] // 2
    permutations = [
        ("with its sine and cosine halves exchanged", np.concatenate([expected[:, half:], expected[:, :half]], axis=1)),
        (
            "with sines and cosines interleaved",
            np.stack([expected[:, :half], expected[:, half:]], axis=2).reshape(expected.shape),
        ),
    ]
    for words, candidate in permutations:
        if _same(got, candidate, tol):
            return [f"the dense positional grid is the expected one {words} (§4.2)"]
    one_half = _one_half(np.moveaxis(got, 1, -1), np.moveaxis(expected, 1, -1), tol)
    if one_half:
        return [f"the grid's channels: {one_half} (§4.2)"]
    norms = got[:, :half] ** 2 + got[:, half:] ** 2
    if np.max(np.abs(norms - 1.0)) > max(1e3 * tol, 1e-3):
        return [
            "the grid's channels are not sin/cos pairs of one argument: the sinusoids or their channel order "
            "differ (§4.2)"
        ]
    sparse = ev.others.get(SPARSE)
    if sparse == "pass":
        return [
            "the grid differs while the point and box tokens agree (same Fourier features): the grid's cell "
            "centres differ (§8.1)"
        ]
    if sparse == "fail":
        return ["the grid and the sparse tokens differ together: the positional encoding both share differs (§4)"]
    return ["the grid's positions differ: cell centres (§8.1) or the Fourier features (§4)"]
