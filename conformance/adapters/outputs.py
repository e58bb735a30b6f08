"""A port in any language, judged from the `.npy` files it wrote (`samspec check --outputs DIR`).

Layout (docs/other-languages.md)::

    DIR/<case id>/<output key>.npy      e.g. DIR/labels.foreground/prompt_sparse_embeddings.npy

one file per output of each fixture case, in the port's profile conventions (the `sam` profile by
default: sparse (B, N', C), dense (B, C, h, w), dense positional (1, C, h, w)), in the dtype the
port computes in (float16, float32 or float64: the tolerance model judges by it). This adapter only
reads, in the port's worker process like any adapter: ``build`` does nothing, ``begin_case(case_id)``
(called by the checker before ``run``) says which case is next, and ``run`` returns that case's files.
A missing file is an error of the output it concerns (``missing``); a case folder with none of them is an
error of the case. Only regular files are opened, and without blocking: a FIFO, a socket or a device is
refused without being opened. A file that is not a plain numeric ``.npy`` (pickled objects, a header that
does not match the file's size, a symlink leading out of DIR) or whose header declares more values than
the case can need (``value_limit``) is refused before any data is read. ``unknown_files`` lists what a
case folder holds besides its outputs (a warning, or an error under ``--strict``).

``run_exec`` (program.py) runs the port's own program first (`samspec check --exec "CMD {fixtures} {out}"`).
"""

from __future__ import annotations

import ast
import os
import stat
from pathlib import Path

import numpy as np

from samspec.reference import OUTPUT_KEYS

from .program import run_exec  # noqa: F401  (the --exec runner, re-exported where it was)

MAGIC = b"\x93NUMPY"
MAX_HEADER = 65536  # bytes; numpy's own writer stays far below
ALLOWED_KINDS = "fiu"  # floating outputs are judged; an integer file fails with the checker's dtype message


class OutputsError(Exception):
    """A file of the outputs folder is missing, unreadable, or not a plain numeric .npy."""


def _inside(root: Path, path: Path) -> Path:
    """``path`` resolved, refused unless it stays under ``root`` (no symlink or '..' leads out)."""
    resolved = path.resolve()
    if resolved != root and root not in resolved.parents:
        raise OutputsError(f"{path} leads out of the outputs folder {root} (a symlink or '..'); refused")
    return resolved


_KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFSOCK: "a socket", stat.S_IFCHR: "a character device"}
_KINDS.update({stat.S_IFBLK: "a block device", stat.S_IFDIR: "a folder", stat.S_IFLNK: "a symlink"})


def _open_regular(path: Path):
    """``path`` opened for reading if it is a regular file; never blocks (a FIFO is refused unopened, and
    the open itself is non-blocking in case the file was swapped meanwhile)."""
    try:
        kind = stat.S_IFMT(os.stat(path).st_mode)
    except OSError as exc:
        raise OutputsError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if kind != stat.S_IFREG:
        raise OutputsError(f"{path}: {_KINDS.get(kind, 'not a regular file')}, not a regular file; refused")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise OutputsError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OutputsError(f"{path}: not a regular file; refused")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def read_npy(path: Path, value_limit: int | None = None) -> np.ndarray:
    """A .npy file as an array: version 1.0-3.0, a numeric little/big-endian or byte dtype, C or
    Fortran order; a regular file only. The header is checked against ``value_limit`` (values) and the
    file's size before any data is read."""
    with _open_regular(path) as handle:
        head = handle.read(10)
        if len(head) < 10 or head[:6] != MAGIC:
            raise OutputsError(f"{path}: not a .npy file (no \\x93NUMPY magic)")
        major = head[6]
        if major == 1:
            length = int.from_bytes(head[8:10], "little")
        elif major in (2, 3):
            more = handle.read(2)
            length = int.from_bytes(head[8:10] + more, "little")
        else:
            raise OutputsError(f"{path}: .npy format version {major}.{head[7]} is not 1, 2 or 3")
        if length > MAX_HEADER:
            raise OutputsError(f"{path}: .npy header of {length} bytes (at most {MAX_HEADER})")
        text = handle.read(length).decode("latin-1")
        try:
            header = ast.literal_eval(text)
        except (SyntaxError, ValueError):
            raise OutputsError(f"{path}: unreadable .npy header {text[:80]!r}") from None
        if not isinstance(header, dict) or set(header) != {"descr", "fortran_order", "shape"}:
            raise OutputsError(f"{path}: .npy header must have descr, fortran_order and shape; got {text[:80]!r}")
        descr, fortran, shape = header["descr"], header["fortran_order"], header["shape"]
        if not isinstance(descr, str):
            raise OutputsError(f"{path}: dtype {descr!r} is structured; expected a plain numeric dtype like '<f4'")
        try:
            dtype = np.dtype(descr)
        except TypeError:
            raise OutputsError(f"{path}: unknown dtype {descr!r}") from None
        if dtype.kind not in ALLOWED_KINDS or dtype.hasobject:
            raise OutputsError(f"{path}: dtype {descr!r} is not numeric; expected '<f8', '<f4' or '<f2'")
        if (
            not isinstance(fortran, bool)
            or not isinstance(shape, tuple)
            or not all(isinstance(d, int) and d >= 0 for d in shape)
        ):
            raise OutputsError(f"{path}: bad shape {shape!r} or fortran_order {fortran!r} in the .npy header")
        count = _count(shape)
        if value_limit is not None and count > value_limit:
            raise OutputsError(
                f"{path}: the header declares shape {shape} ({count:,} values), more than {value_limit:,} that this "
                "case can need; refused before reading its data"
            )
        data_bytes = count * dtype.itemsize
        remaining = os.fstat(handle.fileno()).st_size - handle.tell()
        if remaining != data_bytes:
            raise OutputsError(
                f"{path}: the header says shape {shape} of {descr} ({data_bytes} bytes) but the file holds "
                f"{remaining} bytes of data"
            )
        data = np.frombuffer(handle.read(data_bytes), dtype=dtype, count=count)
    return data.reshape(shape, order="F" if fortran else "C")


def _count(shape) -> int:
    count = 1
    for n in shape:  # Python integers: a header's shape cannot overflow the count
        count *= n
    return count


def unknown_files(root, case_ids) -> list:
    """What the case folders of ``case_ids`` under ``root`` hold besides their output files (relative
    paths, sorted). Lists folders only: nothing is opened."""
    expected = {f"{key}.npy" for key in OUTPUT_KEYS}
    found = []
    for case_id in case_ids:
        folder = Path(root) / case_id
        try:
            names = sorted(entry.name for entry in os.scandir(folder))
        except OSError:
            continue
        found += [f"{case_id}/{name}" for name in names if name not in expected]
    return found


class OutputsAdapter:
    """Reads ``DIR/<case id>/<output key>.npy``; conversion only (here: none), as every adapter."""

    def __init__(self, directory, profile: str = "sam", name: str | None = None):
        self.root = Path(directory).resolve()
        if not self.root.is_dir():
            raise OutputsError(f"--outputs {directory}: not a folder")
        self.profile = profile
        self.name = name or f"outputs:{directory}"
        self.case_id = None
        self.value_limit = None  # the values an output may hold in this case (set by samspec before run)
        self.missing = {}

    def build(self, config, params) -> None:
        """Nothing to build: the port ran elsewhere."""

    def begin_case(self, case_id: str) -> None:
        self.case_id = case_id

    def run(self, points=None, labels=None, boxes=None, masks=None) -> dict:
        """The case's output files that exist; ``missing`` names the others (each an error of its output)."""
        if self.case_id is None:
            raise OutputsError("run() before begin_case(case_id): the outputs adapter needs to know the case")
        folder = self.root / self.case_id
        files = {key: folder / f"{key}.npy" for key in OUTPUT_KEYS}
        self.missing = {
            key: f"missing file {path.relative_to(self.root)} in {self.root}"
            for key, path in files.items()
            if not os.path.lexists(path)
        }
        if len(self.missing) == len(files):
            listed = ", ".join(str(path.relative_to(self.root)) for path in files.values())
            raise OutputsError(f"missing file {listed} in {self.root}")
        return {
            key: read_npy(_inside(self.root, path), self.value_limit)
            for key, path in files.items()
            if key not in self.missing
        }
