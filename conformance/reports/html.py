"""`samspec check PORT --html FILE`: the report document as one self-contained HTML page (docs/ci.md).

No script, no network: inline CSS, heat maps as ``data:`` PNGs, readable in any browser with
JavaScript off and as a CI artifact. The page holds the header (port, profile, k, fixtures' identity,
time), the summary and overall diagnosis, the verdict table with failures first, and for each failing
output its numbers, its error / budget heat map (``figures.heatmap_png``, the `figures` extra), the
diagnosis and the stage-by-stage localisation, and the spec sections it checks.

Spec sections are named in full on the page (their titles are read from docs/spec.md when the
installed samspec has it) and linked to ``SPEC_URL#anchor``: the environment variable
``SAMSPEC_SPEC_URL`` (e.g. ``https://github.com/ORG/samspec/blob/REF/docs/spec.md`` in a CI job),
else the ``file://`` address of this samspec's docs/spec.md, else the relative ``docs/spec.md``.

Everything that comes from the port (messages, captured output, names) is escaped.
"""

from __future__ import annotations

import base64
import html
import importlib.util
import os
import re
from pathlib import Path

from samspec.reference import SHORT_NAMES as SHORT

from .document import collapsed_errors, compute_dtype_line, printable, stopped_early_text, write_atomic
from .install_hint import install_command

SPEC = Path(__file__).resolve().parents[2] / "docs" / "spec.md"
ORDER = ("error", "fail", "xpass", "xfail", "n/a", "pass")  # the table: failures first
SPELLED = ("pass", "fail", "error", "n/a", "xfail", "xpass")  # the summary, as the terminal spells it
PNG = b"\x89PNG\r\n\x1a\n"

CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5em auto; max-width: 1180px; color: #1b1b1b; padding: 0 1em; }
h1 { font-size: 1.5em; margin-bottom: .2em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; }
h3 { margin-bottom: .3em; font-family: ui-monospace, monospace; font-size: 1.05em; }
code, pre, td.num, td.mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12.5px; }
pre { background: #f6f8fa; padding: .6em; overflow-x: auto; white-space: pre-wrap; max-height: 20em; }
table { border-collapse: collapse; margin: .5em 0; } th, td { padding: 3px 8px; border-bottom: 1px solid #eee;
  text-align: left; vertical-align: top; } td.num { text-align: right; white-space: nowrap; }
.meta td:first-child { color: #555; }
.v { font-weight: 600; padding: 1px 6px; border-radius: 3px; white-space: nowrap; }
.v-pass { background: #dff3e3; color: #14532d; } .v-fail, .v-error { background: #fde2e1; color: #8b1a12; }
.v-xfail, .v-n\\/a { background: #eee; color: #444; } .v-xpass { background: #fff1c2; color: #6b4e00; }
.summary span { margin-right: .6em; font-size: 1.1em; }
.diagnosis { background: #fff8e6; border-left: 4px solid #e0a400; padding: .5em .8em; }
.detail { border: 1px solid #e5e5e5; border-radius: 6px; padding: .3em 1em 1em; margin: 1em 0; }
img { max-width: 100%; height: auto; border: 1px solid #eee; } .note { color: #666; }
.worst { display: flex; gap: 1em; } .worst figure { margin: 0; flex: 1 1 0; min-width: 0; }
.summary { margin: .3em 0; } p.diagnosis { margin: .4em 0; }
"""


def _e(value) -> str:
    """Escaped for HTML, with control, bidi and surrogate characters shown as escapes (report.printable)."""

    return html.escape(printable("" if value is None else str(value)), quote=True)


def _num(value, spec=".3g") -> str:
    return "-" if value is None else _e(format(value, spec)) if isinstance(value, (int, float)) else _e(value)


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def spec_sections(path: Path = SPEC) -> dict:
    """{"3.1": ("3.1 Pixel-centre shift", anchor), ...} from the spec's headings; {} without the file."""
    found = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return found
    for line in lines:
        match = re.match(r"#{2,4}\s+((\d+(?:\.\d+)*)\.?\s+.*)", line)
        if match:
            found[match.group(2)] = (match.group(1).strip(), github_slug(match.group(1)))
    return found


def spec_url() -> str:
    if os.environ.get("SAMSPEC_SPEC_URL"):
        return os.environ["SAMSPEC_SPEC_URL"]
    return SPEC.as_uri() if SPEC.exists() else "docs/spec.md"


def _section_links(sections, known, base) -> str:
    links = []
    for section in sections or ():
        number = str(section).lstrip("§")
        title, anchor = known.get(number, (f"§{number}", ""))
        href = f"{base}#{anchor}" if anchor else base
        links.append(f'<a href="{_e(href)}" title="{_e(title)}">§{_e(number)}</a>')
    return " ".join(links)


def _anchor(row, index) -> str:
    return f"r{index}-" + re.sub(r"[^A-Za-z0-9_.-]", "-", f"{row.get('case', '')}--{row.get('output', '')}")[:120]


def _verdict(verdict) -> str:
    return f'<span class="v v-{_e(verdict)}">{_e(verdict)}</span>'


def _dtype_line(record):
    return compute_dtype_line(record) if isinstance(record, dict) and isinstance(record.get("judged"), dict) else None


def _judged(row) -> str:
    """The output's dtype, and the dtype it was judged in where that differs (a declared compute dtype)."""
    dtype, judged = row.get("dtype") or "-", row.get("judged_dtype")
    return f"{dtype} judged as {judged}" if judged and judged != dtype else dtype


def _header(document) -> list:
    fixtures = (
        document.get("fixtures") if isinstance(document.get("fixtures"), dict) else {"path": document.get("fixtures")}
    )
    rows = [
        ("port", document.get("port")),
        ("adapter", document.get("adapter")),
        ("runtime", document.get("runtime")),
        ("profile", document.get("profile")),
        ("k", document.get("k")),
        (
            "fixtures",
            f"{fixtures.get('path', '?')} (manifest sha256 {str(fixtures.get('manifest_sha256', '?'))[:16]}…, "
            f"samspec {fixtures.get('samspec_version', '?')})",
        ),
        ("compute dtype", _dtype_line(document.get("compute_dtype"))),
        ("started", document.get("started")),
        ("duration", None if document.get("duration_s") is None else f"{document['duration_s']:.2f} s"),
    ]
    out = ['<h2 id="run">Run</h2><table class="meta">']
    out += [f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in rows if v is not None]
    out.append("</table>")
    return out


def _summary(document) -> list:
    """The title and the summary, one line each: the counts, why there is no result, an interruption or an
    early stop, the float16 warning, each line of the whole-run diagnosis, identical errors."""
    counts = document.get("summary") or {}
    total = sum(v for v in counts.values() if isinstance(v, int))
    spelled = "".join(f"<span>{_verdict(k)} {_e(counts[k])}</span>" for k in SPELLED if counts.get(k))
    out = [
        f"<h1>samspec check {_e(document.get('port'))}</h1>",
        f'<p class="summary">{spelled} <span class="note">({total} outputs)</span></p>',
    ]
    if document.get("error"):
        out.append(f'<p class="diagnosis"><b>No result</b>: {_e(document["error"])}</p>')
    if document.get("interrupted"):
        out.append('<p class="diagnosis">The run was interrupted: the results are partial.</p>')
    if isinstance(document.get("stopped_early"), dict):
        out.append(f'<p class="diagnosis">The run {_e(stopped_early_text(document["stopped_early"]))}.</p>')
    record = document.get("compute_dtype")
    if isinstance(record, dict) and record.get("warning"):
        out.append(f'<p class="diagnosis"><b>Warning</b>: {_e(record["warning"])}</p>')
    overall = document.get("diagnosis")
    if isinstance(overall, dict) and overall.get("summary"):
        lines = overall.get("lines")
        if not (isinstance(lines, list) and lines and all(isinstance(line, str) for line in lines)):
            lines = str(overall["summary"]).splitlines()
        out += [f'<p class="diagnosis">{_e(line)}</p>' for line in lines if line.strip()]
    for count, message, first in _identical_errors(document.get("results") or []):
        out.append(
            f'<p class="diagnosis">{count} errors are one exception (first at <code>{_e(first)}</code>): '
            f"{_e(message)}</p>"
        )
    return out


def _worst(rows, heatmaps, limit: int = 3):
    """The heat maps of the ``limit`` failing outputs furthest over budget, side by side, each linked to its
    details: on the first screen, before the tables. Returns (the HTML, the keys of the outputs shown)."""
    failing = [(i, r) for i, r in rows if r.get("verdict") == "fail" and isinstance(r.get("ratio"), (int, float))]
    failing.sort(key=lambda item: -item[1]["ratio"])
    shown, keys = [], set()
    for index, row in failing:
        key = f"{row.get('case')}::{row.get('output')}"
        png = (heatmaps or {}).get(key)
        if isinstance(png, (bytes, bytearray)) and png.startswith(PNG) and len(shown) < limit:
            label = f"{row.get('case')}::{SHORT.get(row.get('output'), row.get('output'))}"
            data = base64.b64encode(bytes(png)).decode("ascii")
            keys.add(key)
            shown.append(
                f'<figure><a href="#{_anchor(row, index)}"><img alt="error / budget heat map of {_e(label)}" '
                f'src="data:image/png;base64,{data}"></a><figcaption><code>{_e(label)}</code> ratio '
                f"{_num(row.get('ratio'))}</figcaption></figure>"
            )
    if not shown:
        return [], keys
    return [f'<h2 id="worst">Worst failures</h2><div class="worst">{"".join(shown)}</div>'], keys


def _identical_errors(rows) -> list:
    """The terminal summary's grouping of identical error messages (report.collapsed_errors), for
    groups of more than one."""
    from types import SimpleNamespace

    results = [
        SimpleNamespace(
            verdict=r.get("verdict"),
            message=str(r.get("message") or ""),
            test_id=r.get("id") or f"{r.get('case')}::{r.get('output')}",
        )
        for r in rows
        if isinstance(r, dict)
    ]
    return [group for group in collapsed_errors(results) if group[0] > 1]


def _table(rows) -> list:
    out = [
        '<h2 id="results">Verdicts</h2>',
        "<table><tr><th>verdict</th><th>case</th><th>output</th><th>dtype</th>"
        "<th>max|err|</th><th>budget</th><th>ratio</th><th>note</th></tr>",
    ]
    for index, row in rows:
        diagnosis = row.get("diagnosis") or {}
        note = diagnosis.get("summary") or row.get("message") or ""
        case = _e(row.get("case"))
        if row.get("verdict") in ("fail", "error"):
            case = f'<a href="#{_anchor(row, index)}">{case}</a>'
        out.append(
            f"<tr><td>{_verdict(row.get('verdict'))}</td><td class=mono>{case}</td>"
            f"<td class=mono>{_e(SHORT.get(row.get('output'), row.get('output')))}</td><td "
            f"class=mono>{_e(_judged(row))}</td>"
            f"<td class=num>{_num(row.get('error'), '.2e')}</td><td class=num>{_num(row.get('budget'), '.2e')}</td>"
            f"<td class=num>{_num(row.get('ratio'))}</td><td>{_e(note[:300])}{'…' if len(note) > 300 else ''}</td></tr>"
        )
    out.append("</table>")
    return out


def _trace_table(trace) -> str:
    """The stage-by-stage comparison (harness/stages.py): one table row per stage the port traced, in the
    reference's order (stage, section, verdict, error, budget, ratio, message); the stage names the port
    gave that the reference lacks, listed after it."""
    if not isinstance(trace, dict):
        return f"<pre>{_e(trace)}</pre>"
    summary = f"<p>{_e(trace['summary'])}</p>" if trace.get("summary") else ""
    rows = [row for row in trace.get("rows") or () if isinstance(row, dict)]
    if not rows:
        return summary
    columns = ("stage", "section", "verdict", "error", "budget", "ratio", "message")
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td class=mono>{_num(r.get(c))}</td>" for c in columns) + "</tr>" for r in rows)
    ignored = [str(name) for name in trace.get("ignored") or ()]
    count = trace.get("ignored_count", len(ignored))
    more = f" and {count - len(ignored):,} more" if isinstance(count, int) and count > len(ignored) else ""
    note = f'<p class="note">stages without a reference stage: {_e(", ".join(ignored))}{more}</p>' if ignored else ""
    return f"{summary}<table><tr>{head}</tr>{body}</table>{note}"


def _heatmap(key, row, heatmaps, can_draw, above) -> list:
    """A failing output's heat map, a pointer to it under Worst failures, or why there is none."""
    png = (heatmaps or {}).get(key)
    if key in above:
        return ['<p class="note">Its heat map is shown above, under <a href="#worst">Worst failures</a>.</p>']
    if isinstance(png, (bytes, bytearray)) and png.startswith(PNG):
        data = base64.b64encode(bytes(png)).decode("ascii")
        return [f'<p><img alt="error / budget heat map of {_e(key)}" src="data:image/png;base64,{data}"></p>']
    if row.get("verdict") == "fail":
        why = (
            "no heat map was drawn for this output"
            if can_draw
            else f"heat maps need matplotlib: {install_command('figures')}"
        )
        return [f'<p class="note">{_e(why)}</p>']
    return []


def _detail(index, row, heatmaps, known, base, can_draw, above=()) -> list:
    key = f"{row.get('case')}::{row.get('output')}"
    out = [f'<div class="detail" id="{_anchor(row, index)}"><h3>{_verdict(row.get("verdict"))} {_e(key)}</h3>']
    facts = [
        ("dtype judged", _judged(row)),
        ("max|err|", _num(row.get("error"), ".3e")),
        ("budget", _num(row.get("budget"), ".3e")),
        ("ratio", _num(row.get("ratio"), ".4g")),
    ]
    if row.get("worst_index") is not None:
        facts.append(
            (
                "worst at",
                f"{tuple(row['worst_index'])}: got {_num(row.get('got_at_worst'), '.6g')}, "
                f"want {_num(row.get('expected_at_worst'), '.6g')}",
            )
        )
    facts.append(("spec", None))
    out.append('<table class="meta">')
    for name, value in facts:
        cell = _section_links(row.get("sections"), known, base) if name == "spec" else _e(value)
        out.append(f"<tr><td>{_e(name)}</td><td>{cell}</td></tr>")
    out.append("</table>")
    if row.get("message"):
        out.append(f"<pre>{_e(row['message'])}</pre>")
    out += _heatmap(key, row, heatmaps, can_draw, above)
    diagnosis = row.get("diagnosis")
    if isinstance(diagnosis, dict) and diagnosis.get("summary"):
        section = diagnosis.get("section")
        link = f" ({_section_links([section], known, base)})" if section else ""
        out.append(f'<p class="diagnosis"><b>diagnosis</b>: {_e(diagnosis["summary"])}{link}</p>')
        candidates = diagnosis.get("candidates") or []
        if candidates:
            out.append("<table><tr><th>variant tried</th><th>max|err| against it</th><th>ratio of budget</th></tr>")
            out += [
                f"<tr><td class=mono>{_e(c.get('variant'))}</td><td class=num>{_num(c.get('error'), '.2e')}</td>"
                f"<td class=num>{_num(c.get('ratio'))}</td></tr>"
                for c in candidates[:8]
                if isinstance(c, dict)
            ]
            out.append("</table>")
        for line in diagnosis.get("localisation") or ():
            out.append(f"<p>{_e(line)}</p>")
    if row.get("trace"):
        out.append("<h4>Stage by stage</h4>" + _trace_table(row["trace"]))
    if row.get("captured"):
        out.append(f"<h4>What the port printed</h4><pre>{_e(row['captured'])}</pre>")
    out.append("</div>")
    return out


def _failures(rows, heatmaps, known, base, can_draw, above) -> list:
    """One detail per failing output (per distinct error message; the others listed under it)."""
    failing = [(i, r) for i, r in rows if r.get("verdict") in ("fail", "error")]
    out = []
    if failing:
        out.append(f'<h2 id="failures">Failing outputs ({len(failing)})</h2>')
        same_error = {}  # one detail per distinct error message; the others are listed under it
        for index, row in failing:
            if row.get("verdict") == "error":
                same_error.setdefault(" ".join(str(row.get("message") or "").split()), []).append((index, row))
        for index, row in failing:
            group = (
                same_error.get(" ".join(str(row.get("message") or "").split()))
                if row.get("verdict") == "error"
                else None
            )
            if group and group[0][0] != index:
                continue
            out += _detail(index, row, heatmaps, known, base, can_draw, above)
            if group and len(group) > 1:
                others = ", ".join(
                    f'<a id="{_anchor(r, i)}"></a><code>{_e(r.get("case"))}::'
                    f"{_e(SHORT.get(r.get('output'), r.get('output')))}</code>"
                    for i, r in group[1:]
                )
                out.append(f'<p class="note">The same error in {len(group) - 1} more outputs: {others}</p>')
    return out


def render_html(document: dict, heatmaps: dict | None = None) -> str:
    """The report ``document`` (schema samspec-report/2, report.build_document) as one HTML page;
    ``heatmaps`` maps "case::output" to PNG bytes."""
    known, base = spec_sections(), spec_url()
    can_draw = importlib.util.find_spec("matplotlib") is not None
    results = [r for r in document.get("results") or [] if isinstance(r, dict)]
    rank = {v: i for i, v in enumerate(ORDER)}
    rows = sorted(enumerate(results), key=lambda item: (rank.get(item[1].get("verdict"), 0), item[0]))
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>samspec check {_e(document.get('port'))}</title><style>{CSS}</style></head><body>",
    ]
    out += _summary(document)
    worst, above = _worst(rows, heatmaps)
    out += worst
    out += _header(document)
    out += _table(rows)
    out += _failures(rows, heatmaps, known, base, can_draw, above)
    xfails = document.get("xfails") or []
    if xfails:
        out.append(
            '<h2 id="xfails">Expected failures file</h2><table><tr><th>line</th><th>pattern</th><th>reason</th>'
            "<th>matched</th></tr>"
        )
        out += [
            f"<tr><td>{_e(x.get('line'))}</td><td class=mono>{_e(x.get('pattern'))}</td><td>{_e(x.get('reason'))}</td>"
            f"<td>{'yes' if x.get('used') else 'no: matches nothing'}</td></tr>"
            for x in xfails
            if isinstance(x, dict)
        ]
        out.append("</table>")
    environment = document.get("environment") or {}
    out.append('<h2 id="environment">Environment</h2><table class="meta">')
    out += [f"<tr><td>{_e(k)}</td><td class=mono>{_e(v)}</td></tr>" for k, v in environment.items()]
    out.append(
        f'</table><p class="note">Spec sections link to {_e(base)} (set SAMSPEC_SPEC_URL to change it). '
        f"Report schema {_e(document.get('schema'))}.</p></body></html>"
    )
    return "\n".join(out)


def write_html(document, path, heatmaps=None) -> None:
    write_atomic(path, render_html(document, heatmaps or {}))
