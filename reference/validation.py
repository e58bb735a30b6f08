"""Spec §13: checks on the encoder's inputs. Each error names the argument, what was expected
and what was received; nothing is coerced silently and nothing is modified in place."""

from __future__ import annotations

import math
import numbers

from .backend import Array, DType, Namespace


def _describe(value: object) -> str:
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if shape is None:
        return f"{type(value).__name__} {value!r}"[:200]
    return f"shape {tuple(shape)} and dtype {dtype}"


def as_array(name: str, value: object, xp: Namespace) -> Array:
    """``value`` as an array of namespace ``xp`` (no copy where it already is one).

    Lists and other arrays are accepted and converted; bool and complex dtypes are refused."""
    try:
        array = xp.asarray(value)
    except Exception as exc:
        raise TypeError(f"{name}: expected an array; received {_describe(value)} ({exc})") from exc
    if xp.isdtype(array.dtype, "bool") or not xp.isdtype(array.dtype, ("integral", "real floating")):
        raise TypeError(f"{name}: expected a real integer or floating dtype; received {_describe(array)}")
    return array


def check_rank_and_shape(name: str, array: Array, expected: tuple, meaning: str) -> None:
    """``expected`` is a tuple of ints and None (any size); ``meaning`` spells the axes out."""
    shape = tuple(array.shape)
    if len(shape) != len(expected) or any(e is not None and e != s for e, s in zip(expected, shape)):
        spelled = "(" + ", ".join("*" if e is None else str(e) for e in expected) + ")"
        raise ValueError(f"{name}: expected shape {spelled} {meaning}; received {_describe(array)}")


def check_shape_among(name: str, array: Array, shapes: tuple, meaning: str) -> None:
    """``array`` has one of ``shapes`` (each a tuple of ints and None, as for ``check_rank_and_shape``)."""
    shape = tuple(array.shape)
    for expected in shapes:
        if len(shape) == len(expected) and all(e is None or e == s for e, s in zip(expected, shape)):
            return
    spelled = " or ".join("(" + ", ".join("*" if e is None else str(e) for e in expected) + ")" for expected in shapes)
    raise ValueError(f"{name}: expected shape {spelled} {meaning}; received {_describe(array)}")


def check_finite(name: str, array: Array, xp: Namespace) -> None:
    if xp.isdtype(array.dtype, "real floating") and not bool(xp.all(xp.isfinite(array))):
        bad = xp.reshape(~xp.isfinite(array), (-1,))
        count = int(xp.sum(xp.astype(bad, xp.int64)))
        raise ValueError(f"{name}: expected finite values; received {count} NaN or inf value(s)")


def cast_finite(name: str, array: Array, dtype: DType, xp: Namespace) -> Array:
    """``array`` (already through ``check_finite``) in the compute dtype; values that overflow it
    (e.g. 1e5 in float16) are refused."""
    cast = xp.astype(array, dtype, copy=False)
    if cast.dtype != array.dtype and not bool(xp.all(xp.isfinite(cast))):  # (the same dtype: checked already)
        largest = float(xp.max(xp.abs(xp.astype(array, xp.float64))))
        raise ValueError(
            f"{name}: expected values representable in {xp.finfo(dtype).dtype} (|value| <= "
            f"{float(xp.finfo(dtype).max):.6g}); "
            f"received values up to {largest:.6g}"
        )
    return cast


def check_labels(labels: Array, allowed: tuple, profile: str | None, xp: Namespace) -> None:
    """Labels of an integer dtype, each one of ``allowed`` (the profile's rule, §5.2); ``profile``
    names the profile in the message (None: a stage function called with a rule)."""
    if not xp.isdtype(labels.dtype, "integral"):
        raise TypeError(
            f"labels: expected an integer dtype (labels are category codes, e.g. int32/int64); "
            f"received {_describe(labels)}"
        )
    ok = xp.zeros(labels.shape, dtype=xp.bool)
    for value in allowed:
        ok = ok | (labels == value)
    if not bool(xp.all(ok)):
        unknown = sorted({int(v) for v in xp.unique_values(labels[~ok])})
        where = f"under profile {profile!r}" if profile is not None else "(the label rule's allowed values)"
        raise ValueError(
            f"labels: expected values in {list(allowed)} {where}; received unknown label value(s) {unknown}"
        )


def check_positive_finite(name: str, value: object) -> float:
    """A real number, finite and > 0 (e.g. LayerNorm's eps, §9.2); returned as a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a finite number > 0; received {_describe(value)}")
    number = float(value)
    if not (number > 0 and number < float("inf")):
        raise ValueError(f"{name}: expected a finite number > 0; received {number!r}")
    return number


def check_representable(name: str, values: tuple, dtype: DType, xp: Namespace) -> None:
    """Configuration values (sizes, scales) that the compute dtype must hold: each below finfo.max."""
    largest = float(xp.finfo(dtype).max)
    too_large = [v for v in values if abs(float(v)) > largest]
    if too_large:
        raise ValueError(
            f"{name}: expected values representable in {xp.finfo(dtype).dtype} (<= {largest:.6g}), since every stage "
            f"computes in it (§1.3); received {tuple(values)}"
        )


def check_stages(stages: object, known: dict) -> None:
    """``SAMPromptEncoder(stages=...)``: None, or a dict of known stage names -> callables."""
    if stages is None:
        return
    if not isinstance(stages, dict):
        raise TypeError(f"stages: expected a dict of stage name -> function; received {type(stages).__name__}")
    unknown = sorted(set(stages) - set(known))
    if unknown:
        raise ValueError(f"stages: expected names among {sorted(known)}; received {unknown}")
    for name, stage in stages.items():
        if not callable(stage):
            received = f"{type(stage).__name__} {stage!r}"
            raise TypeError(f"stages[{name!r}]: expected a function like {name}; received {received}"[:300])


def check_batch_sizes(sizes: dict) -> int | None:
    """All given inputs must agree on the batch size; returns it (None when nothing is given)."""
    given = {name: size for name, size in sizes.items() if size is not None}
    if len(set(given.values())) > 1:
        spelled = ", ".join(f"{name} has {size}" for name, size in given.items())
        raise ValueError(f"batch size: expected every input to have the same batch size; received {spelled}")
    return next(iter(given.values()), None)


def check_fourier_range(gaussian: Array, dtype: DType, xp: Namespace) -> None:
    """§4.1 for a point inside the image: |2 pi (2u - 1) G| <= 2 pi (|G_0j| + |G_1j|), which must be
    representable in the compute dtype (a float16 G of ~1e4 would make every argument inf)."""
    bound = 2.0 * 3.141592653589793 * float(xp.max(xp.sum(xp.abs(xp.astype(gaussian, xp.float64)), axis=0)))
    largest = float(xp.finfo(dtype).max)
    if not bound <= largest:
        raise ValueError(
            f"params['pe_layer.positional_encoding_gaussian_matrix']: expected 2*pi*(|G[0, j]| + |G[1, j]|) <= "
            f"{largest:.6g} so that §4.1's argument is representable in {xp.finfo(dtype).dtype}; received a "
            f"bound of {bound:.6g}"
        )


def check_convolution_range(masks: Array, weight: Array, bias: Array, xp: Namespace) -> None:
    """§9.1 on these masks must stay representable in their dtype: the bound
    max|mask| * max_o sum_{c,di,dj} |weight[o]| + max|bias| of the first convolution's output."""
    wide = xp.float64
    gain = float(xp.max(xp.sum(xp.reshape(xp.abs(xp.astype(weight, wide)), (weight.shape[0], -1)), axis=1)))
    # max |mask| exactly, in the masks' own dtype and without a temporary (the masks are finite here)
    largest_mask = max(float(xp.max(masks)), -float(xp.min(masks))) if masks.shape[0] else 0.0
    bound = largest_mask * gain + float(xp.max(xp.abs(xp.astype(bias, wide))))
    limit = float(xp.finfo(masks.dtype).max)
    if not bound <= limit:
        raise ValueError(
            f"masks: expected values whose §9.1 convolutions are representable in {xp.finfo(masks.dtype).dtype} "
            f"(|value| <= {(limit - float(xp.max(xp.abs(xp.astype(bias, wide))))) / gain:.6g} with these weights); "
            f"received values up to {largest_mask:.6g}"
        )


def check_fourier_argument(
    name: str, coords: Array, input_image_size: tuple[int, int], gaussian_abs: Array, dtype: DType, xp: Namespace
) -> None:
    """§3.2–§4.1 for these points or corners: 2u - 1 and the argument A = 2*pi * (2u - 1) @ G must be
    finite in the compute dtype (a float32 point at 3.4e38 with an 8-pixel image, or a float64 one
    at 1e308 with a 1-pixel image, would give inf, then NaN tokens).

        coords: (..., 2) pixels as (x, y), already in the compute dtype; input_image_size: (H, W);
        gaussian_abs: |G| in float64, (2, C/2)

    First a looser bound from the largest |coordinate| alone (two reductions); where it fails, the
    bound that is exact in real arithmetic, from each axis's extreme coordinates:
    max_k 2*pi * (max|2u_x - 1| |G[0, k]| + max|2u_y - 1| |G[1, k]|), in float64 (where an
    overflow is inf).
    """
    if 0 in tuple(coords.shape):
        return
    largest = float(xp.finfo(dtype).max)
    height, width = input_image_size
    extreme = max(abs(float(xp.max(coords))), abs(float(xp.min(coords))))
    strongest = float(xp.max(gaussian_abs[0, :] + gaussian_abs[1, :]))
    loose = 2.0 * (extreme + 0.5) / min(height, width) + 1.0  # >= |2u - 1| on both axes
    if loose + 1.0 <= largest and 2.0 * math.pi * loose * strongest <= largest:
        return  # the usual case, decided by a looser bound from two reductions
    centred = [_extreme_centred(coords[..., 0], float(width), xp), _extreme_centred(coords[..., 1], float(height), xp)]
    bound = math.inf
    if max(centred) + 1.0 <= largest:
        bound = 2.0 * math.pi * float(xp.max(centred[0] * gaussian_abs[0, :] + centred[1] * gaussian_abs[1, :]))
        if bound <= largest:
            return
    allowed = largest * min(height, width) / (4.0 * math.pi * (strongest or 1.0))
    raise ValueError(
        f"{name}: expected pixel coordinates whose §4.1 Fourier argument 2*pi*(2u - 1) @ G is finite in "
        f"{xp.finfo(dtype).dtype} (|coordinate| up to about {allowed:.3g} for input_image_size "
        f"{tuple(input_image_size)} and these parameters); received values up to {extreme:.6g}, giving "
        + (f"an argument of up to {bound:.3g}" if math.isfinite(bound) else f"|2u - 1| up to {max(centred):.3g}")
    )


def _extreme_centred(values: Array, size: float, xp: Namespace) -> float:
    """max |2u - 1| over pixel coordinates ``values`` along an axis of ``size`` pixels, u = (p + 0.5) / size
    (§3.1, §3.2), a Python float (inf where it overflows float64). |2u - 1| is convex in p: its
    largest value is at the smallest or the largest coordinate."""
    return max(abs(2.0 * (float(extreme(values)) + 0.5) / size - 1.0) for extreme in (xp.max, xp.min))
