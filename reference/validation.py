"""Spec §13: checks on the encoder's inputs. Each error names the argument, what was expected
and what was received; nothing is coerced silently and nothing is modified in place."""

from __future__ import annotations


def _describe(value) -> str:
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if shape is None:
        return f"{type(value).__name__} {value!r}"[:200]
    return f"shape {tuple(shape)} and dtype {dtype}"


def as_array(name: str, value, xp):
    """``value`` as an array of namespace ``xp`` (no copy where it already is one).

    Lists and other arrays are accepted and converted; bool and complex dtypes are refused."""
    try:
        array = xp.asarray(value)
    except Exception as exc:
        raise TypeError(f"{name}: expected an array; received {_describe(value)} ({exc})") from exc
    if xp.isdtype(array.dtype, "bool") or not xp.isdtype(array.dtype, ("integral", "real floating")):
        raise TypeError(f"{name}: expected a real integer or floating dtype; received {_describe(array)}")
    return array


def check_rank_and_shape(name: str, array, expected: tuple, meaning: str) -> None:
    """``expected`` is a tuple of ints and None (any size); ``meaning`` spells the axes out."""
    shape = tuple(array.shape)
    if len(shape) != len(expected) or any(e is not None and e != s for e, s in zip(expected, shape)):
        spelled = "(" + ", ".join("*" if e is None else str(e) for e in expected) + ")"
        raise ValueError(f"{name}: expected shape {spelled} {meaning}; received {_describe(array)}")


def check_finite(name: str, array, xp) -> None:
    if xp.isdtype(array.dtype, "real floating") and not bool(xp.all(xp.isfinite(array))):
        bad = xp.reshape(~xp.isfinite(array), (-1,))
        count = int(xp.sum(xp.astype(bad, xp.int64)))
        raise ValueError(f"{name}: expected finite values; received {count} NaN or inf value(s)")


def cast_finite(name: str, array, dtype, xp):
    """``array`` in the compute dtype; values that overflow it (e.g. 1e5 in float16) are refused."""
    cast = xp.astype(array, dtype, copy=False)
    if not bool(xp.all(xp.isfinite(cast))):
        largest = float(xp.max(xp.abs(xp.astype(array, xp.float64))))
        raise ValueError(
            f"{name}: expected values representable in {xp.finfo(dtype).dtype} (|value| <= {float(xp.finfo(dtype).max):.6g}); "
            f"received values up to {largest:.6g}"
        )
    return cast


def check_labels(labels, allowed: tuple, profile: str, xp) -> None:
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
        raise ValueError(
            f"labels: expected values in {list(allowed)} under profile {profile!r}; received unknown "
            f"label value(s) {unknown}"
        )


def check_batch_sizes(sizes: dict) -> int | None:
    """All given inputs must agree on the batch size; returns it (None when nothing is given)."""
    given = {name: size for name, size in sizes.items() if size is not None}
    if len(set(given.values())) > 1:
        spelled = ", ".join(f"{name} has {size}" for name, size in given.items())
        raise ValueError(f"batch size: expected every input to have the same batch size; received {spelled}")
    return next(iter(given.values()), None)
