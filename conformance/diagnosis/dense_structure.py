"""Error-structure localisation of the dense outputs (docs/diagnosis.md), for ``localise``:

- dense embeddings (§9, §10): confined to mask cases (§9) or to the no-mask embedding (§10); a
  per-channel pattern (some channels only, or a per-channel scale or offset: a weight conversion);
  a transposed or flipped map, channels-last data (§11.2);
- dense positional grid (§8): transposed or flipped, channels permuted or one half of the features
  wrong (§4.2), or the grid alone differs while the point tokens agree (§8.1).

Each function reads one failing output's ``localise.Evidence`` and returns its lines, each ending
with the section it points to.
"""

from __future__ import annotations

import numpy as np

from samspec.reference import DENSE, DENSE_PE, SPARSE

from .phase import OFF_CIRCLE, one_half
from .tokens import which_row


def sample_view(a, size=4096):
    """A strided view of about ``size`` values of ``a`` (every n-th index along its longest axis; no copy)."""
    if a.size <= size or a.ndim == 0:
        return a
    axis = int(np.argmax(a.shape))
    index = [slice(None)] * a.ndim
    index[axis] = slice(None, None, a.size // size + 1)
    return a[tuple(index)]


def same(a, b, tol) -> bool:
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
        if candidate.shape == got.shape and same(got, candidate, tol):
            return f"the {what} is the expected one {words} ({'§11.2' if 'channel' in words else section})"
    return None


def dense_shape(ev):
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
        where = "§8.2" if ev.key == DENSE_PE else ("§9.1" if ev.inputs.get("masks") is not None else "§10")
        if got.shape[:2] == expected.shape[:2] and same(got, np.swapaxes(expected, 2, 3), ev.tol):
            return [f"the {what} is (h, w)-transposed: shape {got.shape} where {expected.shape} is expected ({where})"]
        if ev.key == DENSE_PE and got.shape[0] == expected.shape[0]:  # the grid depends on the configuration only
            return [
                f"the {what} has (C, h, w) = {got.shape[1:]} where {expected.shape[1:]} is expected (not the "
                f"expected grid transposed): it is built for another configuration (§8.2)"
            ]
        if got.shape[:2] == expected.shape[:2]:
            return [
                f"the {what} has (h, w) = {got.shape[2:]} where {expected.shape[2:]} is expected, with other values "
                f"than the expected ones transposed: it is built for another embedding size ({where})"
            ]
    if expected.ndim == 4 and expected.shape[0] == 1 and same(got, expected[0], ev.tol):
        return [f"the {what} has shape {got.shape}: the expected one without its batch axis of 1 (§11.2)"]
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
    varies = np.max(np.abs(e - e[:, :1])) > tol  # a map constant over the pixels says nothing per channel
    if e.shape[1] >= 3 and len(bad) and varies:
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


def dense(ev):
    got, expected, tol = ev.got, ev.expected, ev.tol
    has_mask = ev.inputs.get("masks") is not None
    where = "the downscaled mask (the mask path)" if has_mask else "the no-mask embedding"
    lines = []
    moved = _spatial_rearrangement(got, expected, tol, "dense embedding", "§9.1" if has_mask else "§10")
    if moved:
        return [moved]
    pattern = _channel_pattern(got, expected, tol)
    if not has_mask:
        used = which_row(got[0, :, 0, 0], ev) if got.size and np.max(np.abs(got - got[:, :, :1, :1])) <= tol else None
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
        f"(§9; an adapter's `trace()` shows which of its stages differs first)"
    ]


def grid(ev):
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
        if same(got, candidate, tol):
            return [f"the dense positional grid is the expected one {words} (§4.2)"]
    halves = one_half(np.moveaxis(got, 1, -1), np.moveaxis(expected, 1, -1), tol)
    if halves:
        return [f"the grid's channels: {halves} (§4.2)"]
    norms = got[:, :half] ** 2 + got[:, half:] ** 2
    if np.max(np.abs(norms - 1.0)) > max(1e3 * tol, OFF_CIRCLE):
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
