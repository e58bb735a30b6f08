"""Golden fixtures: generate, load and verify (docs/fixtures.md).

A fixture set is a folder with ``manifest.json`` and little-endian ``.npy`` files. The manifest
names every file with its sha256; inputs follow the `sam` profile; expected values are float64
from the reference. An array that is constant along some axes (the no-mask dense embedding) is
stored reduced, with the full ``shape`` to broadcast it back to.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from dataclasses import dataclass, field
import importlib.util
from importlib import metadata
from pathlib import Path

import numpy as np

from samspec.reference import OUTPUT_KEYS, SAMPromptEncoder

from .cases import CASES, CONFIGS, case_inputs, make_params

SCHEMA_VERSION = 1
STAGE_LIMIT_BYTES = 128 * 1024  # per-stage intermediates larger than this are not stored
INPUT_KEYS = ("points", "labels", "boxes", "masks")


class FixtureError(Exception):
    """A fixture set that is missing, malformed or tampered with; the message names the file."""


def default_dir() -> Path:
    """The fixture set that ships with samspec (the repository's fixtures/ folder)."""
    spec = importlib.util.find_spec("samspec.fixtures")
    if spec is None or not spec.submodule_search_locations:
        raise FixtureError("the package samspec.fixtures is not installed; pass a fixture folder explicitly")
    return Path(list(spec.submodule_search_locations)[0])


def samspec_version() -> str:
    try:
        return metadata.version("samspec")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "unknown"


@dataclass
class FixtureCase:
    id: str
    description: str
    sections: list
    config: dict
    params: dict
    inputs: dict
    expected: dict
    stages: dict = field(default_factory=dict)
    tolerance: dict = field(default_factory=dict)


# -- arrays on disk -------------------------------------------------------------------------------


def npy_bytes(array) -> bytes:
    """The .npy encoding of an array with an explicit little-endian dtype (float64 or int64)."""
    array = np.asarray(array)
    kind = "<f8" if array.dtype.kind == "f" else "<i8"
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


DEDUPLICATE_BYTES = 64 * 1024  # larger files with identical contents are stored once


class _Writer:
    """Writes each file; a large file whose contents were already written is referenced instead
    (the dense positional grid of a configuration is the same for every case that uses it)."""

    def __init__(self, root: Path):
        self.root = root
        self.sha256 = {}
        self._by_digest = {}

    def write(self, relative: str, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        if digest in self._by_digest and len(data) > DEDUPLICATE_BYTES:
            return self._by_digest[digest]
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.sha256[relative] = digest
        self._by_digest[digest] = relative
        return relative

    def array(self, relative: str, value, reduce: bool = False) -> dict:
        value = np.asarray(value)
        if reduce:
            value, shape = compact(value)
            return {"file": self.write(relative, npy_bytes(value)), "shape": shape}
        return {"file": self.write(relative, npy_bytes(value)), "shape": list(value.shape)}


# -- generate -------------------------------------------------------------------------------------


def expected_trace(config: dict, params: dict, inputs: dict) -> dict:
    """The float64 reference's trace for one case (the ground truth)."""
    return SAMPromptEncoder(**config, params=params, dtype="float64", profile="sam").trace(**inputs)


def generate(out: Path) -> dict:
    """Write every case of the catalogue under ``out``; deterministic, byte for byte."""
    out = Path(out)
    for managed in ("cases", "params", "manifest.json"):
        target = out / managed
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    writer = _Writer(out)
    params_sets, cases = {}, []
    for case in CASES:
        params_id = case.config if case.params_variant == "random" else f"{case.config}.{case.params_variant}"
        if params_id not in params_sets:
            params = make_params(case.config, case.params_variant)
            params_sets[params_id] = {
                "config": case.config,
                "variant": case.params_variant,
                "files": {k: writer.array(f"params/{params_id}/{k}.npy", v)["file"] for k, v in params.items()},
            }
        config = dict(CONFIGS[case.config], activation="gelu")
        params = make_params(case.config, case.params_variant)
        inputs = case_inputs(case)
        trace = expected_trace(config, params, inputs)
        base = f"cases/{case.id}"
        stages = {}
        for name, value in trace.items():
            if name in OUTPUT_KEYS:
                continue
            value = np.asarray(value)
            if value.nbytes <= STAGE_LIMIT_BYTES:
                stages[name] = writer.array(f"{base}/stage.{name}.npy", value)
        cases.append(
            {
                "id": case.id,
                "description": case.description,
                "sections": list(case.sections),
                "config_name": case.config,
                "config": {k: list(v) if isinstance(v, tuple) else v for k, v in config.items()},
                "params": params_id,
                "inputs": {k: writer.array(f"{base}/input.{k}.npy", v)["file"] for k, v in inputs.items()},
                "expected": {k: writer.array(f"{base}/expected.{k}.npy", trace[k], reduce=True) for k in OUTPUT_KEYS},
                "stages": stages,
                "tolerance": dict(case.tolerance),
            }
        )
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "samspec_version": samspec_version(),
        "generator": "samspec fixtures generate",
        "profile": "sam",
        "expected_dtype": "float64",
        "params": params_sets,
        "cases": cases,
        "sha256": dict(sorted(writer.sha256.items())),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return manifest


# -- load and verify ------------------------------------------------------------------------------

_CASE_KEYS = {"id", "description", "sections", "config_name", "config", "params", "inputs", "expected", "stages", "tolerance"}
_TOP_KEYS = {"schema_version", "samspec_version", "generator", "profile", "expected_dtype", "params", "cases", "sha256"}


def read_manifest(root: Path) -> dict:
    path = Path(root) / "manifest.json"
    if not path.is_file():
        raise FixtureError(f"{path}: missing (run `samspec fixtures generate --out {root}`)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise FixtureError(f"{path}: not valid JSON ({exc})") from exc
    missing = _TOP_KEYS - set(manifest)
    if missing:
        raise FixtureError(f"{path}: missing top-level keys {sorted(missing)}")
    if manifest["schema_version"] != SCHEMA_VERSION:
        raise FixtureError(
            f"{path}: schema_version {manifest['schema_version']} is not supported (expected {SCHEMA_VERSION})"
        )
    for case in manifest["cases"]:
        missing = _CASE_KEYS - set(case)
        if missing:
            raise FixtureError(f"{path}: case {case.get('id', '?')!r} lacks keys {sorted(missing)}")
        if case["params"] not in manifest["params"]:
            raise FixtureError(f"{path}: case {case['id']!r} names unknown params {case['params']!r}")
    return manifest


def _load(root: Path, relative: str, manifest: dict, check_hash: bool) -> np.ndarray:
    path = Path(root) / relative
    if relative not in manifest["sha256"]:
        raise FixtureError(f"{path}: not listed in manifest.json's sha256 table")
    if not path.is_file():
        raise FixtureError(f"{path}: missing")
    data = path.read_bytes()
    if check_hash and hashlib.sha256(data).hexdigest() != manifest["sha256"][relative]:
        raise FixtureError(f"{path}: sha256 mismatch (the file was modified after generation)")
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as exc:
        raise FixtureError(f"{path}: not a readable .npy file ({exc})") from exc


def load_cases(root=None, pattern=None, check_hash: bool = True) -> list:
    """Every case of a fixture set (optionally those whose id matches the regex ``pattern``)."""
    import re

    root = Path(root) if root is not None else default_dir()
    manifest = read_manifest(root)
    regex = re.compile(pattern) if pattern else None
    params_cache = {}
    cases = []
    for entry in manifest["cases"]:
        if regex and not regex.search(entry["id"]):
            continue
        pid = entry["params"]
        if pid not in params_cache:
            files = manifest["params"][pid]["files"]
            params_cache[pid] = {k: _load(root, f, manifest, check_hash) for k, f in files.items()}

        def arrays(table):
            return {
                k: np.broadcast_to(_load(root, v["file"], manifest, check_hash), tuple(v["shape"]))
                for k, v in table.items()
            }

        config = dict(entry["config"])
        for key in ("image_embedding_size", "input_image_size"):
            config[key] = tuple(config[key])
        cases.append(
            FixtureCase(
                id=entry["id"],
                description=entry["description"],
                sections=entry["sections"],
                config=config,
                params=params_cache[pid],
                inputs={k: _load(root, f, manifest, check_hash) for k, f in entry["inputs"].items()},
                expected=arrays(entry["expected"]),
                stages=arrays(entry["stages"]),
                tolerance=entry["tolerance"],
            )
        )
    return cases


def verify(root=None, log=print) -> list:
    """Check schema, every sha256, and recompute every expected value and stage with the reference.

    Returns a list of problems (empty when the set is sound); each names its file or case."""
    root = Path(root) if root is not None else default_dir()
    problems = []
    try:
        manifest = read_manifest(root)
    except FixtureError as exc:
        return [str(exc)]
    for relative, digest in manifest["sha256"].items():
        path = root / relative
        if not path.is_file():
            problems.append(f"{path}: missing")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            problems.append(f"{path}: sha256 mismatch (the file was modified after generation)")
    listed = set(manifest["sha256"])
    for path in sorted(root.rglob("*.npy")):
        if path.relative_to(root).as_posix() not in listed:
            problems.append(f"{path}: not listed in manifest.json")
    if problems:
        return problems
    for case in load_cases(root):
        trace = expected_trace(case.config, case.params, case.inputs)
        stored = dict(case.expected, **case.stages)
        for name, value in stored.items():
            fresh = np.asarray(trace[name], dtype=np.float64)
            value = np.asarray(value, dtype=np.float64)
            if fresh.shape != value.shape:
                problems.append(f"{case.id}: {name} has shape {value.shape}; the reference gives {fresh.shape}")
                continue
            scale = max(1.0, float(np.max(np.abs(fresh), initial=0.0)))
            error = float(np.max(np.abs(fresh - value), initial=0.0))
            if error > 1e-12 * scale:
                problems.append(f"{case.id}: {name} differs from the reference by {error:.3g}")
        log(f"verified {case.id}: {len(stored)} arrays")
    return problems
