"""`samspec fixtures verify`: a fixture set checked whole (schema, paths, every sha256 and header,
no unlisted ``.npy`` file, every expected value and stage recomputed by the reference)."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import FileProblem
from .folder import fixture_root
from .load import Reader, load_case
from .manifest import read_manifest
from .npy import INTEGER_DTYPES, npy_array


def _npy_files(root: Path, prefix: str = "") -> list:
    """The relative paths of the .npy entries under ``root``; symlinks are listed, never followed
    or stat'ed (a symlinked folder is not entered)."""
    found = []
    with os.scandir(os.path.join(root, prefix) if prefix else root) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            relative = f"{prefix}{entry.name}"
            if entry.is_dir(follow_symlinks=False):
                found += _npy_files(root, relative + "/")
            elif entry.name.endswith(".npy"):
                found.append(relative)
    return found


def verify(root=None, log=print) -> list:
    """Check schema, paths, every sha256 and header, and recompute every expected value and stage
    with the reference. Raises FixtureError when the set cannot be read at all; otherwise returns
    a list of problems (empty when the set is sound), each naming its case or file."""
    root = fixture_root(root)
    manifest = read_manifest(root)
    reader = Reader(root, manifest)
    problems = []
    for relative in manifest["sha256"]:
        try:
            npy_array(*reader.data(relative), root / relative, ("<f8",) + INTEGER_DTYPES)
        except FileProblem as exc:
            problems.append(str(exc))
    for relative in _npy_files(root):
        if relative not in manifest["sha256"]:
            problems.append(f"{root / relative}: not listed in manifest.json")
    for entry in manifest["cases"]:
        case = load_case(reader, manifest, entry, with_stages=True)
        if case.fixture_error and not any(p in case.fixture_error for p in problems):
            problems.append(case.fixture_error)
        elif not case.fixture_error:
            log(f"verified {case.id}: {len(case.expected) + len(case.stages)} arrays")
    return problems
