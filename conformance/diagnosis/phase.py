"""The phase of the Fourier features (spec §4): whether a port's positional encoding is the right
sinusoids of a systematically wrong argument, which no rounding gives.

Each channel pair (sin A, cos A) of a positional encoding (§4.2) carries one argument A (§4.1), so
the port's error in the argument is recoverable element by element, from its pair and the
reference's:

    delta = angle((cos A' + i sin A') * conj(cos A + i sin A))          wrapped to (-pi, pi]

Rounding (a port computing in float16, §11.3) gives phase errors of random sign, of the size of the
lower dtype's ulp of A: no straight line through (A, delta) describes them all. A systematic error
in the argument (a constant of §4.1 written differently, such as pi in float16, or a phase offset)
gives delta = kappa * A + beta for every element of the output, every token and channel, or every
cell and channel: such a line explains all of it (``SYSTEMATIC``).

A port whose phase error is systematic gets no precision claim, and no allowance for rounding
differently from a variant that rounds on purpose; its localisation says the argument differs (§4.1).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from samspec.reference import DENSE_PE, SPARSE

from .tokens import reference_tokens

SYSTEMATIC = 0.99  # the share of the phase error's energy one line kappa * A + beta must explain
ELEMENTS = 16  # at least this many (sin, cos) pairs, and arguments spread over at least a radian
CELLS = 512  # the grid's cells read at most (evenly spaced)
UNIT = 0.05  # every pair the port gives has a norm within this of 1 (a sinusoid of some argument)
# sin^2 + cos^2 further than this from 1 is no sin/cos pair: beyond what bfloat16 rounding (2^-8 of each
# feature, about 0.008 on the sum) moves it, and far below what a wrong function (sin twice, |cos|) does
OFF_CIRCLE = 1e-2


class ArgumentFit(NamedTuple):
    """The port's phase error as a straight line of the argument: delta = kappa * A + beta."""

    kappa: float
    beta: float
    explained: float  # the share of sum(delta^2) the line explains
    pairs: int  # how many (sin, cos) pairs were read

    def line(self, what: str) -> str:
        offset = f" {'+' if self.beta >= 0 else '-'} {abs(self.beta):.2g}" if abs(self.beta) > 1e-12 else ""
        return (
            f"the {what} are sinusoids of an argument off by {self.kappa:.3g} x A{offset} in every one of their "
            f"{self.pairs} (sin, cos) pairs (the line explains {self.explained:.1%} of the phase error): a "
            f"systematic error in the Fourier argument, not rounding: one of its constants (2 pi, the Gaussian "
            f"matrix's scale) or an offset differs (§4.1)"
        )


def phase_error(port_features, reference_features):
    """delta (..., C/2): the argument of each (sin, cos) pair of the port minus the reference's, wrapped."""
    half = reference_features.shape[-1] // 2
    port = port_features[..., half:] + 1j * port_features[..., :half]
    reference = reference_features[..., half:] + 1j * reference_features[..., :half]
    return np.angle(port * np.conj(reference))


def feature_pairs(key, got, expected, trace, conventions, inputs):
    """(port features (n, C), reference features (n, C), arguments (n, C/2)) of an output that holds
    positional encodings: the dense grid's cells, or the sparse tokens that keep their encoding
    (the port's part being its token minus the reference's token plus the reference's encoding).
    None where the output holds none, or its shape differs."""
    if got.shape != expected.shape:
        return None
    if key == DENSE_PE and "dense_pe.fourier_argument" in trace and got.ndim == 4 and got.shape[0] == 1:
        channels = got.shape[1]
        cells = slice(None, None, got[0, 0].size // CELLS + 1)  # every n-th cell: a line is seen on a few
        return (
            got[0].reshape(channels, -1).T[cells],
            expected[0].reshape(channels, -1).T[cells],
            np.asarray(trace["dense_pe.fourier_argument"], dtype=np.float64).reshape(-1, channels // 2)[cells],
        )
    if key != SPARSE or got.ndim != 3:
        return None
    rows = reference_tokens(trace, conventions, inputs, expected.shape[0])
    found = [
        (got[b, n] - expected[b, n] + token.pe, token.pe, token.argument)
        for b, row in enumerate(rows)
        if len(row) == got.shape[1]
        for n, token in enumerate(row)
        if token.keep and token.pe is not None and token.argument is not None
    ]
    if not found:
        return None
    return tuple(np.stack(parts).astype(np.float64) for parts in zip(*found))


def argument_fit(port, reference, argument):
    """The ``ArgumentFit`` of the port's phase error when one line explains it (see the module
    docstring), else None: too few pairs, no phase error, pairs that are no sinusoids, or an error
    no line describes."""
    if argument.size < ELEMENTS or np.ptp(argument) < 1.0:
        return None
    half = reference.shape[-1] // 2
    norms = np.sqrt(port[..., :half] ** 2 + port[..., half:] ** 2)
    if not np.all(np.abs(norms - 1.0) <= UNIT):
        return None
    delta = phase_error(port, reference).ravel()
    energy = float(delta @ delta)
    if energy == 0.0:
        return None
    design = np.stack([argument.ravel(), np.ones(delta.size)], axis=1)
    (kappa, beta), *_ = np.linalg.lstsq(design, delta, rcond=None)
    residual = delta - design @ np.array([kappa, beta])
    explained = 1.0 - float(residual @ residual) / energy
    if explained < SYSTEMATIC:
        return None
    return ArgumentFit(float(kappa), float(beta), explained, int(argument.size))


def systematic_argument(key, got, expected, trace, conventions, inputs):
    """The ``ArgumentFit`` of one failing output's positional encodings, or None."""
    pairs = feature_pairs(key, got, expected, trace, conventions, inputs)
    return None if pairs is None else argument_fit(*pairs)


def one_half(got, expected, tol):
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
