"""The manifest of a fixture set (docs/fixtures.md): its schema, and the checks that run on it
before any data file is opened. Every problem is a ``FixtureError`` naming the file, the case and
the key."""

from __future__ import annotations

import json
import re

from samspec.reference import OUTPUT_KEYS

from .errors import FileProblem, FixtureError, one_line
from .folder import Folder, check_entry, fixture_root

SCHEMA_VERSION = 1
INPUT_KEYS = ("points", "labels", "boxes", "masks")
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
    root = fixture_root(root)
    path = root / "manifest.json"
    manifest = _parse(root, path)
    hashes = _require(manifest["sha256"], dict, f"{path}: 'sha256'")
    _check_hashes(hashes, path)
    for pid, entry in _require(manifest["params"], dict, f"{path}: 'params'").items():
        where = f"{path}: params {pid!r}"
        _require(entry, dict, where)
        _keys(entry, ("files",), where)
        for name, relative in _require(entry["files"], dict, f"{where}: 'files'").items():
            _listed(relative, f"{where}: 'files'[{name!r}]", hashes)
    seen = set()
    for index, case in enumerate(_require(manifest["cases"], list, f"{path}: 'cases'")):
        _check_case(case, f"{path}", index, manifest, seen)
    return manifest


def _parse(root, path) -> dict:
    """manifest.json read inside the folder, decoded, its top-level keys and schema version checked."""
    try:
        text = Folder(root).read("manifest.json")
    except FileProblem as exc:
        raise FixtureError(
            f"{exc} (a fixture folder holds manifest.json: `samspec fixtures generate --out DIR`)"
        ) from None
    try:
        manifest = json.loads(bytes(text).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise FixtureError(f"{path}: not valid JSON ({one_line(exc)})") from None
    _require(manifest, dict, f"{path}: the top level")
    _keys(manifest, _TOP_KEYS, f"{path}")
    version = manifest["schema_version"]
    if not isinstance(version, int) or isinstance(version, bool) or version != SCHEMA_VERSION:
        raise FixtureError(f"{path}: schema_version {_short(version)} is not supported (expected {SCHEMA_VERSION})")
    return manifest


def _check_hashes(hashes: dict, path) -> None:
    """The 'sha256' table: every key a safe relative path, every value 64 lowercase hex digits."""
    for relative, digest in hashes.items():
        check_entry(relative, f"{path}: 'sha256'")
        if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise FixtureError(
                f"{path}: 'sha256'[{relative!r}]: expected 64 lowercase hex digits; found {_short(digest)}"
            )


def _listed(relative, where: str, hashes: dict) -> str:
    """A path the manifest uses: safe, and listed in the 'sha256' table."""
    check_entry(relative, where)
    if relative not in hashes:
        raise FixtureError(f"{where}: {relative!r} is not listed in the 'sha256' table")
    return relative


def _check_case(case, path: str, index: int, manifest: dict, seen: set) -> None:
    """One entry of 'cases': its keys, id, configuration, params and file tables."""
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
    _check_config(_require(case["config"], dict, f"{where}: 'config'"), where)
    if _require(case["params"], str, f"{where}: 'params'") not in manifest["params"]:
        raise FixtureError(f"{where}: 'params' names unknown params {case['params']!r}")
    _check_files(case, where, manifest["sha256"])


def _check_config(config: dict, where: str) -> None:
    _keys(config, _CONFIG_KEYS, f"{where}: 'config'")
    for key, kind in _CONFIG_KEYS.items():
        _require(config[key], kind, f"{where}: 'config'[{key!r}]")
        if kind is list and (len(config[key]) != 2 or not all(type(v) is int for v in config[key])):
            raise FixtureError(f"{where}: 'config'[{key!r}]: expected two ints; found {_short(config[key])}")


def _check_files(case: dict, where: str, hashes: dict) -> None:
    """A case's 'inputs', 'expected' and 'stages' tables: known names, listed files, shapes."""
    for name, relative in _require(case["inputs"], dict, f"{where}: 'inputs'").items():
        if name not in INPUT_KEYS:
            raise FixtureError(f"{where}: 'inputs' has unknown key {name!r} (expected among {list(INPUT_KEYS)})")
        _listed(relative, f"{where}: 'inputs'[{name!r}]", hashes)
    _keys(_require(case["expected"], dict, f"{where}: 'expected'"), OUTPUT_KEYS, f"{where}: 'expected'")
    for table in ("expected", "stages"):
        for name, item in _require(case[table], dict, f"{where}: {table!r}").items():
            at = f"{where}: {table!r}[{name!r}]"
            _keys(_require(item, dict, at), ("file", "shape"), at)
            _listed(item["file"], f"{at}['file']", hashes)
            shape = _require(item["shape"], list, f"{at}['shape']")
            if not all(type(n) is int and n >= 0 for n in shape):
                raise FixtureError(f"{at}['shape']: expected a list of non-negative ints; found {_short(shape)}")
