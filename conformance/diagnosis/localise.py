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
- dense embeddings (§9, §10) and the dense positional grid (§8): ``dense_structure``;
- positional encodings whose (sin, cos) pairs are the right sinusoids of a systematically wrong
  argument (§4.1): ``phase``, whose line then leads.

``localise(evidence)`` returns (lines, section); every line ends with the section it points to.
Everything here is NumPy on arrays the diagnosis already holds for one case; nothing is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from samspec.reference import DENSE, DENSE_PE, SPARSE

from .dense_structure import dense, dense_shape, grid, same
from .phase import OFF_CIRCLE, one_half
from .tokens import anonymous, reference_tokens, which_row


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
        lines = dense_shape(ev)
    elif ev.key == DENSE:
        lines = dense(ev)
    else:
        lines = grid(ev)
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
    if same(got, expected[..., ::-1], tol):
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
    reordered = _reordered(got, expected, tol, kinds) or _other_tokens(got, expected, bad, tol)
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
        lines.append(_borrowed_positions(ev, kinds, bad) or _positional_line(ev, positional, kinds))
    for finding in findings:
        if finding[0] == "other":
            lines.append(finding[1])
    return lines


def _other_tokens(got, expected, bad, tol):
    """The line when every differing token (two or more) equals another expected token of its image, though
    not all tokens are a permutation of the expected ones: the token order differs (§7); else None."""
    found = []
    for b, n in zip(*np.nonzero(bad)):
        distance = np.max(np.abs(expected[b] - got[b, n]), axis=-1)
        other = int(np.argmin(distance))
        if other == n or distance[other] > tol:
            return None
        found.append(f"{n}<-{other}" if got.shape[0] == 1 else f"image {b}: {n}<-{other}")
    if len(found) < 2:
        return None
    return (
        f"every differing token equals another expected token of its image (position<-expected: "
        f"{', '.join(found[:6])}{', ...' if len(found) > 6 else ''}): the token order differs (§7)"
    )


def _borrowed_positions(ev, kinds, bad):
    """The line when every differing token that keeps its position carries, instead of its own
    positional encoding, the encoding of another expected token of the batch (its row is right): the
    points are mixed up across the batch (§11.1) or within an image (§7); else None."""
    sources = [(b, n) for b, row in enumerate(kinds) for n, token in enumerate(row) if token.pe is not None]
    moved = [(b, n) for b, n in sources if bad[b, n] and kinds[b][n].keep]
    if not moved or len(sources) < 2:
        return None
    encodings = np.stack([kinds[b][n].pe for b, n in sources])
    found = []
    for b, n in moved:
        port_pe = ev.got[b, n] - (ev.expected[b, n] - kinds[b][n].pe)
        distance = np.max(np.abs(encodings - port_pe), axis=-1)
        best = int(np.argmin(distance))
        if distance[best] > 2 * ev.tol or sources[best] == (b, n):
            return None
        found.append(((b, n), sources[best]))
    across = [(to, source) for to, source in found if source[0] != to[0]]
    listed = ", ".join(f"image {to[0]} token {to[1]} has image {fr[0]} token {fr[1]}'s" for to, fr in found[:4])
    more = ", ..." if len(found) > 4 else ""
    if across:
        return (
            f"{len(found)} tokens carry another token's positional encoding with their own label row ({listed}{more}), "
            f"{len(across)} of them another image's: the points are mixed up across the batch (§11.1)"
        )
    return (
        f"{len(found)} tokens carry another token's positional encoding of the same image with their own label row "
        f"({listed}{more}): the points' order differs from the labels' (§7)"
    )


def _reordered(got, expected, tol, kinds):
    """The line for tokens that are the expected ones in another order (every batch entry), or None.
    Only box corner tokens moved, among themselves: their order within the box tokens (§6.2)."""
    for b in range(got.shape[0]):
        order = _permutation(got[b], expected[b], tol)
        if -1 in order or sorted(order) != list(range(len(order))):
            return None
        if order != list(range(len(order))):
            moved = [(n, m) for n, m in enumerate(order) if n != m]
            spelled = ", ".join(f"{n}<-{m}" for n, m in moved[:6])
            if all(kinds[b][i][0].startswith("box ") for pair in moved for i in pair):
                return (
                    f"the box corner tokens are the expected ones in another order (position<-expected: {spelled}): "
                    f"the box tokens go box by box, in box order: tl0, br0, tl1, br1, ... (§6.2)"
                )
            return (
                f"the tokens are the expected ones in another order (position<-expected: {spelled}): "
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
        which = (
            "corner embedding differs (§6.2)" if box_pe_bad and not point_pe_bad else "label embedding differs (§5.2)"
        )
        return f"{names}: what is added to the positional encoding is not a known row: the {which}"
    if grid == "pass" and box_pe_bad and not point_pe_bad and has_points:
        return (
            f"{names}: the positional encoding of the box corners differs while the points' and the dense "
            f"grid's agree: the corners are read or shifted differently (§6.1)"
        )
    if grid == "pass":
        return (
            f"{names}: each token's positional part differs while the dense grid agrees: unless the tokens use a "
            f"Gaussian matrix of their own, the coordinates fed to the Fourier features differ: shift or "
            f"normalisation (§3)"
        )
    return (
        f"{names}: each token's positional part differs and so does the dense grid: the positional "
        f"encoding itself differs (§4)"
    )


def _known_row(ev, token, pe):
    """What one token equals: a known row alone, or the positional encoding ``pe`` plus one; else None."""
    alone = which_row(token, ev)
    if alone is not None and alone != "zeros":
        return f"{alone} alone"
    return which_row(token, ev, with_pe=pe) if pe is not None else alone


def _row_section(kind, used) -> str:
    """The section of a token that carries no position and equals the row ``used`` (or no known row)."""
    if used and used.endswith("rounded to float16"):
        return "§11.3"  # a known row stored in float16
    return "§5.1" if kind == "padding tokens" else ("§6.3" if kind.startswith("box") else "§5.2")


def _token_group(ev, kind, members, kinds, difference):
    """One group of differing tokens, ``members`` its (batch, token) positions: ("row", line) for one
    same difference vector, ("pe", "", kind, not_sinusoid) for a positional difference, ("other", line)."""
    tol = ev.tol
    vectors = np.stack([difference[b, n] for b, n in members])
    b, n = members[0]
    _, keep, pe, _ = kinds[b][n]
    got_token = ev.got[b, n]
    if len(members) == 1 and (kind == "padding tokens" or not keep):  # one token: no "same vector" to see
        used = which_row(got_token, ev) or (which_row(got_token, ev, with_pe=pe) if pe is not None else None)
        section = _row_section(kind, used)
        distance = np.max(np.abs(ev.expected[b] - got_token), axis=-1)
        other = int(np.argmin(distance))
        if not used and other != n and distance[other] <= tol:  # another expected token: the order (§7)
            return (
                "row",
                f"{kind} differ (one token): it equals the expected token {other}, {kinds[b][other].kind[:-1]} (§7)",
            )
        return ("row", f"{kind} differ (one token): it equals {used or 'no known row'} ({section})")
    positions = np.stack([kinds[bb][nn].pe for bb, nn in members]) if keep and pe is not None else None
    if positions is not None and np.max(np.abs(positions - positions[0])) <= tol:
        members_apart = 1  # tokens at one position differ by one vector whatever the bug: no "same vector" to see
    else:
        members_apart = len(members)
    if members_apart > 1 and np.max(np.abs(vectors - vectors[0])) <= 2 * tol:  # one same vector for every token
        if kind == "padding tokens" or not keep:
            used = which_row(got_token, ev) or (which_row(got_token, ev, with_pe=pe) if pe is not None else None)
            what = f"they equal {used}" if used else "they equal no known row"
            section = _row_section(kind, used)
            return ("row", f"{kind} differ by one same vector: {what} ({section})")
        used = which_row(got_token, ev, with_pe=pe) if pe is not None else None
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
        not_sinusoid = bool(np.max(np.abs(norms - 1.0)) > max(1e3 * tol, OFF_CIRCLE))
        rows = [_known_row(ev, ev.got[bb, nn], kinds[bb][nn].pe) for bb, nn in members] if not_sinusoid else []
        if rows and all(rows):
            listed = ", ".join(f"{row} ({rows.count(row)})" for row in dict.fromkeys(rows))
            section = "§6.2" if kind.startswith("box") else "§5.2"
            return ("row", f"{kind} differ, each equal to what another label gives: {listed} ({section})")
        return ("pe", "", kind, not_sinusoid, one_half(port_pe, positions, tol))
    if not keep:
        used = _known_row(ev, got_token, pe)
        return (
            "other",
            f"{kind} differ token by token although they carry no position; the first equals "
            f"{used or 'no known row'} (§5.2)",
        )
    return ("other", f"{kind} differ (§5)")


def _sparse_shape(ev):
    got, expected, tol = ev.got, ev.expected, ev.tol
    if got.ndim == expected.ndim == 3 and same(np.swapaxes(got, 1, 2), expected, tol):
        return [f"the sparse output is (batch, hidden_size, tokens), shape {got.shape}: channels first (§11.2)"]
    if expected.ndim == 3 and expected.shape[0] == 1 and same(got, expected[0], tol):
        return [
            f"the sparse output has shape {got.shape} where {expected.shape} is expected: the expected tokens "
            f"without their batch axis of 1 (§11.2)"
        ]
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
        name = which_row(token, ev) or "no known row"
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
