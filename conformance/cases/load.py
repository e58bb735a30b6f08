"""Loading a fixture set's cases: each file read once inside the folder, its sha256 and ``.npy``
header checked, NaN/inf refused in expected values and stages, and every case recomputed by the
float64 reference (what a port is compared with). A problem with one case's files or values makes
that case's ``fixture_error``; the other cases still load."""

from __future__ import annotations

import hashlib
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from samspec.reference import SAMPromptEncoder

from .errors import FileProblem, FixtureError, one_line
from .folder import MAX_FILE_BYTES, Folder, fixture_root
from .manifest import read_manifest
from .npy import INTEGER_DTYPES, npy_array, npy_header

TOLERANCE = 1e-12  # stored values must agree with the float64 reference within this fraction of scale
# masks may be stored as integers of any width, signed or unsigned (spec §9.5: integer masks are accepted and cast)
INPUT_DTYPES = {
    "points": ("<f8", "<i8"),
    "labels": ("<i8",),
    "boxes": ("<f8", "<i8"),
    "masks": ("<f8",) + INTEGER_DTYPES,
}


@dataclass
class FixtureCase:
    """One golden case. ``reference`` holds the three outputs recomputed by the float64 reference
    from the stored inputs and parameters (what a port is compared with); ``expected`` and
    ``stages`` the stored values, checked against it. ``fixture_error`` names the case and file when
    the case is unusable (the checker reports it as an error)."""

    id: str
    description: str
    sections: list
    config: dict
    params: dict
    inputs: dict
    expected: dict
    stages: dict = field(default_factory=dict)
    tolerance: dict = field(default_factory=dict)
    reference: dict = field(default_factory=dict)
    fixture_error: str | None = None
    semantics: str = "sam"  # the reference conventions of the stored expected values (cases/catalogue.py)


class Reader:
    """The arrays of one fixture set: each file read, hashed and its header parsed once (a
    problem is cached too)."""

    def __init__(self, root: Path, manifest: dict):
        self.folder, self.manifest, self._files = Folder(root), manifest, {}

    def data(self, relative: str) -> tuple:
        """A listed file's bytes, its sha256 checked, and its .npy header."""
        if relative not in self._files:
            path = os.path.join(self.folder.root, relative)
            try:
                data = self.folder.read(relative)
                if hashlib.sha256(data).hexdigest() != self.manifest["sha256"][relative]:
                    raise FileProblem(f"{path}: sha256 mismatch (the file was modified after generation)")
                self._files[relative] = data, npy_header(data, path)
            except FileProblem as exc:
                self._files[relative] = exc
        found = self._files[relative]
        if isinstance(found, FileProblem):
            raise found
        return found

    def array(self, relative: str, dtypes: tuple, shape=None, finite: bool = False) -> np.ndarray:
        """A listed file's array: header checked (dtype among ``dtypes``, C order, ``shape`` under the
        broadcast rule), NaN/inf refused where ``finite``; broadcast to ``shape`` when given."""
        path = os.path.join(self.folder.root, relative)
        array = npy_array(*self.data(relative), path, dtypes, shape)
        if finite and array.dtype.kind == "f" and not np.isfinite(array).all():
            raise FileProblem(f"{path}: holds NaN or infinite values")
        return array if shape is None else np.broadcast_to(array, tuple(shape))


def _compare(case_id: str, trace: dict, stored: dict, paths: dict) -> None:
    """Every stored value against the reference's, within TOLERANCE of scale (NaN never agrees)."""
    for name, value in stored.items():
        if name not in trace:
            raise FileProblem(f"{paths[name]}: stage {name!r} is not a stage of the reference's trace")
        fresh = np.asarray(trace[name], dtype=np.float64)
        if fresh.shape != value.shape:
            raise FileProblem(f"{paths[name]}: shape {value.shape}; the reference gives {fresh.shape}")
        scale = max(1.0, float(np.max(np.abs(fresh), initial=0.0)))
        error = float(np.max(np.abs(fresh - value), initial=0.0))
        if not error <= TOLERANCE * scale:
            raise FileProblem(
                f"{paths[name]}: differs from the float64 reference by {error:.3g} (tolerance {TOLERANCE:g} x scale "
                f"{scale:.3g}): stale or edited expected values"
            )


def load_case(reader: Reader, manifest: dict, entry: dict, with_stages: bool) -> FixtureCase:
    """One case; ``with_stages`` also recomputes the trace and compares the stored stages."""
    config = dict(entry["config"])
    for key in ("image_embedding_size", "input_image_size"):
        config[key] = tuple(config[key])
    case = FixtureCase(
        id=entry["id"],
        description=entry["description"],
        sections=entry["sections"],
        config=config,
        params={},
        inputs={},
        expected={},
        tolerance=entry["tolerance"],
        semantics=entry.get("semantics", "sam"),
    )
    try:
        paths = _read_arrays(reader, manifest, entry, case)
        _check_size(config, case.inputs)
        trace = _recompute(case, with_stages)
        _compare(
            case.id, dict(trace, **case.reference), dict(case.expected, **(case.stages if with_stages else {})), paths
        )
    except FileProblem as exc:
        case.fixture_error = f"case {case.id!r}: {exc}"
    return case


def _read_arrays(reader: Reader, manifest: dict, entry: dict, case: FixtureCase) -> dict:
    """Fill the case's params, inputs, expected values and stages; returns name -> file path."""
    files = manifest["params"][entry["params"]]["files"]
    case.params = {k: reader.array(f, ("<f8",)) for k, f in files.items()}
    case.inputs = {k: reader.array(f, INPUT_DTYPES[k]) for k, f in entry["inputs"].items()}
    tables = {table: {k: v for k, v in entry[table].items()} for table in ("expected", "stages")}
    paths = {k: os.path.join(reader.folder.root, v["file"]) for t in tables.values() for k, v in t.items()}
    case.expected = {k: reader.array(v["file"], ("<f8",), v["shape"], True) for k, v in tables["expected"].items()}
    case.stages = {k: reader.array(v["file"], ("<f8", "<i8"), v["shape"], True) for k, v in tables["stages"].items()}
    return paths


def _recompute(case: FixtureCase, with_stages: bool) -> dict:
    """Set ``case.reference`` (what ports are compared with); returns the trace when ``with_stages``."""
    try:
        encoder = SAMPromptEncoder(**case.config, params=case.params, dtype="float64", profile=case.semantics)
        case.reference = {k: np.asarray(v) for k, v in encoder(**case.inputs).items()}
        return encoder.trace(**case.inputs) if with_stages else {}
    except (ValueError, TypeError) as exc:
        raise FileProblem(f"the reference refuses its configuration, parameters or inputs: {one_line(exc)}") from None


def _check_size(config: dict, inputs: dict) -> None:
    """Refuse a configuration whose outputs would dwarf any fixture file (before computing them)."""
    batch = max([int(np.shape(v)[0]) for v in inputs.values() if np.ndim(v)] + [1])
    elements = batch * config["hidden_size"] * math.prod(config["image_embedding_size"])
    if elements * 8 > 4 * MAX_FILE_BYTES:
        raise FileProblem(f"its configuration and batch imply {elements} output elements; fixtures are small")


def load_cases(root=None, pattern=None, with_stages: bool = False, strict: bool = False) -> list:
    """Every case of a fixture set (optionally those whose id matches the regex ``pattern``).

    A problem with the folder or the manifest raises FixtureError; a problem with one case's files
    or values sets that case's ``fixture_error`` (see the module docstring), or with ``strict``
    raises FixtureError naming the first such case (for commands that need every case sound:
    selftest, figures, report ports). Stage files are checked (header, NaN/inf) but compared with
    the reference's trace only ``with_stages`` (as `verify` does): no port is judged on them, and
    the trace costs a third of the loading."""
    root = fixture_root(root)
    manifest = read_manifest(root)
    regex = re.compile(pattern) if pattern else None
    reader = Reader(root, manifest)
    cases = [
        load_case(reader, manifest, entry, with_stages)
        for entry in manifest["cases"]
        if not regex or regex.search(entry["id"])
    ]
    broken = [case.fixture_error for case in cases if case.fixture_error]
    if strict and broken:
        raise FixtureError(broken[0] + (f" (and {len(broken) - 1} more cases)" if len(broken) > 1 else ""))
    return cases
