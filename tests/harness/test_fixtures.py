"""The golden fixtures (docs/fixtures.md): deterministic, checksummed, verified by recomputation."""

import io
import json
import shutil

import numpy as np
import pytest

from samspec.conformance.cases import generate as generating
from samspec.conformance.cases import store as fixtures
from samspec.conformance.cases.catalogue import CASES, case_inputs
from samspec.conformance.cli import main


@pytest.mark.slow
def test_generate_is_deterministic(tmp_path):
    """Two generations give byte-identical files and manifests."""
    first = fixtures.generate(tmp_path / "a")
    second = fixtures.generate(tmp_path / "b")
    assert first == second
    for relative in first["sha256"]:
        assert (tmp_path / "a" / relative).read_bytes() == (tmp_path / "b" / relative).read_bytes(), relative


@pytest.mark.slow
def test_committed_set_matches_the_catalogue(tmp_path):
    """The committed manifest lists the same cases, files, shapes and inputs as a fresh generation;
    values are compared by `samspec fixtures verify` (1e-12), since float64 last bits may differ
    between CPUs. Inputs and parameters are exact."""
    fresh = fixtures.generate(tmp_path)
    committed = json.loads((fixtures.default_dir() / "manifest.json").read_text())
    strip = lambda m: {k: v for k, v in m.items() if k not in ("sha256", "samspec_version")}
    assert strip(fresh) == strip(committed), "the committed fixtures are stale: run `samspec fixtures generate`"
    for relative, digest in fresh["sha256"].items():
        if "/input." in relative or relative.startswith("params/"):
            assert committed["sha256"].get(relative) == digest, relative


def test_committed_set_is_small_and_complete():
    manifest = fixtures.read_manifest(fixtures.default_dir())
    total = sum((fixtures.default_dir() / f).stat().st_size for f in manifest["sha256"])
    assert total < 20 * 2**20
    assert [c["id"] for c in manifest["cases"]] == [c.id for c in CASES]
    for case in manifest["cases"]:
        assert case["sections"], case["id"]
        assert set(case["expected"]) == {
            "prompt_sparse_embeddings",
            "prompt_dense_embeddings",
            "prompt_dense_positional_embeddings",
        }


def test_catalogue_covers_the_edges():
    """Every label alone, batches, many points, boxes, masks, empty prompts, borders, non-square."""
    ids = {c.id for c in CASES}
    for needed in (
        "labels.foreground",
        "labels.background",
        "labels.not_a_point",
        "labels.corner_2",
        "labels.corner_3",
        "points.many",
        "boxes.only",
        "boxes.with_points",
        "masks.random",
        "masks.constant",
        "empty.portrait",
        "points.border",
        "points.outside",
        "seed.points",
    ):
        assert needed in ids
    configs = {c.config for c in CASES}
    assert {"seed", "portrait", "landscape", "tiny", "cm4"} <= configs


def test_npy_files_are_little_endian_with_explicit_dtype():
    """Every file is '<f8' or '<i8', except mask inputs, which keep the catalogue's integer dtype
    (§9.5: integer masks are accepted and cast; docs/fixtures.md)."""
    root = fixtures.default_dir()
    manifest = fixtures.read_manifest(root)
    for relative in manifest["sha256"]:
        array = np.load(root / relative, allow_pickle=False)
        allowed = ("<f8",) + fixtures.INTEGER_DTYPES if relative.endswith("/input.masks.npy") else ("<f8", "<i8")
        assert array.dtype.str in allowed, relative
    for case in CASES:
        masks = case_inputs(case).get("masks")
        if masks is not None:
            stored = np.load(root / "cases" / case.id / "input.masks.npy", allow_pickle=False)
            want = "<f8" if masks.dtype.kind == "f" else masks.dtype.newbyteorder("<").str
            assert stored.dtype.str == want, f"{case.id}: masks stored as {stored.dtype.str}, generated as {want}"


def test_integer_masks_are_cast_by_the_reference():
    """§9.5 (mask downscaler input): a case whose mask is stored as integers is compared with the
    reference on the same values as float64: cast, neither thresholded nor rescaled."""
    from samspec.reference import SAMPromptEncoder

    integer = [c for c in fixtures.load_cases(pattern=r"^masks\.") if c.inputs["masks"].dtype.kind in "iu"]
    assert integer, "§9.5: no fixture case stores an integer mask"
    for case in integer:
        assert case.fixture_error is None, case.fixture_error
        as_float = case.inputs["masks"].astype(np.float64)
        fresh = SAMPromptEncoder(**case.config, params=case.params, dtype="float64")(masks=as_float)
        for key, value in fresh.items():
            np.testing.assert_array_equal(case.reference[key], value, err_msg=f"§9.5 {case.id} {key}")


@pytest.mark.parametrize(
    "dtype, accepted",
    [("<i2", True), ("|i1", True), ("<u4", True), (">i4", False), ("<f4", False), ("|b1", False)],
)
def test_a_mask_file_s_dtype_is_read_from_its_header(copy_of_fixtures, dtype, accepted):
    """A mask input may be stored as any little-endian integer (docs/fixtures.md) and loads with the
    same reference; a big-endian, float32 or boolean mask file makes the case's fixture error, naming
    the file, its dtype and the accepted ones."""
    import hashlib

    case_id = "masks.integer_binary"
    manifest = json.loads((copy_of_fixtures / "manifest.json").read_text())
    relative = next(c for c in manifest["cases"] if c["id"] == case_id)["inputs"]["masks"]
    original = np.load(copy_of_fixtures / relative)
    buffer = io.BytesIO()
    np.save(buffer, original.astype(dtype), allow_pickle=False)
    (copy_of_fixtures / relative).write_bytes(buffer.getvalue())
    manifest["sha256"][relative] = hashlib.sha256(buffer.getvalue()).hexdigest()
    (copy_of_fixtures / "manifest.json").write_text(json.dumps(manifest))
    case = fixtures.load_cases(copy_of_fixtures, pattern=rf"^{case_id}$")[0]
    if accepted:
        assert case.fixture_error is None, case.fixture_error
        shipped = fixtures.load_cases(pattern=rf"^{case_id}$")[0]
        for key, value in shipped.reference.items():
            np.testing.assert_array_equal(case.reference[key], value)
    else:
        assert case.fixture_error is not None and relative in case.fixture_error
        assert f"dtype {np.dtype(dtype).str!r}" in case.fixture_error
        assert all(repr(d) in case.fixture_error for d in ("<f8",) + fixtures.INTEGER_DTYPES), case.fixture_error


@pytest.fixture
def copy_of_fixtures(tmp_path):
    target = tmp_path / "fx"
    shutil.copytree(fixtures.default_dir(), target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def test_verify_passes_on_the_committed_set(capsys):
    assert main(["fixtures", "verify", "--quiet"]) == 0


@pytest.mark.slow
def test_verify_names_a_flipped_byte(copy_of_fixtures, capsys):
    manifest = fixtures.read_manifest(copy_of_fixtures)
    victim = next(f for f in manifest["sha256"] if "expected.prompt_sparse" in f)
    data = bytearray((copy_of_fixtures / victim).read_bytes())
    data[-3] ^= 0x01
    (copy_of_fixtures / victim).write_bytes(bytes(data))
    assert main(["fixtures", "verify", str(copy_of_fixtures), "--quiet"]) == 1
    assert victim in capsys.readouterr().err


@pytest.mark.slow
def test_verify_names_a_missing_file(copy_of_fixtures, capsys):
    manifest = fixtures.read_manifest(copy_of_fixtures)
    victim = next(f for f in manifest["sha256"] if "input.masks" in f)
    (copy_of_fixtures / victim).unlink()
    assert main(["fixtures", "verify", str(copy_of_fixtures), "--quiet"]) == 1
    assert victim in capsys.readouterr().err


def test_verify_recomputes_expected_values(copy_of_fixtures, capsys):
    """A consistent forgery (new value, new sha256) is caught by recomputation with the reference."""
    import hashlib

    manifest = json.loads((copy_of_fixtures / "manifest.json").read_text())
    case = next(c for c in manifest["cases"] if c["id"] == "labels.foreground")
    relative = case["expected"]["prompt_sparse_embeddings"]["file"]
    array = np.load(copy_of_fixtures / relative)
    array[0, 0, 0] += 1e-6
    data = fixtures.npy_bytes(array)
    (copy_of_fixtures / relative).write_bytes(data)
    manifest["sha256"][relative] = hashlib.sha256(data).hexdigest()
    (copy_of_fixtures / "manifest.json").write_text(json.dumps(manifest))
    assert main(["fixtures", "verify", str(copy_of_fixtures), "--quiet"]) == 1
    assert "labels.foreground" in capsys.readouterr().err


def test_verify_rejects_unknown_schema(copy_of_fixtures, capsys):
    manifest = json.loads((copy_of_fixtures / "manifest.json").read_text())
    manifest["schema_version"] = 99
    (copy_of_fixtures / "manifest.json").write_text(json.dumps(manifest))
    assert main(["fixtures", "verify", str(copy_of_fixtures), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "schema_version 99 is not supported" in err and len(err.strip().splitlines()) == 1


def test_load_cases_recomputes_the_reference():
    """Each case carries the float64 reference's outputs, recomputed from its stored inputs and
    parameters (what a port is compared with), and agrees with its stored expected values."""
    from samspec.reference import SAMPromptEncoder

    case = fixtures.load_cases(pattern=r"^labels\.foreground$")[0]
    assert case.fixture_error is None
    fresh = SAMPromptEncoder(**case.config, params=case.params, dtype="float64", profile="sam")(**case.inputs)
    for key, value in fresh.items():
        np.testing.assert_array_equal(case.reference[key], value)
        np.testing.assert_allclose(case.expected[key], value, rtol=0, atol=1e-12)


def test_manifest_sha256_is_the_manifest_bytes():
    import hashlib

    digest = hashlib.sha256((fixtures.default_dir() / "manifest.json").read_bytes()).hexdigest()
    assert fixtures.manifest_sha256() == digest == fixtures.manifest_sha256(fixtures.default_dir())


def test_verify_quiet_prints_nothing(capsys):
    assert main(["fixtures", "verify", "--quiet"]) == 0
    assert capsys.readouterr() == ("", "")


# -- fixtures generate (docs/fixtures.md, "Regenerating") --------------------------------------------


def one_line_error(capsys) -> str:
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1, captured
    return captured.err


def test_generate_requires_out(capsys):
    assert main(["fixtures", "generate"]) == 2
    assert "--out DIR" in one_line_error(capsys)
    assert main(["fixtures", "generate", "somewhere"]) == 2
    assert "--out DIR" in one_line_error(capsys)


def test_generate_refuses_a_non_empty_folder_without_force(tmp_path, capsys):
    (tmp_path / "mine.txt").write_text("keep me")
    assert main(["fixtures", "generate", "--out", str(tmp_path)]) == 2
    error = one_line_error(capsys)
    assert "not empty (holds 'mine.txt')" in error and "--force" in error
    assert main(["fixtures", "generate", "--out", str(tmp_path), "--force"]) == 2
    assert "'mine.txt', which is not part of a fixture set" in one_line_error(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.txt"]


@pytest.mark.slow
def test_generate_force_replaces_a_fixture_set(tmp_path, capsys):
    out = tmp_path / "fx"
    assert main(["fixtures", "generate", "--out", str(out), "--quiet"]) == 0
    assert capsys.readouterr() == ("", "")
    (out / "cases" / "stale.npy").write_bytes(b"old")
    assert main(["fixtures", "generate", "--out", str(out)]) == 2
    assert "not empty" in one_line_error(capsys)
    assert main(["fixtures", "generate", "--out", str(out), "--force"]) == 0
    assert f"wrote {len(CASES)} cases" in capsys.readouterr().out
    assert not (out / "cases" / "stale.npy").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fx"], "no staging or retired folder is left behind"
    assert fixtures.verify(out, log=lambda line: None) == []


@pytest.mark.slow
def test_generate_interrupted_leaves_the_old_set_intact(tmp_path, monkeypatch):
    out = tmp_path / "fx"
    fixtures.generate(out)
    before = (out / "manifest.json").read_bytes()

    def interrupted(root, cases):
        (root / "manifest.json").write_text("{half")
        raise KeyboardInterrupt

    monkeypatch.setattr(generating, "_write_set", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fixtures.generate(out, force=True)
    assert (out / "manifest.json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fx"]


def test_generate_never_writes_inside_the_installed_package(tmp_path, monkeypatch, capsys):
    """An installed package's data is never replaced; the source checkout's fixtures/ only with --force."""
    shipped = fixtures.default_dir()
    before = (shipped / "manifest.json").read_bytes()
    inside = shipped.parent / "conformance" / "generated-here"
    assert main(["fixtures", "generate", "--out", str(inside), "--force"]) == 2
    assert "inside the installed samspec package" in one_line_error(capsys)
    assert not inside.exists()
    monkeypatch.setattr(generating, "is_source_checkout", lambda folder: False)  # as in site-packages
    assert main(["fixtures", "generate", "--out", str(shipped), "--force"]) == 2
    assert "inside the installed samspec package" in one_line_error(capsys)
    monkeypatch.undo()
    assert fixtures.is_source_checkout(shipped) == (shipped.parent / "pyproject.toml").is_file()
    if fixtures.is_source_checkout(shipped):
        assert main(["fixtures", "generate", "--out", str(shipped)]) == 2
        assert "pass --force to regenerate it" in one_line_error(capsys)
    assert (shipped / "manifest.json").read_bytes() == before


@pytest.mark.slow
def test_generate_regenerates_a_source_checkout_with_force(tmp_path, monkeypatch, capsys):
    """A developer's checkout (pyproject.toml naming samspec, conformance/cases/catalogue.py, fixtures/)."""
    project = tmp_path / "checkout"
    (project / "conformance" / "cases").mkdir(parents=True)
    (project / "conformance" / "cases" / "catalogue.py").write_text("")
    (project / "pyproject.toml").write_text('[project]\nname = "samspec"\n')
    shipped = project / "fixtures"
    fixtures.generate(shipped)
    monkeypatch.setattr(generating, "default_dir", lambda: shipped)
    monkeypatch.setattr(
        generating, "_package_folders", lambda: [shipped.resolve(), (project / "conformance").resolve()]
    )
    assert main(["fixtures", "generate", "--out", str(shipped), "--quiet"]) == 2
    assert "pass --force to regenerate it" in one_line_error(capsys)
    assert main(["fixtures", "generate", "--out", str(shipped), "--force", "--quiet"]) == 0
    assert fixtures.verify(shipped, log=lambda line: None) == []
