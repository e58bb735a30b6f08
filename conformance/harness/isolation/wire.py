"""What crosses the process boundary between samspec and a port's worker, and how it is checked.

The worker converts what the adapter returns into plain NumPy arrays (``to_plain_outputs``), refusing an
output larger than the case can need before it is sent. The parent reads each answer with a restricted
unpickler (NumPy arrays of plain dtypes, numbers, strings and containers only), and refuses an answer
longer than ``largest`` bytes from its length header, before reading it.
"""

from __future__ import annotations

import io
import math
import pickle

import numpy as np

from ...port_text import safe_text

ANSWER_SLACK = 1 << 20  # bytes of an answer beyond its arrays' values (pickle framing, keys)
LARGEST_ANSWER = 1 << 30  # bytes: the largest answer without a case limit (build, trace)
OUTPUT_FACTOR = 8  # an output may hold at most 8x the values the case's expected outputs hold ...
OUTPUT_SLACK = 1 << 20  # ... plus this many, before the worker refuses to send it


_PLAIN_KINDS = "biufc"  # bool, ints, floats, complex: never strings, objects or structured records


def to_plain_outputs(raw, limit: int | None) -> dict:
    """The adapter's ``run`` result as {key: ndarray or None}: checked before anything is converted.

    Raises TypeError/ValueError with a message for the verdict when the result is not a mapping of
    arrays, or an output is larger than ``limit`` values (checked on the declared shape first).
    """
    if not hasattr(raw, "items"):
        raise TypeError(f"run() returned {type(raw).__name__}, expected a dict of output arrays")
    outputs = {}
    for key, value in raw.items():
        if not isinstance(key, str):
            raise TypeError(
                f"run() returned a dict with key {key!r} of type {type(key).__name__}; keys are output names"
            )
        if value is None:
            outputs[key] = None
            continue
        shape = getattr(value, "shape", None)
        if shape is not None and limit is not None:
            try:
                size = math.prod(int(n) for n in shape)
            except (TypeError, ValueError):
                size = None
            if size is not None and size > limit:
                raise ValueError(
                    f"output {key!r} has shape {tuple(int(n) for n in shape)} ({size:,} values), more than "
                    f"{limit:,} that this case can need; it was not transferred"
                )
        try:
            array = np.asarray(value)
        except Exception as exc:  # e.g. a torch tensor that requires grad
            raise TypeError(
                f"output {key!r} ({type(value).__name__}) is not convertible to a NumPy array: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if array.dtype.kind not in _PLAIN_KINDS:
            raise TypeError(
                f"output {key!r} has dtype {array.dtype} ({type(value).__name__}); expected a numeric array"
            )
        if limit is not None and array.size > limit:
            raise ValueError(
                f"output {key!r} has shape {array.shape} ({array.size:,} values), more than {limit:,} "
                "that this case can need; it was not transferred"
            )
        outputs[key] = np.ascontiguousarray(array)
    return outputs


MAX_TRACE_STAGES = 200  # the reference traces about 20 stages
MAX_STAGE_NAME = 100  # characters


def to_plain_trace(raw, limit: int | None = None) -> dict:
    """A ``trace`` result as {stage name: ndarray}, bounded so that a report stays small: at most
    MAX_TRACE_STAGES stages, names of at most MAX_STAGE_NAME characters, each stage at most ``limit``
    values. Raises TypeError/ValueError with a message for the trace's note otherwise."""
    if not hasattr(raw, "items"):
        raise TypeError(f"trace() returned {type(raw).__name__}, expected a dict of stage arrays")
    kept = {}
    for count, (name, value) in enumerate(raw.items()):
        if count >= MAX_TRACE_STAGES:
            raise ValueError(f"trace() returned more than {MAX_TRACE_STAGES} stages; the reference has about 20")
        if isinstance(name, str) and len(name) > MAX_STAGE_NAME:
            raise ValueError(
                f"trace() returned a stage name of {len(name):,} characters (at most {MAX_STAGE_NAME}): "
                f"{safe_text(name, 60)!r}"
            )
        kept[name] = value
    return to_plain_outputs(kept, limit)


class _SafeUnpickler(pickle.Unpickler):
    """Only what the worker legitimately sends: NumPy arrays and dtypes, builtin containers."""

    ALLOWED = {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy.dtypes", None),  # dtype classes: numpy.dtypes.Float64DType, ...
        ("builtins", "complex"),
    }

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED or (module, None) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"the worker sent a {module}.{name}, which samspec does not accept")


class TooLarge(Exception):
    pass


def receive(connection, largest: int = LARGEST_ANSWER):
    """The worker's next answer, unpickled with the restricted unpickler; an answer of more than
    ``largest`` bytes is refused from its length header, before it is read."""
    try:
        data = connection.recv_bytes(largest)
    except OSError as exc:
        if "bad message length" in str(exc):
            raise TooLarge() from None
        raise
    try:
        return _SafeUnpickler(io.BytesIO(data)).load()
    except Exception as exc:  # a forbidden class (named), a truncated or forged pickle
        if str(exc).startswith("the worker sent"):
            raise
        raise pickle.UnpicklingError(
            f"the worker sent an answer samspec cannot read ({type(exc).__name__}: {safe_text(exc, 200)})"
        ) from None
