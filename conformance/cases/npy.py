"""Arrays on disk: the ``.npy`` encoding a fixture set writes (explicit little-endian float64, or an
integer dtype of its own width, constant axes reduced) and the checked decoding it reads back
(header parsed by NumPy's own literal parser, dtype, order, shape and size checked before the array
is built)."""

from __future__ import annotations

import io
import math

import numpy as np

from .errors import FileProblem, one_line

# the integer dtypes a fixture file may hold (little-endian, any width, signed or unsigned): labels are
# int64, points and boxes int64 when integer, masks any of these (spec §9.5)
INTEGER_DTYPES = ("|i1", "<i2", "<i4", "<i8", "|u1", "<u2", "<u4", "<u8")


def npy_bytes(array) -> bytes:
    """The .npy encoding of an array with an explicit little-endian dtype: float64 for real values,
    an integer array in its own width and signedness (an int32 or uint8 mask stays one), else int64."""
    array = np.asarray(array)
    if array.dtype.kind == "f":
        kind = "<f8"
    elif array.dtype.kind in "iu":
        kind = array.dtype.newbyteorder("<").str
    else:
        kind = "<i8"
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array, dtype=kind), allow_pickle=False)
    return buffer.getvalue()


def compact(array):
    """Reduce every axis along which ``array`` is constant to length 1; returns (reduced, full shape)."""
    array = np.asarray(array)
    reduced = array
    for axis in range(array.ndim):
        if reduced.shape[axis] > 1:
            first = reduced.take([0], axis=axis)
            if np.array_equal(reduced, np.broadcast_to(first, reduced.shape)):
                reduced = first
    return reduced, list(array.shape)


def npy_header(data: bytearray, path) -> tuple:
    """(shape, fortran_order, dtype, data offset) of a .npy file's bytes, read with NumPy's own
    header parser (a literal dict: nothing is evaluated, nothing unpickled)."""
    stream = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(stream)
        read_header = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
        if version not in read_header:
            raise ValueError(f"format version {version} (expected 1.0 or 2.0)")
        shape, fortran_order, dtype = read_header[version](stream)
    except Exception as exc:  # a malformed header: ValueError, SyntaxError, ...
        raise FileProblem(f"{path}: not a valid .npy header ({one_line(exc)})") from None
    return tuple(shape), fortran_order, dtype, stream.tell()


def npy_array(data: bytearray, header: tuple, path, dtypes: tuple, shape=None) -> np.ndarray:
    """The array of a .npy file whose header was read: dtype among ``dtypes``, C order, ``shape``
    (under the broadcast rule) and the file's size checked first; the array is a view of ``data``
    (nothing is allocated)."""
    found_shape, fortran_order, dtype, offset = header
    if dtype.str not in dtypes:
        raise FileProblem(f"{path}: dtype {dtype.str!r}; expected {' or '.join(map(repr, dtypes))}")
    if fortran_order:
        raise FileProblem(f"{path}: Fortran order; fixture files are C order")
    if shape is not None and not broadcastable(found_shape, shape):
        raise FileProblem(f"{path}: shape {found_shape}; the manifest says {tuple(shape)}")
    count = math.prod(found_shape)
    if len(data) - offset != count * dtype.itemsize:
        raise FileProblem(
            f"{path}: holds {len(data) - offset} data bytes; its header declares {found_shape} "
            f"{dtype.str} ({count * dtype.itemsize} bytes)"
        )
    return np.frombuffer(data, dtype=dtype, count=count, offset=offset).reshape(found_shape)


def broadcastable(stored, shape) -> bool:
    """A stored (possibly reduced) shape against the manifest's full shape (the broadcast rule)."""
    return len(stored) == len(shape) and all(s == n or s == 1 for s, n in zip(stored, shape))
