"""Golden fixtures: generate, load and verify (docs/fixtures.md).

A fixture set is a folder with ``manifest.json`` and little-endian ``.npy`` files. The manifest
names every file with its sha256; inputs follow the `sam` profile; expected values are float64
from the reference. An array that is constant along some axes (the no-mask dense embedding) is
stored reduced, with the full ``shape`` to broadcast it back to.

A fixture set is data from outside: nothing in it is trusted. Reading one
- checks the manifest's structure and every path in it (relative, normalised, inside the folder)
  before any file is opened, and never follows a symlink: a problem there is a ``FixtureError``;
- checks each file's sha256 and ``.npy`` header (dtype, C order, shape, size) before building the
  array, refuses NaN/inf in expected values and stages, and recomputes every case with the float64
  reference: a stored value that disagrees beyond ``TOLERANCE`` of scale, or an input the reference
  refuses, makes that case's ``fixture_error`` (the other cases still load).
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import math
import os
import re
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

from samspec.reference import OUTPUT_KEYS, SAMPromptEncoder
from samspec.reference.checkpoints import first_symlink, relative_path_problem

from .catalogue import CASES, CONFIGS, case_inputs, make_params

SCHEMA_VERSION = 1
STAGE_LIMIT_BYTES = 128 * 1024  # per-stage intermediates larger than this are not stored
INPUT_KEYS = ("points", "labels", "boxes", "masks")
TOLERANCE = 1e-12  # stored values must agree with the float64 reference within this fraction of scale
MAX_FILE_BYTES = 64 * 2**20  # no file of a fixture set is larger (the shipped set's largest: 8 MiB)
MANAGED = ("cases", "manifest.json", "params")  # the entries of a fixture folder


class FixtureError(ValueError):
    """A fixture set that cannot be read: missing, malformed or escaping its folder; one line."""


class _FileProblem(Exception):
    """One file (or a case's computation) is unusable: becomes the case's ``fixture_error``."""


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


def expected_trace(config: dict, params: dict, inputs: dict, semantics: str = "sam") -> dict:
    """The float64 reference's trace for one case (the ground truth) under the case's semantics."""
    return SAMPromptEncoder(**config, params=params, dtype="float64", profile=semantics).trace(**inputs)


def generate(out, force: bool = False, log=None) -> dict:
    """Write every case of the catalogue as a fixture set at ``out``; deterministic, byte for byte.

    The set is written into a temporary sibling folder and renamed into place once complete, so an
    interrupted run leaves the previous set intact. ``out`` must be empty or absent, or (with
    ``force``) hold only a fixture set; it is never inside the installed samspec package, except
    for the source checkout's own ``fixtures/`` with ``force`` (docs/fixtures.md)."""
    from ..harness.progress import progress

    out = Path(out).absolute()
    check_output_folder(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        umask = os.umask(0)
        os.umask(umask)
        staging.chmod(0o777 & ~umask)  # mkdtemp makes it private; the set is ordinary data
        manifest = _write_set(staging, progress(CASES, desc="fixtures generate", unit="case"))
        _replace_folder(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if log is not None:
        log(f"wrote {len(manifest['cases'])} cases and {len(manifest['sha256'])} files to {out}")
    return manifest


def _write_set(root: Path, cases) -> dict:
    writer = _Writer(root)
    params_sets, entries = {}, []
    for case in cases:
        params_id = case.config if case.params_variant == "random" else f"{case.config}.{case.params_variant}"
        params = make_params(case.config, case.params_variant)
        if params_id not in params_sets:
            params_sets[params_id] = {
                "config": case.config,
                "variant": case.params_variant,
                "files": {k: writer.array(f"params/{params_id}/{k}.npy", v)["file"] for k, v in params.items()},
            }
        config = dict(CONFIGS[case.config], activation="gelu")
        inputs = case_inputs(case)
        trace = expected_trace(config, params, inputs, case.semantics)
        base = f"cases/{case.id}"
        stages = {}
        for name, value in trace.items():
            value = np.asarray(value)
            if name not in OUTPUT_KEYS and value.nbytes <= STAGE_LIMIT_BYTES:
                stages[name] = writer.array(f"{base}/stage.{name}.npy", value)
        entries.append(
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
                "semantics": case.semantics,
            }
        )
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "samspec_version": samspec_version(),
        "generator": "samspec fixtures generate",
        "profile": "sam",
        "expected_dtype": "float64",
        "params": params_sets,
        "cases": entries,
        "sha256": dict(sorted(writer.sha256.items())),
    }
    (root / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return manifest


def _package_folders() -> list:
    """The folders of the installed samspec packages (a user's generate never writes there)."""
    folders = []
    for name in ("samspec.fixtures", "samspec.reference", "samspec.conformance"):
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            folders += [Path(p).resolve() for p in spec.submodule_search_locations]
    return folders


def is_source_checkout(folder: Path) -> bool:
    """Whether ``folder`` is the ``fixtures/`` of a samspec source checkout (not an installed copy)."""
    folder = Path(folder).resolve()
    project = folder.parent / "pyproject.toml"
    if folder.name != "fixtures" or {"site-packages", "dist-packages"} & set(folder.parts):
        return False
    try:
        declares = re.search(r'(?m)^name\s*=\s*"samspec"\s*$', project.read_text(encoding="utf-8"))
    except OSError:
        return False
    return bool(declares) and (folder.parent / "conformance" / "cases" / "catalogue.py").is_file()


def check_output_folder(out: Path, force: bool) -> None:
    """Refuse an output folder that `fixtures generate` must not replace (FixtureError, one line)."""
    target = Path(out).resolve()
    shipped = default_dir().resolve() if importlib.util.find_spec("samspec.fixtures") else None
    package = next((p for p in _package_folders() if target == p or p in target.parents), None)
    if package is not None:
        if target != shipped or not is_source_checkout(target):
            raise FixtureError(
                f"--out {out}: inside the installed samspec package ({package}); fixtures generate never writes "
                f"there: choose another folder and pass it to `samspec check --fixtures`"
            )
        if not force:
            raise FixtureError(
                f"--out {out}: the source checkout's shipped fixture set; pass --force to regenerate it in place"
            )
    if Path(out).is_symlink():
        raise FixtureError(f"--out {out}: a symlink; pass the folder it points to")
    if not target.exists():
        return
    if not target.is_dir():
        raise FixtureError(f"--out {out}: exists and is not a folder")
    entries = sorted(os.listdir(target))
    if entries and not force:
        raise FixtureError(
            f"--out {out}: not empty (holds {entries[0]!r}); pass --force to replace the fixture set there"
        )
    foreign = [e for e in entries if e not in MANAGED]
    if foreign:
        raise FixtureError(
            f"--out {out}: holds {foreign[0]!r}, which is not part of a fixture set; --force replaces only a folder "
            f"holding {', '.join(MANAGED)}"
        )


def _replace_folder(staging: Path, out: Path) -> None:
    """Move the complete set at ``staging`` to ``out``; the previous set is removed only afterwards."""
    if not out.exists() or not os.listdir(out):
        os.replace(staging, out)  # replaces an empty folder
        return
    retired = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
    os.replace(out, retired)
    try:
        os.replace(staging, out)
    except BaseException:
        os.replace(retired, out)
        raise
    shutil.rmtree(retired, ignore_errors=True)


def manifest_sha256(root=None) -> str:
    """The sha256 of a fixture set's manifest.json bytes: the set's identity (it lists every
    file's sha256), recorded in reports."""
    return hashlib.sha256(_Folder(_root(root)).read("manifest.json")).hexdigest()


# -- reading inside the folder, never outside -----------------------------------------------------


def _root(root) -> Path:
    root = Path(root) if root is not None else default_dir()
    if not root.exists():
        raise FixtureError(f"{root}: no such fixture folder")
    if not root.is_dir():
        raise FixtureError(f"{root}: not a folder (a fixture set is a folder holding manifest.json)")
    return root


def check_entry(relative, where: str) -> str:
    """A manifest path: a normalised relative POSIX path inside the folder, checked as a string
    (nothing is opened or stat'ed to answer); FixtureError naming ``where`` otherwise."""
    problem = relative_path_problem(relative)
    if problem is not None:
        raise FixtureError(f"{where}: {problem}")
    return relative


class _Folder:
    """Reads files under ``root`` by their manifest path: each leading part is lstat'ed inside the
    folder and the file is opened with O_NOFOLLOW (and O_NONBLOCK: a FIFO never blocks), so no
    symlink is ever followed."""

    def __init__(self, root: Path):
        self.root = root

    def read(self, relative: str, limit: int = MAX_FILE_BYTES) -> bytearray:
        path = os.path.join(self.root, relative)
        link = first_symlink(self.root, relative)
        if link is not None:
            raise FixtureError(f"{path}: {link!r} is a symlink; fixture files are never read through links")
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
        try:
            fd = os.open(path, flags)
        except FileNotFoundError:
            raise _FileProblem(f"{path}: missing") from None
        except OSError as exc:
            raise _FileProblem(f"{path}: cannot be read ({exc.strerror})") from None
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            os.close(fd)
            if not stat.S_ISREG(info.st_mode):
                raise _FileProblem(f"{path}: not a regular file")
            raise _FileProblem(f"{path}: {info.st_size} bytes; fixture files hold at most {limit}")
        with os.fdopen(fd, "rb", buffering=0) as handle:
            data = bytearray(info.st_size)
            if handle.readinto(data) != info.st_size or handle.read(1):
                raise _FileProblem(f"{path}: changed size while being read")
        return data


def _npy_header(data: bytearray, path) -> tuple:
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
        raise _FileProblem(f"{path}: not a valid .npy header ({_one_line(exc)})") from None
    return tuple(shape), fortran_order, dtype, stream.tell()


def _npy_array(data: bytearray, header: tuple, path, dtypes: tuple, shape=None) -> np.ndarray:
    """The array of a .npy file whose header was read: dtype among ``dtypes``, C order, ``shape``
    (under the broadcast rule) and the file's size checked first; the array is a view of ``data``
    (nothing is allocated)."""
    found_shape, fortran_order, dtype, offset = header
    if dtype.str not in dtypes:
        raise _FileProblem(f"{path}: dtype {dtype.str!r}; expected {' or '.join(map(repr, dtypes))}")
    if fortran_order:
        raise _FileProblem(f"{path}: Fortran order; fixture files are C order")
    if shape is not None and not _broadcastable(found_shape, shape):
        raise _FileProblem(f"{path}: shape {found_shape}; the manifest says {tuple(shape)}")
    count = math.prod(found_shape)
    if len(data) - offset != count * dtype.itemsize:
        raise _FileProblem(
            f"{path}: holds {len(data) - offset} data bytes; its header declares {found_shape} "
            f"{dtype.str} ({count * dtype.itemsize} bytes)"
        )
    return np.frombuffer(data, dtype=dtype, count=count, offset=offset).reshape(found_shape)


def _broadcastable(stored, shape) -> bool:
    """A stored (possibly reduced) shape against the manifest's full shape (the broadcast rule)."""
    return len(stored) == len(shape) and all(s == n or s == 1 for s, n in zip(stored, shape))


def _one_line(exc) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# -- the manifest ---------------------------------------------------------------------------------

CASE_ID = re.compile(r"[A-Za-z0-9_+-][A-Za-z0-9_.+-]*")  # a case id is used as a folder name (check --outputs)
_CASE_KEYS = (
    "id",
    "description",
    "sections",
    "config_name",
    "config",
    "params",
    "inputs",
    "expected",
    "stages",
    "tolerance",
)
_TOP_KEYS = ("schema_version", "samspec_version", "generator", "profile", "expected_dtype", "params", "cases", "sha256")
_CONFIG_KEYS = {
    "hidden_size": int,
    "image_embedding_size": list,
    "input_image_size": list,
    "mask_in_channels": int,
    "activation": str,
}


def _require(value, kind, where: str):
    """``value`` of type ``kind`` (bool is not an int), else FixtureError naming ``where``."""
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise FixtureError(f"{where}: expected {kind.__name__}; found {type(value).__name__} {_short(value)}")
    return value


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _keys(table: dict, keys, where: str) -> None:
    missing = [k for k in keys if k not in table]
    if missing:
        raise FixtureError(
            f"{where}: missing key {missing[0]!r}" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
        )


def read_manifest(root) -> dict:
    """The manifest of the fixture set at ``root``, its structure and every path in it checked
    (FixtureError naming the file, case and key); no data file is opened."""
    root = _root(root)
    path = root / "manifest.json"
    try:
        text = _Folder(root).read("manifest.json")
    except _FileProblem as exc:
        raise FixtureError(
            f"{exc} (a fixture folder holds manifest.json: `samspec fixtures generate --out DIR`)"
        ) from None
    try:
        manifest = json.loads(bytes(text).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise FixtureError(f"{path}: not valid JSON ({_one_line(exc)})") from None
    _require(manifest, dict, f"{path}: the top level")
    _keys(manifest, _TOP_KEYS, f"{path}")
    version = manifest["schema_version"]
    if not isinstance(version, int) or isinstance(version, bool) or version != SCHEMA_VERSION:
        raise FixtureError(f"{path}: schema_version {_short(version)} is not supported (expected {SCHEMA_VERSION})")
    hashes = _require(manifest["sha256"], dict, f"{path}: 'sha256'")
    for relative, digest in hashes.items():
        check_entry(relative, f"{path}: 'sha256'")
        if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise FixtureError(
                f"{path}: 'sha256'[{relative!r}]: expected 64 lowercase hex digits; found {_short(digest)}"
            )

    def listed(relative, where):
        check_entry(relative, where)
        if relative not in hashes:
            raise FixtureError(f"{where}: {relative!r} is not listed in the 'sha256' table")
        return relative

    for pid, entry in _require(manifest["params"], dict, f"{path}: 'params'").items():
        where = f"{path}: params {pid!r}"
        _require(entry, dict, where)
        _keys(entry, ("files",), where)
        for name, relative in _require(entry["files"], dict, f"{where}: 'files'").items():
            listed(relative, f"{where}: 'files'[{name!r}]")
    seen = set()
    for index, case in enumerate(_require(manifest["cases"], list, f"{path}: 'cases'")):
        _require(case, dict, f"{path}: cases[{index}]")
        case_id = case.get("id", f"#{index}")
        where = f"{path}: case {case_id!r}"
        _keys(case, _CASE_KEYS, where)
        _require(case["id"], str, f"{where}: 'id'")
        if not CASE_ID.fullmatch(case_id) or case_id in seen:
            raise FixtureError(
                f"{where}: 'id' is repeated or not a plain name (letters, digits, '_', '.', '+', '-', not starting "
                f"with '.'); ids name folders of --outputs"
            )
        seen.add(case_id)
        _require(case["description"], str, f"{where}: 'description'")
        _require(case["sections"], list, f"{where}: 'sections'")
        _require(case["tolerance"], dict, f"{where}: 'tolerance'")
        _require(case.get("semantics", "sam"), str, f"{where}: 'semantics'")
        config = _require(case["config"], dict, f"{where}: 'config'")
        _keys(config, _CONFIG_KEYS, f"{where}: 'config'")
        for key, kind in _CONFIG_KEYS.items():
            _require(config[key], kind, f"{where}: 'config'[{key!r}]")
            if kind is list and (len(config[key]) != 2 or not all(type(v) is int for v in config[key])):
                raise FixtureError(f"{where}: 'config'[{key!r}]: expected two ints; found {_short(config[key])}")
        if _require(case["params"], str, f"{where}: 'params'") not in manifest["params"]:
            raise FixtureError(f"{where}: 'params' names unknown params {case['params']!r}")
        for name, relative in _require(case["inputs"], dict, f"{where}: 'inputs'").items():
            if name not in INPUT_KEYS:
                raise FixtureError(f"{where}: 'inputs' has unknown key {name!r} (expected among {list(INPUT_KEYS)})")
            listed(relative, f"{where}: 'inputs'[{name!r}]")
        _keys(_require(case["expected"], dict, f"{where}: 'expected'"), OUTPUT_KEYS, f"{where}: 'expected'")
        for table in ("expected", "stages"):
            for name, item in _require(case[table], dict, f"{where}: {table!r}").items():
                at = f"{where}: {table!r}[{name!r}]"
                _keys(_require(item, dict, at), ("file", "shape"), at)
                listed(item["file"], f"{at}['file']")
                shape = _require(item["shape"], list, f"{at}['shape']")
                if not all(type(n) is int and n >= 0 for n in shape):
                    raise FixtureError(f"{at}['shape']: expected a list of non-negative ints; found {_short(shape)}")
    return manifest


# -- load and verify ------------------------------------------------------------------------------

INPUT_DTYPES = {"points": ("<f8", "<i8"), "labels": ("<i8",), "boxes": ("<f8", "<i8"), "masks": ("<f8",)}


class _Reader:
    """The arrays of one fixture set: each file read, hashed and its header parsed once (a
    problem is cached too)."""

    def __init__(self, root: Path, manifest: dict):
        self.folder, self.manifest, self._files = _Folder(root), manifest, {}

    def data(self, relative: str) -> tuple:
        """A listed file's bytes, its sha256 checked, and its .npy header."""
        if relative not in self._files:
            path = os.path.join(self.folder.root, relative)
            try:
                data = self.folder.read(relative)
                if hashlib.sha256(data).hexdigest() != self.manifest["sha256"][relative]:
                    raise _FileProblem(f"{path}: sha256 mismatch (the file was modified after generation)")
                self._files[relative] = data, _npy_header(data, path)
            except _FileProblem as exc:
                self._files[relative] = exc
        found = self._files[relative]
        if isinstance(found, _FileProblem):
            raise found
        return found

    def array(self, relative: str, dtypes: tuple, shape=None, finite: bool = False) -> np.ndarray:
        """A listed file's array: header checked (dtype among ``dtypes``, C order, ``shape`` under the
        broadcast rule), NaN/inf refused where ``finite``; broadcast to ``shape`` when given."""
        path = os.path.join(self.folder.root, relative)
        array = _npy_array(*self.data(relative), path, dtypes, shape)
        if finite and array.dtype.kind == "f" and not np.isfinite(array).all():
            raise _FileProblem(f"{path}: holds NaN or infinite values")
        return array if shape is None else np.broadcast_to(array, tuple(shape))


def _compare(case_id: str, trace: dict, stored: dict, paths: dict) -> None:
    """Every stored value against the reference's, within TOLERANCE of scale (NaN never agrees)."""
    for name, value in stored.items():
        if name not in trace:
            raise _FileProblem(f"{paths[name]}: stage {name!r} is not a stage of the reference's trace")
        fresh = np.asarray(trace[name], dtype=np.float64)
        if fresh.shape != value.shape:
            raise _FileProblem(f"{paths[name]}: shape {value.shape}; the reference gives {fresh.shape}")
        scale = max(1.0, float(np.max(np.abs(fresh), initial=0.0)))
        error = float(np.max(np.abs(fresh - value), initial=0.0))
        if not error <= TOLERANCE * scale:
            raise _FileProblem(
                f"{paths[name]}: differs from the float64 reference by {error:.3g} (tolerance {TOLERANCE:g} x scale "
                f"{scale:.3g}): stale or edited expected values"
            )


def _load_case(reader: _Reader, manifest: dict, entry: dict, with_stages: bool) -> FixtureCase:
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
        files = manifest["params"][entry["params"]]["files"]
        case.params = {k: reader.array(f, ("<f8",)) for k, f in files.items()}
        case.inputs = {k: reader.array(f, INPUT_DTYPES[k]) for k, f in entry["inputs"].items()}
        tables = {table: {k: v for k, v in entry[table].items()} for table in ("expected", "stages")}
        paths = {k: os.path.join(reader.folder.root, v["file"]) for t in tables.values() for k, v in t.items()}
        case.expected = {k: reader.array(v["file"], ("<f8",), v["shape"], True) for k, v in tables["expected"].items()}
        case.stages = {
            k: reader.array(v["file"], ("<f8", "<i8"), v["shape"], True) for k, v in tables["stages"].items()
        }
        _check_size(config, case.inputs)
        try:
            encoder = SAMPromptEncoder(**config, params=case.params, dtype="float64", profile=case.semantics)
            case.reference = {
                k: np.asarray(v) for k, v in encoder(**case.inputs).items()
            }  # what ports are compared with
            trace = encoder.trace(**case.inputs) if with_stages else {}
        except (ValueError, TypeError) as exc:
            raise _FileProblem(
                f"the reference refuses its configuration, parameters or inputs: {_one_line(exc)}"
            ) from None
        _compare(
            case.id, dict(trace, **case.reference), dict(case.expected, **(case.stages if with_stages else {})), paths
        )
    except _FileProblem as exc:
        case.fixture_error = f"case {case.id!r}: {exc}"
    return case


def _check_size(config: dict, inputs: dict) -> None:
    """Refuse a configuration whose outputs would dwarf any fixture file (before computing them)."""
    batch = max([int(np.shape(v)[0]) for v in inputs.values() if np.ndim(v)] + [1])
    elements = batch * config["hidden_size"] * math.prod(config["image_embedding_size"])
    if elements * 8 > 4 * MAX_FILE_BYTES:
        raise _FileProblem(f"its configuration and batch imply {elements} output elements; fixtures are small")


def load_cases(root=None, pattern=None, with_stages: bool = False, strict: bool = False) -> list:
    """Every case of a fixture set (optionally those whose id matches the regex ``pattern``).

    A problem with the folder or the manifest raises FixtureError; a problem with one case's files
    or values sets that case's ``fixture_error`` (see the module docstring), or with ``strict``
    raises FixtureError naming the first such case (for commands that need every case sound:
    selftest, figures, report ports). Stage files are checked (header, NaN/inf) but compared with
    the reference's trace only ``with_stages`` (as `verify` does): no port is judged on them, and
    the trace costs a third of the loading."""
    root = _root(root)
    manifest = read_manifest(root)
    regex = re.compile(pattern) if pattern else None
    reader = _Reader(root, manifest)
    cases = [
        _load_case(reader, manifest, entry, with_stages)
        for entry in manifest["cases"]
        if not regex or regex.search(entry["id"])
    ]
    broken = [case.fixture_error for case in cases if case.fixture_error]
    if strict and broken:
        raise FixtureError(broken[0] + (f" (and {len(broken) - 1} more cases)" if len(broken) > 1 else ""))
    return cases


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
    root = _root(root)
    manifest = read_manifest(root)
    reader = _Reader(root, manifest)
    problems = []
    for relative in manifest["sha256"]:
        try:
            _npy_array(*reader.data(relative), root / relative, ("<f8", "<i8"))
        except _FileProblem as exc:
            problems.append(str(exc))
    for relative in _npy_files(root):
        if relative not in manifest["sha256"]:
            problems.append(f"{root / relative}: not listed in manifest.json")
    for entry in manifest["cases"]:
        case = _load_case(reader, manifest, entry, with_stages=True)
        if case.fixture_error and not any(p in case.fixture_error for p in problems):
            problems.append(case.fixture_error)
        elif not case.fixture_error:
            log(f"verified {case.id}: {len(case.expected) + len(case.stages)} arrays")
    return problems
