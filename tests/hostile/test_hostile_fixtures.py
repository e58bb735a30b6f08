"""Hostile fixture folders (issue 14, docs/fixtures.md "What is validated"): each one ends with the
documented verdict, exit code and one-line message, through `load_cases` and `samspec fixtures
verify`, and nothing outside the folder is read.

- A folder or manifest problem (missing, malformed, a path that is absolute, not normalised,
  holds '..' or goes through a symlink) raises FixtureError; `verify` exits 2 with one line.
- A problem with one case's files or values (sha256, .npy header, NaN/inf, stale values, inputs the
  reference refuses) sets that case's `fixture_error`; the other case still loads; `verify` exits 1
  and names the case or file; `check` gives the case `error` rows, runs the other, exits 2 and
  writes a valid report.

`samspec check --fixtures DIR` is asserted for every folder too (in-process, to stay quick).

Each test starts from a two-case copy of the shipped set (labels.foreground on the portrait
configuration, all.tiny with every prompt kind)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil

import numpy as np
import pytest

from samspec.conformance.cases import store as fixtures
from samspec.conformance.cli import main

CASE, OTHER = "labels.foreground", "all.tiny"


@pytest.fixture(scope="session")
def mini_set(tmp_path_factory):
    """The two cases' files and a manifest listing only them (every sha256 still the shipped one)."""
    source = fixtures.default_dir()
    manifest = json.loads((source / "manifest.json").read_text())
    cases = [c for c in manifest["cases"] if c["id"] in (CASE, OTHER)]
    params = {c["params"]: manifest["params"][c["params"]] for c in cases}
    files = {f for p in params.values() for f in p["files"].values()}
    for case in cases:
        files |= set(case["inputs"].values())
        files |= {item["file"] for table in ("expected", "stages") for item in case[table].values()}
    root = tmp_path_factory.mktemp("mini") / "fx"
    for relative in files:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / relative, root / relative)
    manifest.update(cases=cases, params=params, sha256={f: manifest["sha256"][f] for f in sorted(files)})
    (root / "manifest.json").write_text(json.dumps(manifest, indent=1))
    assert fixtures.verify(root, log=lambda line: None) == []
    return root


@pytest.fixture
def folder(mini_set, tmp_path):
    target = tmp_path / "fx"
    shutil.copytree(mini_set, target)
    return target


# -- building hostile folders ----------------------------------------------------------------------


def manifest_of(root):
    return json.loads((root / "manifest.json").read_text())


def write_manifest(root, manifest):
    (root / "manifest.json").write_text(json.dumps(manifest))


def case_entry(manifest, case_id=CASE):
    return next(c for c in manifest["cases"] if c["id"] == case_id)


def expected_file(root, key="prompt_sparse_embeddings", case_id=CASE):
    return case_entry(manifest_of(root), case_id)["expected"][key]["file"]


def stage_file(root, case_id=CASE):
    return next(iter(case_entry(manifest_of(root), case_id)["stages"].values()))["file"]


def input_file(root, key="labels", case_id=CASE):
    return case_entry(manifest_of(root), case_id)["inputs"][key]


def replace_file(root, relative, data: bytes, rehash: bool = True):
    """Write ``data`` at ``relative``; with ``rehash`` the manifest's sha256 is updated to match
    (a consistent forgery: only recomputation or header checks can catch it)."""
    (root / relative).write_bytes(data)
    if rehash:
        manifest = manifest_of(root)
        manifest["sha256"][relative] = hashlib.sha256(data).hexdigest()
        write_manifest(root, manifest)


def raw_npy(array, fortran=False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asfortranarray(array) if fortran else array, allow_pickle=True)
    return buffer.getvalue()


def stored(root, relative):
    return np.load(root / relative, allow_pickle=False)


def point_entry(root, table, key, relative, case_id=CASE):
    """Point one manifest entry (inputs / expected / stages) at ``relative``, listed with
    ``digest`` so that only the path check can refuse it."""
    manifest = manifest_of(root)
    entry = case_entry(manifest, case_id)
    if table == "inputs":
        old = entry["inputs"][key]
        entry["inputs"][key] = relative
    else:
        old = entry[table][key]["file"]
        entry[table][key]["file"] = relative
    manifest["sha256"][relative] = manifest["sha256"][old]
    write_manifest(root, manifest)
    return old


# -- folder and manifest problems: FixtureError, verify exit 2 -------------------------------------


def edit(fn):
    """A mutation of the manifest (a JSON value)."""

    def mutate(root):
        manifest = manifest_of(root)
        fn(manifest)
        write_manifest(root, manifest)

    return mutate


def raw_manifest(text: bytes):
    return lambda root: (root / "manifest.json").write_bytes(text)


def remove_folder(root):
    shutil.rmtree(root)


def folder_is_a_file(root):
    shutil.rmtree(root)
    root.write_text("not a folder")


def manifest_is_a_symlink(root):
    real = root.parent / "elsewhere.json"
    shutil.move(root / "manifest.json", real)
    (root / "manifest.json").symlink_to(real)


def set_path(path_in_case):
    """Give the labels input of CASE another path (listed in the sha256 table)."""
    return lambda root: point_entry(root, "inputs", "labels", path_in_case)


def unlisted_reference(root):
    manifest = manifest_of(root)
    relative = case_entry(manifest)["inputs"]["labels"]
    del manifest["sha256"][relative]
    write_manifest(root, manifest)


def delete_key(*path):
    def fn(manifest):
        target = manifest
        for key in path[:-1]:
            target = case_entry(manifest) if key == "@case" else target[key]
        del target[path[-1]]

    return edit(fn)


def set_key(value, *path):
    def fn(manifest):
        target = manifest
        for key in path[:-1]:
            target = case_entry(manifest) if key == "@case" else target[key]
        target[path[-1]] = value

    return edit(fn)


def duplicate_case(manifest):
    manifest["cases"].append(dict(case_entry(manifest)))


def hash_table_traversal(manifest):
    manifest["sha256"]["../outside.npy"] = "0" * 64


FOLDER_LEVEL = [
    ("folder missing", remove_folder, "no such fixture folder"),
    ("folder is a file", folder_is_a_file, "not a folder"),
    ("manifest missing", lambda root: (root / "manifest.json").unlink(), "manifest.json: missing"),
    ("manifest invalid JSON", raw_manifest(b'{"cases": ['), "not valid JSON"),
    ("manifest not UTF-8", raw_manifest(b"\xff\xfe\x00{"), "not valid JSON"),
    ("manifest a list", raw_manifest(b"[1, 2]"), "the top level: expected dict; found list"),
    ("manifest a symlink", manifest_is_a_symlink, "'manifest.json' is a symlink"),
    ("missing top-level key", delete_key("cases"), "missing key 'cases'"),
    ("unknown schema", set_key(2, "schema_version"), "schema_version 2 is not supported"),
    ("schema as a string", set_key("1", "schema_version"), "schema_version '1' is not supported"),
    ("cases not a list", set_key({}, "cases"), "'cases': expected list; found dict"),
    ("case not an object", set_key(["a string"], "cases"), "cases[0]: expected dict; found str"),
    ("case without expected", delete_key("@case", "expected"), f"case '{CASE}': missing key 'expected'"),
    ("inputs a list", set_key([], "@case", "inputs"), f"case '{CASE}': 'inputs': expected dict; found list"),
    ("unknown input name", set_key({"prompts": "cases/x.npy"}, "@case", "inputs"), "unknown key 'prompts'"),
    (
        "expected lacks an output",
        edit(lambda m: case_entry(m)["expected"].pop("prompt_dense_embeddings")),
        "'expected': missing key 'prompt_dense_embeddings'",
    ),
    (
        "expected item without shape",
        edit(lambda m: case_entry(m)["expected"]["prompt_sparse_embeddings"].pop("shape")),
        "'expected'['prompt_sparse_embeddings']: missing key 'shape'",
    ),
    (
        "negative shape",
        edit(lambda m: case_entry(m)["expected"]["prompt_sparse_embeddings"].update(shape=[1, -4, 32])),
        "expected a list of non-negative ints",
    ),
    (
        "shape of strings",
        edit(lambda m: case_entry(m)["stages"][next(iter(case_entry(m)["stages"]))].update(shape="1,2")),
        "['shape']: expected list; found str",
    ),
    ("config without hidden_size", delete_key("@case", "config", "hidden_size"), "'config': missing key 'hidden_size'"),
    ("hidden_size a string", set_key("32", "@case", "config", "hidden_size"), "'config'['hidden_size']: expected int"),
    ("image size of three", set_key([8, 6, 1], "@case", "config", "image_embedding_size"), "expected two ints"),
    ("unknown params set", set_key("nowhere", "@case", "params"), "names unknown params 'nowhere'"),
    ("params files a list", edit(lambda m: m["params"]["portrait"].update(files=[])), "'files': expected dict"),
    ("sha256 not a table", set_key([], "sha256"), "'sha256': expected dict; found list"),
    ("sha256 not hex", edit(lambda m: m["sha256"].update({next(iter(m["sha256"])): "zz"})), "64 lowercase hex digits"),
    ("duplicate case id", edit(duplicate_case), "'id' is repeated or not a plain name"),
    ("case id with a traversal", set_key("../../outside", "@case", "id"), "'id' is repeated or not a plain name"),
    ("case id with a slash", set_key("labels/foreground", "@case", "id"), "'id' is repeated or not a plain name"),
    ("empty case id", set_key("", "@case", "id"), "'id' is repeated or not a plain name"),
    ("path not in the sha256 table", unlisted_reference, "is not listed in the 'sha256' table"),
    ("not normalised: //", set_path("cases//labels.npy"), "is not a normalised path"),
    ("not normalised: ./", set_path("./cases/labels.npy"), "is not a normalised path"),
    ("backslash", set_path("cases\\labels.npy"), "is not a normalised path"),
    ("empty path", set_path(""), "expected a relative file path"),
    ("traversal in the sha256 table only", edit(hash_table_traversal), "contains '..'"),
]


def assert_folder_error(root, needle, capsys):
    """FixtureError from load_cases and verify; `fixtures verify` exits 2 with one line."""
    with pytest.raises(fixtures.FixtureError) as excinfo:
        fixtures.load_cases(root)
    message = str(excinfo.value)
    assert needle in message and len(message.splitlines()) == 1, message
    with pytest.raises(fixtures.FixtureError):
        fixtures.verify(root, log=lambda line: None)
    capsys.readouterr()
    assert main(["fixtures", "verify", str(root), "--quiet"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and needle in captured.err, captured
    assert len(captured.err.strip().splitlines()) == 1 and "Traceback" not in captured.err, captured.err
    assert main(["check", "reference-f32", "--fixtures", str(root), "--in-process", "--no-diagnosis"]) == 2
    checked = capsys.readouterr()
    assert checked.out == "" and needle in checked.err and len(checked.err.strip().splitlines()) == 1, checked
    return message


@pytest.mark.parametrize("name, mutate, needle", FOLDER_LEVEL, ids=[row[0] for row in FOLDER_LEVEL])
def test_folder_level_problem(folder, capsys, name, mutate, needle):
    mutate(folder)
    assert_folder_error(folder, needle, capsys)


# -- confinement: nothing outside the folder is opened or stat'ed -----------------------------------


def outside_copy(root, relative):
    """A file outside the folder with exactly the listed file's bytes (so its sha256 matches):
    were it read, the case would load."""
    target = root.parent / "outside" / "secret.npy"
    target.parent.mkdir(exist_ok=True)
    shutil.copyfile(root / relative, target)
    return target


def absolute_entry(root):
    target = outside_copy(root, input_file(root))
    point_entry(root, "inputs", "labels", str(target))
    return target


def dotdot_entry(root):
    target = outside_copy(root, input_file(root))
    point_entry(root, "inputs", "labels", "../outside/secret.npy")
    return target


def inner_dotdot_entry(root):
    target = outside_copy(root, expected_file(root))
    point_entry(root, "expected", "prompt_sparse_embeddings", "cases/../../outside/secret.npy")
    return target


def symlinked_file(root):
    relative = input_file(root)
    target = outside_copy(root, relative)
    (root / relative).unlink()
    (root / relative).symlink_to(target)
    return target


def symlinked_folder(root):
    """cases/labels.foreground -> a folder outside holding the same files."""
    case_folder = root / "cases" / CASE
    target = root.parent / "outside" / CASE
    target.parent.mkdir(exist_ok=True)
    shutil.move(case_folder, target)
    case_folder.symlink_to(target, target_is_directory=True)
    return target


def relative_symlink_inside(root):
    """A symlink that stays inside the folder is refused too: no link is ever followed."""
    relative = input_file(root)
    (root / relative).rename(root / "real.npy")
    (root / relative).symlink_to(os.path.relpath(root / "real.npy", (root / relative).parent))
    return root / "real.npy"


ESCAPES = [
    ("absolute path", absolute_entry, "is an absolute path"),
    ("../ traversal", dotdot_entry, "contains '..'"),
    ("traversal inside a path", inner_dotdot_entry, "contains '..'"),
    ("symlinked file", symlinked_file, "is a symlink"),
    ("symlinked case folder", symlinked_folder, f"'cases/{CASE}' is a symlink"),
    ("symlink inside the folder", relative_symlink_inside, "is a symlink"),
]


@pytest.mark.parametrize("name, escape, needle", ESCAPES, ids=[row[0] for row in ESCAPES])
def test_escaping_paths_are_refused_without_reading_outside(folder, capsys, name, escape, needle):
    """The message is the same whether the outside target exists or not: its existence never
    leaks, and its contents (a perfect copy with the right sha256) are never used."""
    target = escape(folder)
    present = assert_folder_error(folder, needle, capsys)
    if target.is_dir():
        shutil.rmtree(target)
    else:
        target.unlink()
    absent = assert_folder_error(folder, needle, capsys)
    assert present == absent


# -- one case's files or values: fixture_error, verify exit 1 --------------------------------------


def rewrite_expected(transform, key="prompt_sparse_embeddings"):
    def mutate(root):
        relative = expected_file(root, key)
        replace_file(root, relative, fixtures.npy_bytes(transform(stored(root, relative))))
        return relative

    return mutate


def rewrite_stage(transform):
    def mutate(root):
        relative = stage_file(root)
        replace_file(root, relative, fixtures.npy_bytes(transform(stored(root, relative))))
        return relative

    return mutate


def with_value(value):
    def transform(array):
        array = array.copy()
        array.flat[0] = value
        return array

    return transform


def flip_a_byte(root):
    relative = expected_file(root)
    data = bytearray((root / relative).read_bytes())
    data[-3] ^= 1
    replace_file(root, relative, bytes(data), rehash=False)
    return relative


def delete_file(root):
    relative = input_file(root, "points")
    (root / relative).unlink()
    return relative


def raw_expected(make_bytes):
    def mutate(root):
        relative = expected_file(root)
        replace_file(root, relative, make_bytes(stored(root, relative)))
        return relative

    return mutate


def raw_input(key, make_bytes):
    def mutate(root):
        relative = input_file(root, key)
        replace_file(root, relative, make_bytes(stored(root, relative)))
        return relative

    return mutate


def pickled_object_array(array):
    return raw_npy(np.array([{"payload": "never unpickled"}], dtype=object))


def plain_pickle(array):
    import pickle

    return pickle.dumps({"not": "an npy file"})


def huge_declared(array):
    """A header declaring 10**12 float64 values (8 TB) on a file of a few bytes."""
    header = raw_npy(np.zeros(1))
    return header.replace(b"(1,)", b"(1000000000000,)", 1)


def folder_instead_of_file(root):
    relative = input_file(root, "points")
    (root / relative).unlink()
    (root / relative).mkdir()
    return relative


def fifo_instead_of_file(root):
    """Opening a FIFO for reading would block forever; it is refused as not a regular file."""
    relative = input_file(root, "points")
    (root / relative).unlink()
    os.mkfifo(root / relative)
    return relative


def sparse_oversized_file(root):
    relative = input_file(root, "points")
    with open(root / relative, "r+b") as handle:
        handle.truncate(fixtures.MAX_FILE_BYTES + 1)  # sparse: no disk used, never read
    return relative


def odd_hidden_size(root):
    manifest = manifest_of(root)
    case_entry(manifest)["config"]["hidden_size"] = 33
    write_manifest(root, manifest)
    return CASE


def nan_parameter(root):
    relative = case_params_file(root)
    array = stored(root, relative).copy()
    array.flat[0] = np.nan
    replace_file(root, relative, fixtures.npy_bytes(array))
    return relative


def case_params_file(root):
    manifest = manifest_of(root)
    return manifest["params"][case_entry(manifest)["params"]]["files"]["no_mask_embed.weight"]


def unknown_stage(root):
    manifest = manifest_of(root)
    stages = case_entry(manifest)["stages"]
    name = next(iter(stages))
    stages["made.up"] = stages.pop(name)
    write_manifest(root, manifest)
    return "made.up"


def wrong_broadcast_shape(root):
    manifest = manifest_of(root)
    case_entry(manifest)["expected"]["prompt_sparse_embeddings"]["shape"] = [1, 5, 32]
    write_manifest(root, manifest)
    return "the manifest says (1, 5, 32)"


CASE_LEVEL = [
    ("sha256 mismatch", flip_a_byte, "sha256 mismatch"),
    ("missing file", delete_file, "missing"),
    ("expected all NaN", rewrite_expected(lambda a: np.full_like(a, np.nan)), "holds NaN or infinite values"),
    ("expected with inf", rewrite_expected(with_value(np.inf)), "holds NaN or infinite values"),
    (
        "dense expected with -inf",
        rewrite_expected(with_value(-np.inf), "prompt_dense_embeddings"),
        "holds NaN or infinite values",
    ),
    ("stage with NaN", rewrite_stage(with_value(np.nan)), "holds NaN or infinite values"),
    ("stale expected: all zeros", rewrite_expected(np.zeros_like), "differs from the float64 reference"),
    ("stale expected: 1e-6 off", rewrite_expected(lambda a: a + 1e-6), "differs from the float64 reference"),
    ("stale expected: scaled", rewrite_expected(lambda a: a * 1.5), "differs from the float64 reference"),
    (
        "stale positional grid",
        rewrite_expected(lambda a: a[..., ::-1, :], "prompt_dense_positional_embeddings"),
        "differs from the float64 reference",
    ),
    ("stale stage", rewrite_stage(lambda a: a + 1.0), "differs from the float64 reference"),
    (
        "fortran order",
        raw_expected(lambda a: raw_npy(np.ascontiguousarray(a[0].T).T[None] if a.ndim == 3 else a, True)),
        "Fortran order",
    ),
    ("big-endian >f8", raw_expected(lambda a: raw_npy(a.astype(">f8"))), "dtype '>f8'"),
    ("float32 <f4", raw_expected(lambda a: raw_npy(a.astype("<f4"))), "dtype '<f4'"),
    ("int expected", raw_expected(lambda a: raw_npy(a.astype("<i8"))), "dtype '<i8'"),
    ("object dtype (pickle inside)", raw_expected(pickled_object_array), "dtype '|O'"),
    ("a pickle, not an npy", raw_expected(plain_pickle), "not a valid .npy header"),
    ("wrong shape", raw_expected(lambda a: raw_npy(a[:, :2])), "shape (1, 2, 32); the manifest says (1, 4, 32)"),
    ("manifest shape disagrees", wrong_broadcast_shape, "the manifest says (1, 5, 32)"),
    ("truncated file", raw_expected(lambda a: raw_npy(a)[:-40]), "data bytes; its header declares"),
    ("trailing bytes", raw_expected(lambda a: raw_npy(a) + b"\0" * 8), "data bytes; its header declares"),
    ("garbage", raw_expected(lambda a: b"\x93NUMPY garbage"), "not a valid .npy header"),
    ("huge declared shape", raw_expected(huge_declared), "the manifest says"),
    ("huge declared input", raw_input("points", huge_declared), "its header declares (1000000000000,)"),
    ("labels as float", raw_input("labels", lambda a: raw_npy(a.astype("<f8"))), "dtype '<f8'; expected '<i8'"),
    (
        "label the reference refuses",
        raw_input("labels", lambda a: raw_npy(np.full_like(a, 7))),
        "the reference refuses",
    ),
    ("NaN point", raw_input("points", lambda a: raw_npy(np.full_like(a, np.nan))), "the reference refuses"),
    ("points of the wrong rank", raw_input("points", lambda a: raw_npy(a[0])), "the reference refuses"),
    ("NaN parameter", nan_parameter, "the reference refuses"),
    ("odd hidden_size", odd_hidden_size, "the reference refuses"),
    ("a folder where a file should be", folder_instead_of_file, "not a regular file"),
    ("a FIFO where a file should be", fifo_instead_of_file, "not a regular file"),
    ("oversized file", sparse_oversized_file, "fixture files hold at most"),
    ("stage the reference lacks", unknown_stage, "is not a stage of the reference's trace"),
]


STAGE_VALUES = {"stale stage", "stage the reference lacks"}


@pytest.mark.parametrize("name, mutate, needle", CASE_LEVEL, ids=[row[0] for row in CASE_LEVEL])
def test_case_level_problem(folder, capsys, name, mutate, needle):
    """The case is unusable (its fixture_error names it and the file), the other case loads, and
    `fixtures verify` exits 1 naming the problem. A port is never compared with such a case: an
    all-zeros port cannot pass on stale all-zeros expected values."""
    mutate(folder)
    with_stages = name in STAGE_VALUES  # stored stages are compared with the trace by verify (and on request)
    cases = {case.id: case for case in fixtures.load_cases(folder, with_stages=with_stages)}
    error = cases[CASE].fixture_error
    assert error is not None and error.startswith(f"case '{CASE}': ") and needle in error, error
    assert len(error.splitlines()) == 1
    assert cases[OTHER].fixture_error is None and set(cases[OTHER].reference) == set(cases[OTHER].expected)
    problems = fixtures.verify(folder, log=lambda line: None)
    assert any(needle in p for p in problems), problems
    capsys.readouterr()
    assert main(["fixtures", "verify", str(folder), "--quiet"]) == 1
    captured = capsys.readouterr()
    assert needle in captured.err and "Traceback" not in captured.err and captured.out == "", captured
    report = folder.parent / "report.json"
    code = main(
        ["check", "reference-f32", "--fixtures", str(folder), "--in-process", "--no-diagnosis", "--report", str(report)]
    )
    checked = capsys.readouterr()
    if with_stages:  # no port is judged on stored stages: check runs (verify above is what refuses them)
        assert code == 0 and "Traceback" not in checked.err, checked
        return
    assert code == 2, checked
    rows = [line for line in checked.out.splitlines() if f" {CASE} " in line]
    assert rows and all(line.startswith("error") and f"fixture error: case '{CASE}'" in line for line in rows), rows
    assert any(line.startswith("pass") and f" {OTHER} " in line for line in checked.out.splitlines()), checked.out
    assert "Traceback" not in checked.err and f"fixture error: case '{CASE}'" in report.read_text()
    json.loads(report.read_text())


def test_stale_expected_values_never_shape_a_budget(folder):
    """All-zeros expected values with a correct sha256: the case is a fixture error, and the
    reference the checker compares with is the recomputed one (far from zero)."""
    rewrite_expected(np.zeros_like)(folder)
    case = next(c for c in fixtures.load_cases(folder) if c.id == CASE)
    assert case.fixture_error and "differs from the float64 reference" in case.fixture_error
    assert np.abs(case.reference["prompt_sparse_embeddings"]).max() > 0.1


def test_unlisted_npy_file_is_reported_by_verify(folder, capsys):
    (folder / "cases" / CASE / "extra.npy").write_bytes(fixtures.npy_bytes(np.zeros(3)))
    assert all(case.fixture_error is None for case in fixtures.load_cases(folder))
    assert main(["fixtures", "verify", str(folder), "--quiet"]) == 1
    assert "extra.npy: not listed in manifest.json" in capsys.readouterr().err


def test_shared_file_errors_every_case_that_uses_it(folder):
    """A broken parameter file is an error of each case that reads it, not of the whole run."""
    manifest = manifest_of(folder)
    other = case_entry(manifest, OTHER)
    other["params"] = case_entry(manifest)["params"]
    other["config"] = case_entry(manifest)["config"]
    write_manifest(folder, manifest)
    nan_parameter(folder)
    cases = fixtures.load_cases(folder)
    assert all(c.fixture_error and "the reference refuses" in c.fixture_error for c in cases)


def test_the_pristine_copy_loads_clean(folder, capsys):
    """The starting point of every test above is sound (so each failure is the mutation's)."""
    cases = fixtures.load_cases(folder)
    assert [c.fixture_error for c in cases] == [None, None]
    assert main(["fixtures", "verify", str(folder), "--quiet"]) == 0
    assert capsys.readouterr() == ("", "")


def test_strict_loading_refuses_any_broken_case(folder):
    """Commands that need every case sound (selftest, figures, report ports) load with strict=True:
    one broken case is a FixtureError naming it (exit 2 through the CLI)."""
    delete_file(folder)
    with pytest.raises(fixtures.FixtureError) as excinfo:
        fixtures.load_cases(folder, strict=True)
    assert str(excinfo.value).startswith(f"case '{CASE}': ") and "missing" in str(excinfo.value)
    assert isinstance(excinfo.value, ValueError)  # every command's usage-error handler catches it
