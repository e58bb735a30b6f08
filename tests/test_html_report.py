"""`samspec check --html` (conformance/reports/html.py): one self-contained page, parsed here with
html.parser. Failures come first, each failing output has its heat map (or says which extra draws
it), its diagnosis and links to the spec sections it checks; whatever the port wrote is escaped;
nothing is loaded from the network and no script runs.
"""

import base64
import subprocess
import sys
from html.parser import HTMLParser

import pytest
from conftest import require

from samspec.conformance.reports import html as html_report
from samspec.conformance.reports.html import render_html

HOSTILE = '<script>alert("x")</script><img src=http://evil.example/x.png onerror=alert(1)>'
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16


class Page(HTMLParser):
    """Tags with their attributes, the text of each element id'd, and all text in order."""

    def __init__(self, text):
        super().__init__()
        self.tags, self.text, self.rows = [], [], []
        self._row = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "tr":
            self._row = []

    def handle_endtag(self, tag):
        if tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        self.text.append(data)
        if self._row is not None and data.strip():
            self._row.append(data.strip())

    def all_text(self):
        return " ".join(self.text)


def row(case, output, verdict, **extra):
    base = {
        "case": case,
        "output": output,
        "verdict": verdict,
        "sections": ["3.1", "5.2"],
        "error": 0.1,
        "budget": 1e-5,
        "ratio": 1e4,
        "worst_index": [0, 1, 2],
        "expected_at_worst": 0.5,
        "got_at_worst": 0.6,
        "dtype": "float32",
        "message": "",
        "diagnosis": None,
        "captured": "",
        "duration_s": 0.01,
    }
    base.update(extra)
    return base


def document(results, **extra):
    doc = {
        "schema": "samspec-report/2",
        "port": "my_port:MyPort",
        "adapter": "my-port",
        "profile": "sam",
        "k": 4.0,
        "fixtures": {"path": "/fixtures", "manifest_sha256": "ab" * 32, "samspec_version": "0.1.0"},
        "started": "2026-11-27T12:00:00+00:00",
        "duration_s": 1.5,
        "summary": {},
        "diagnosis": {"summary": "all failures are explained by variant `no_pixel_shift`"},
        "xfails": [],
        "environment": {"python": "3.11", "numpy": "2.0"},
        "results": results,
    }
    for r in results:
        doc["summary"][r["verdict"]] = doc["summary"].get(r["verdict"], 0) + 1
    doc.update(extra)
    return doc


DIAGNOSIS = {
    "summary": "matches variant `no_pixel_shift` (ratio 0.2 of budget): your port does not add 0.5 (§3.1)",
    "section": "§3.1",
    "candidates": [{"variant": "no_pixel_shift", "error": 1e-6, "ratio": 0.2}],
}


def test_summary_failures_first_heat_map_diagnosis_and_spec_links():
    results = [
        row("labels.foreground", "prompt_dense_embeddings", "pass", ratio=0.1),
        row("labels.foreground", "prompt_sparse_embeddings", "fail", diagnosis=DIAGNOSIS),
        row("masks.random", "prompt_dense_embeddings", "error", message="adapter run failed: boom"),
    ]
    page = Page(render_html(document(results), {"labels.foreground::prompt_sparse_embeddings": PNG}))
    text = page.all_text()
    assert "samspec check my_port:MyPort" in text and "(3 outputs)" in text
    assert "all failures are explained by variant `no_pixel_shift`" in text
    verdict_rows = [r for r in page.rows if r and r[0] in ("pass", "fail", "error")]
    assert [r[0] for r in verdict_rows] == ["error", "fail", "pass"]  # failures first
    images = [attrs for tag, attrs in page.tags if tag == "img"]
    assert len(images) == 1 and images[0]["src"] == "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert "adapter run failed: boom" in text and "matches variant `no_pixel_shift`" in text
    links = {attrs["href"] for tag, attrs in page.tags if tag == "a" and "#31-" in attrs.get("href", "")}
    assert links and all(link.endswith("#31-pixel-centre-shift") for link in links)
    in_page = {attrs["href"][1:] for tag, attrs in page.tags if tag == "a" and attrs.get("href", "").startswith("#")}
    ids = {attrs["id"] for tag, attrs in page.tags if "id" in attrs}
    assert in_page and in_page <= ids  # every failing row links to its detail


def test_every_spec_section_a_fixture_cites_has_an_anchor():
    from samspec.conformance.cases.store import load_cases

    known = html_report.spec_sections()
    cited = {s for case in load_cases() for s in case.sections}
    assert cited and cited <= set(known), sorted(cited - set(known))
    assert known["9.3"] == ("9.3 Activation", "93-activation")


def test_hostile_text_is_escaped_and_nothing_is_loaded_or_run():
    results = [
        row(
            "c" + HOSTILE,
            "prompt_sparse_embeddings",
            "fail",
            message=HOSTILE,
            captured=HOSTILE,
            diagnosis={"summary": HOSTILE, "localisation": [HOSTILE]},
        )
    ]
    page_text = render_html(document(results, port=HOSTILE, environment={HOSTILE: HOSTILE}))
    page = Page(page_text)
    assert not [tag for tag, _ in page.tags if tag in ("script", "link", "iframe", "object", "embed")]
    assert not any(tag == "img" for tag, _ in page.tags)
    assert not any(k.startswith("on") for _, attrs in page.tags for k in attrs)
    assert HOSTILE in page.all_text()  # shown as text
    addresses = [v for _, attrs in page.tags for k, v in attrs.items() if k in ("src", "href", "action")]
    assert addresses and all(a.startswith(("#", "file:")) for a in addresses)  # in-page and the local spec only


def test_a_failing_output_without_heat_map_names_the_extra(monkeypatch):
    results = [row("labels.foreground", "prompt_sparse_embeddings", "fail")]
    monkeypatch.setattr(html_report.importlib.util, "find_spec", lambda name: None)
    text = Page(render_html(document(results))).all_text()
    from samspec.conformance.reports.install_hint import install_command

    assert f"heat maps need matplotlib: {install_command('figures')}" in text
    assert "pip install 'samspec[figures]'" not in text  # samspec is on no index: that installs someone else's


def test_spec_url_from_the_environment(monkeypatch):
    monkeypatch.setenv("SAMSPEC_SPEC_URL", "https://example.org/samspec/docs/spec.md")
    page = Page(render_html(document([row("boxes.only", "prompt_sparse_embeddings", "fail")])))
    hrefs = [attrs["href"] for tag, attrs in page.tags if tag == "a" and "spec.md" in attrs.get("href", "")]
    assert "https://example.org/samspec/docs/spec.md#31-pixel-centre-shift" in hrefs


@pytest.mark.sam
def test_heatmap_png_draws_a_sparse_and_a_dense_output():
    require("matplotlib")
    import numpy as np

    from samspec.conformance.teaching.figures import heatmap_png

    rng = np.random.default_rng(0)
    for shape in ((2, 4, 32), (1, 32, 8, 6)):
        expected = rng.normal(size=shape)
        png = heatmap_png((expected + 1e-3).astype(np.float32), expected, 1e-5, title="case::output")
        assert png.startswith(b"\x89PNG") and 2_000 < len(png) < 200_000
    with pytest.raises(ValueError, match="heatmap_png"):
        heatmap_png(np.zeros((2, 3)), np.zeros((2, 3)), 1e-5)


def test_samspec_check_html_on_a_broken_port(tmp_path):
    """The whole path: `samspec check --html` on a port with a known bug."""
    (tmp_path / "buggy_port.py").write_text(
        "from samspec.conformance.diagnosis.variants import VariantAdapter\n\n"
        "def NoShift():\n    return VariantAdapter('no_pixel_shift')\n"
    )
    out = tmp_path / "r.html"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "samspec.conformance.cli",
            "check",
            "buggy_port:NoShift",
            "--cases",
            r"^(labels\.foreground|masks\.random)$",
            "--html",
            str(out),
            "-q",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    page = Page(out.read_text(encoding="utf-8"))
    text = page.all_text()
    assert "samspec check buggy_port:NoShift" in text and "(6 outputs)" in text
    assert "matches variant `no_pixel_shift`" in text
    verdicts = [r[0] for r in page.rows if r and r[0] in ("pass", "fail")]
    assert verdicts == ["fail"] + ["pass"] * 5
    has_matplotlib = html_report.importlib.util.find_spec("matplotlib") is not None
    images = [a for t, a in page.tags if t == "img"]
    assert len(images) == (1 if has_matplotlib else 0)


def test_identical_errors_are_summarised_once():
    boom = "adapter build failed: ModuleNotFoundError: No module named 'my_sam'"
    results = [
        row(case, output, "error", message=boom)
        for case in ("a.one", "b.two")
        for output in ("prompt_sparse_embeddings", "prompt_dense_embeddings")
    ]
    page = Page(render_html(document(results)))
    said = [t for t in page.text if "errors are one exception" in t]
    assert said == ["4 errors are one exception (first at "]
    assert "a.one::prompt_sparse_embeddings" in page.text and any(boom in t for t in page.text)
    details = [attrs for tag, attrs in page.tags if tag == "div" and attrs.get("class") == "detail"]
    assert len(details) == 1 and "The same error in 3 more outputs: " in page.text  # one detail, the rest listed
    in_page = {attrs["href"][1:] for tag, attrs in page.tags if tag == "a" and attrs.get("href", "").startswith("#")}
    assert len(in_page) == 4 and in_page <= {attrs["id"] for tag, attrs in page.tags if "id" in attrs}


def test_the_first_screen_holds_the_summary_lines_and_the_worst_heat_maps():
    """The summary as separate lines, then the worst failures' heat maps, before the run's facts and the tables."""
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 16
    results = [row(f"case.{n}", "prompt_sparse_embeddings", "fail", ratio=10.0**n) for n in range(5)]
    results += [row(f"ok.{n}", "prompt_dense_embeddings", "pass", ratio=0.1) for n in range(150)]
    overall = {"summary": "diagnosis: line one\nsecond line", "lines": ["diagnosis: line one", "second line"]}
    heatmaps = {f"case.{n}::prompt_sparse_embeddings": png for n in range(5)}
    text = render_html(document(results, diagnosis=overall), heatmaps)
    first_image, run_facts, verdicts = text.index("<img"), text.index('id="run"'), text.index('id="results"')
    assert first_image < run_facts < verdicts, "the heat maps must come before the run's facts and the verdict table"
    worst = text[text.index('id="worst"') : run_facts]
    assert worst.count("<img") == 3 and "case.4::sparse" in worst and "case.1::sparse" not in worst  # largest ratios
    assert text.count("<img") == 5  # each heat map once: the worst three above, the others in their details
    assert '<p class="diagnosis">diagnosis: line one</p>' in text and '<p class="diagnosis">second line</p>' in text
