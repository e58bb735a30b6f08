"""`samspec fixtures generate`: every case of the catalogue written as a fixture set, deterministic
byte for byte, into a staging folder renamed into place once complete; and the rules for which
folders it may replace (docs/fixtures.md, "Regenerating")."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import tempfile
from importlib import metadata
from pathlib import Path

import numpy as np

from samspec.reference import OUTPUT_KEYS, SAMPromptEncoder

from .catalogue import CASES, CONFIGS, case_inputs, make_params
from .errors import FixtureError
from .folder import default_dir
from .manifest import SCHEMA_VERSION
from .npy import compact, npy_bytes

STAGE_LIMIT_BYTES = 128 * 1024  # per-stage intermediates larger than this are not stored
DEDUPLICATE_BYTES = 64 * 1024  # larger files with identical contents are stored once
MANAGED = ("cases", "manifest.json", "params")  # the entries of a fixture folder


def samspec_version() -> str:
    try:
        return metadata.version("samspec")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "unknown"


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
        entries.append(_write_case(writer, case, params_id, params))
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


def _write_case(writer: _Writer, case, params_id: str, params: dict) -> dict:
    """One case's files (inputs, expected outputs, small stage intermediates) and its manifest entry."""
    config = dict(CONFIGS[case.config], activation="gelu")
    inputs = case_inputs(case)
    trace = expected_trace(config, params, inputs, case.semantics)
    base = f"cases/{case.id}"
    stages = {}
    for name, value in trace.items():
        value = np.asarray(value)
        if name not in OUTPUT_KEYS and value.nbytes <= STAGE_LIMIT_BYTES:
            stages[name] = writer.array(f"{base}/stage.{name}.npy", value)
    return {
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
