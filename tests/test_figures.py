"""`samspec figures` (conformance/teaching/figures.py) and the teaching docs that show its PNGs.

The drawing tests need matplotlib (the `figures` extra): they skip without it, except where
SAMSPEC_REQUIRE names matplotlib. The checks of the committed PNGs and of the docs' links do not.
"""

import argparse
import re
import struct
import sys
from pathlib import Path

import pytest
from conftest import require

from samspec.conformance.reports.html import github_slug  # the anchors the HTML report links to
from samspec.conformance.teaching import figures

ROOT = Path(__file__).resolve().parents[1]
IMG = ROOT / "docs" / "img"
DOCS = [
    ROOT / "README.md",
    ROOT / "docs" / "guide.md",
    ROOT / "docs" / "ci.md",
    ROOT / "docs" / "adapters.md",
    ROOT / "docs" / "other-languages.md",
    ROOT / "ports" / "c" / "README.md",
]
MAX_BYTES = 200 * 1024


def run_figures(*argv) -> int:
    parser = argparse.ArgumentParser()
    figures.add_arguments(parser)
    return figures.run(parser.parse_args([str(a) for a in argv]))


def png_size(path: Path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])  # IHDR: width, height


@pytest.mark.slow
@pytest.mark.sam
def test_every_figure_is_drawn(tmp_path):
    require("matplotlib")
    assert run_figures("--out", tmp_path) == 0
    for name in figures.FIGURES:
        path = tmp_path / f"{name}.png"
        width, height = png_size(path)
        assert 400 <= width <= 1600 and 300 <= height <= 1400, (name, width, height)  # check_ratios: a row a case
        assert path.stat().st_size < MAX_BYTES, f"{name}.png is {path.stat().st_size} bytes"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{n}.png" for n in figures.FIGURES)


@pytest.mark.sam
def test_report_png_from_a_check_report(tmp_path):
    require("matplotlib")
    from samspec.conformance.cli import main

    report = tmp_path / "report.json"
    assert (
        main(["check", "reference-f32", "--cases", r"^(labels\.foreground|masks\.cm4)$", "--report", str(report)]) == 0
    )
    assert run_figures("--out", tmp_path / "img", "--report", report) == 0
    assert [p.name for p in (tmp_path / "img").iterdir()] == ["report.png"]  # --report alone draws only it
    png_size(tmp_path / "img" / "report.png")


def test_failing_port_is_a_real_failure():
    """The broken ports of failing_port.png fail the outputs the guide says they fail."""
    from samspec.conformance.cases.store import load_cases
    from samspec.conformance.harness.check import Checker
    from samspec.conformance.profiles.profile import get_profile

    cases = load_cases(pattern=r"^(seed\.points|masks\.binary)$")
    ports = dict(figures.demo_ports())
    verdicts = {}
    for label, adapter in ports.items():
        for result in Checker(adapter, get_profile("sam")).run(cases):
            verdicts[(label, result.case, result.output)] = result.verdict
    faithful, no_shift, tanh = ports
    assert {v for (label, _, _), v in verdicts.items() if label == faithful} == {"pass"}
    assert verdicts[(no_shift, "seed.points", "prompt_sparse_embeddings")] == "fail"
    assert verdicts[(no_shift, "masks.binary", "prompt_dense_embeddings")] == "pass"
    assert verdicts[(tanh, "masks.binary", "prompt_dense_embeddings")] == "fail"
    assert verdicts[(tanh, "seed.points", "prompt_sparse_embeddings")] == "pass"


def test_missing_matplotlib_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    assert run_figures("--out", tmp_path) == 2
    err = capsys.readouterr().err.strip()
    from samspec.conformance.reports.install_hint import install_command

    assert err.count("\n") == 0 and install_command("figures") in err and "'samspec[figures]'" not in err
    assert not any(tmp_path.iterdir())


def test_out_is_required_and_nothing_lands_in_the_current_folder(tmp_path, monkeypatch, capsys):
    """`samspec figures` without --out is a usage error (exit 2 naming --out), never ./docs/img."""
    from samspec.conformance.cli import main

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exited:
        main(["figures", "--only", "gaussian_frequencies"])
    assert exited.value.code == 2 and "--out" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


@pytest.mark.sam
def test_bad_report_is_a_usage_error(tmp_path, capsys):
    require("matplotlib")
    bad = tmp_path / "report.xml"
    bad.write_text("<testsuites/>", encoding="utf-8")
    assert run_figures("--out", tmp_path / "img", "--report", bad) == 2
    assert "samspec check --report" in capsys.readouterr().err


# -- the committed PNGs and the docs that show them ---------------------------------------------------


SCREENSHOTS = {"html_report.png"}  # docs/ci.md: a `samspec check --html` page in headless Chromium


def test_committed_pngs_are_the_figures_and_small():
    committed = sorted(p.name for p in IMG.glob("*.png") if p.name not in SCREENSHOTS)
    assert committed == sorted(f"{n}.png" for n in figures.FIGURES), "run: samspec figures --out docs/img"
    assert all((IMG / name).exists() for name in SCREENSHOTS)
    for name in committed + sorted(SCREENSHOTS):
        png_size(IMG / name)
        assert (IMG / name).stat().st_size < MAX_BYTES, name


def test_guide_shows_every_figure():
    guide = (ROOT / "docs" / "guide.md").read_text(encoding="utf-8")
    for name in figures.FIGURES:
        assert f"](img/{name}.png)" in guide, f"docs/guide.md does not show img/{name}.png"


def anchors(path: Path) -> set:
    found = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"#{1,6}\s+(.*)", line)
        if match:
            found.add(github_slug(match.group(1)))
    return found


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_links_resolve(doc):
    """Every relative link of these docs names a file that exists, and every
    #anchor names a heading of that file (GitHub's anchor rules)."""
    text = doc.read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    assert links, f"{doc.name} has no links"
    for link in links:
        if re.match(r"[a-z]+:", link):
            continue
        target, _, anchor = link.partition("#")
        path = (doc.parent / target).resolve() if target else doc
        assert path.exists(), f"{doc.name}: link {link!r}: {path} does not exist"
        if anchor:
            assert anchor in anchors(path), f"{doc.name}: link {link!r}: no heading #{anchor} in {path.name}"
