"""A port in any language, judged from the `.npy` files it wrote (`samspec check --outputs DIR`).

Layout (docs/other-languages.md)::

    DIR/<case id>/<output key>.npy      e.g. DIR/labels.foreground/prompt_sparse_embeddings.npy

one file per output of each fixture case, in the port's profile conventions (the `sam` profile by
default: sparse (B, N', C), dense (B, C, h, w), dense positional (1, C, h, w)), in the dtype the
port computes in (float16, float32 or float64: the tolerance model judges by it). This adapter only
reads: ``build`` does nothing, ``begin_case(case_id)`` (called by the checker before ``run``) says
which case is next, and ``run`` returns that case's files. A missing file is an error for that
case; a file that is not a plain numeric ``.npy`` (pickled objects, a header that does not match
the file's size, a symlink leading out of DIR) is refused before anything is allocated.

``run_exec`` runs the port's own program first (`samspec check --exec "CMD {fixtures} {out}"`).
"""

from __future__ import annotations

import ast
import os
import shlex
import subprocess
from pathlib import Path

import numpy as np

from samspec.reference import OUTPUT_KEYS

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


def read_npy(path: Path) -> np.ndarray:
    """A .npy file as an array: version 1.0-3.0, a numeric little/big-endian or byte dtype, C or
    Fortran order; the header is checked against the file's size before the data is read."""
    with open(path, "rb") as handle:
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
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        data_bytes = count * dtype.itemsize
        remaining = os.fstat(handle.fileno()).st_size - handle.tell()
        if remaining != data_bytes:
            raise OutputsError(
                f"{path}: the header says shape {shape} of {descr} ({data_bytes} bytes) but the file holds "
                f"{remaining} bytes of data"
            )
        data = np.frombuffer(handle.read(data_bytes), dtype=dtype, count=count)
    return data.reshape(shape, order="F" if fortran else "C")


class OutputsAdapter:
    """Reads ``DIR/<case id>/<output key>.npy``; conversion only (here: none), as every adapter."""

    def __init__(self, directory, profile: str = "sam", name: str | None = None):
        self.root = Path(directory).resolve()
        if not self.root.is_dir():
            raise OutputsError(f"--outputs {directory}: not a folder")
        self.profile = profile
        self.name = name or f"outputs:{directory}"
        self.case_id = None

    def build(self, config, params) -> None:
        """Nothing to build: the port ran elsewhere."""

    def begin_case(self, case_id: str) -> None:
        self.case_id = case_id

    def run(self, points=None, labels=None, boxes=None, masks=None) -> dict:
        if self.case_id is None:
            raise OutputsError("run() before begin_case(case_id): the outputs adapter needs to know the case")
        folder = self.root / self.case_id
        files = {key: folder / f"{key}.npy" for key in OUTPUT_KEYS}
        missing = [str(path.relative_to(self.root)) for path in files.values() if not path.exists()]
        if missing:
            raise OutputsError(f"missing file {', '.join(missing)} in {self.root}")
        return {key: read_npy(_inside(self.root, path)) for key, path in files.items()}


def run_exec(template: str, fixtures_dir, out_dir, timeout: float | None = None) -> tuple:
    """Run a port's program once: ``template`` is split like a shell command line (shlex, no shell
    runs it) and ``{fixtures}`` / ``{out}`` in each word become the two folders. Returns (exit
    status, stdout and stderr together); a program that cannot be started is status 127 and one
    still running after ``timeout`` seconds is killed, status 124."""
    try:
        words = shlex.split(template)
    except ValueError as exc:
        raise ValueError(f"--exec {template!r}: {exc}") from None
    if not words:
        raise ValueError('--exec: empty command; expected e.g. "ports/c/samspec_c {fixtures} {out}"')
    if not any("{out}" in word for word in words):
        raise ValueError(f"--exec {template!r}: no {{out}} in the command; the program must be told where to write")
    argv = [word.replace("{fixtures}", str(fixtures_dir)).replace("{out}", str(out_dir)) for word in words]
    try:
        done = subprocess.run(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except FileNotFoundError:
        return 127, f"cannot run {argv[0]!r}: no such program"
    except PermissionError:
        return 126, f"cannot run {argv[0]!r}: not executable"
    except subprocess.TimeoutExpired as exc:
        captured = (exc.output or b"").decode("utf-8", "replace")
        return 124, captured + f"\n{argv[0]} still running after {timeout:g} s: killed"
    return done.returncode, done.stdout.decode("utf-8", "replace")
