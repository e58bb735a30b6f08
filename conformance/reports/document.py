"""Reports of a check: the terminal table, one report document, and its JSON, JUnit XML and HTML forms.

One document (``build_document``) carries everything a report says: the verdicts, the one diagnosis
per output (the same text in every form), the fixtures' identity, timings and the environment. The
JSON report is that document (schema ``samspec-report/2``, docs/ci.md); JUnit and HTML are drawn from
it. Every file is written atomically (a temporary file beside it, then ``os.replace``), so a report
is either the previous one or the complete new one, never a truncated mix.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import re
import stat
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import asdict
from importlib import metadata
from pathlib import Path

from samspec.reference import SHORT_NAMES as SHORT

from ..harness.check import summarise
from ..harness.stages import departure_note
from ..port_text import cap_text

SCHEMA = "samspec-report/2"
MESSAGE_LIMIT = 4096  # characters of any one message in a report (head and tail kept, the cut counted)
VERDICTS = ("pass", "fail", "error", "n/a", "xfail", "xpass")


def _fmt(value, spec=".2e"):
    return "-" if value is None else format(value, spec)


def _ratio(value) -> str:
    """A ratio in at most 7 characters, so that the columns stay aligned."""
    if value is None:
        return "-"
    return format(value, ".3f") if value < 100 else format(value, ".1e")


# what a port's text must not send to a terminal or an XML file: C0/C1 controls (escape sequences
# can redraw a row as "pass"), lone surrogates, and invisible or bidirectional formatting characters
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


def printable(text) -> str:
    """``text`` with every control, surrogate and invisible formatting character shown as an escape."""
    return _UNPRINTABLE.sub(
        lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256 else f"\\u{ord(m.group()):04x}", str(text)
    )


def _one_line(text: str, limit: int = 240) -> str:
    text = printable(" ".join(str(text).split()))
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- the terminal ----------------------------------------------------------------------------------


class Table:
    """The verdict table, printed row by row as outputs are decided (``row``), then ``finish``."""

    def __init__(self, case_ids, out=None, quiet=False):
        self.out = out if out is not None else sys.stdout
        self.quiet = quiet
        self.width = max([len(c) for c in case_ids] + [28])
        self.header = (
            f"{'verdict':<7} {'case':<{self.width}} {'output':<8} {'dtype':<8} {'max|err|':>9} "
            f"{'budget':>9} {'ratio':>7}  worst at / note"
        )
        self._started = False

    def _start(self):
        if not self._started:
            print(self.header, file=self.out)
            print("-" * len(self.header), file=self.out)
            self._started = True

    def row(self, r) -> None:
        if self.quiet and r.verdict not in ("fail", "error", "xpass"):
            return
        self._start()
        where = ""
        if r.worst_index is not None and r.got_at_worst is not None:
            where = f"{tuple(r.worst_index)} got {r.got_at_worst:.6g} want {r.expected_at_worst:.6g}"
        note = "; ".join(x for x in (where, _one_line(r.message), departure_note(r)) if x)
        print(
            f"{r.verdict:<7} {printable(r.case):<{self.width}} {SHORT.get(r.output, r.output):<8} "
            f"{(r.dtype or '-')[:8]:<8} "
            f"{_fmt(r.error):>9} {_fmt(r.budget):>9} {_ratio(r.ratio):>7}  {note}",
            file=self.out,
            flush=True,
        )


def print_details(results, out=None, limit: int = 20) -> None:
    """After the table: each failing output's diagnosis, and what the port printed, like pytest's
    FAILURES section. At most ``limit`` outputs; identical error messages are shown once."""
    out = out if out is not None else sys.stdout
    failing = [r for r in results if r.verdict in ("fail", "error")]
    shown_captured = set()
    lines = []
    for r in failing[:limit]:
        block = []
        if r.diagnosis and r.diagnosis.get("summary"):
            block.append(f"  diagnosis: {r.diagnosis['summary']}")
            for line in r.diagnosis.get("localisation") or ():
                block.append(f"    {line}")
        if r.trace and r.trace.get("summary"):
            block.append(f"  stages: {r.trace['summary']}")
        if r.captured and r.case not in shown_captured:
            shown_captured.add(r.case)
            block.append("  captured output of the port:")
            block.extend(f"    | {line}" for line in r.captured.rstrip("\n").splitlines()[:40])
        if block:
            lines.append(f"{r.case}::{SHORT.get(r.output, r.output)} ({r.verdict})")
            lines.extend(block)
    if lines:
        print("\n" + " details ".center(40, "="), file=out)
        print("\n".join(printable(line) for line in lines), file=out)
    if lines and len(failing) > limit:
        print(f"  ... and {len(failing) - limit} more failing outputs (see the JSON or HTML report)", file=out)


def collapsed_errors(results) -> list:
    """Identical error messages, counted: [(count, message, first case)], most frequent first."""
    groups = {}
    for r in results:
        if r.verdict == "error":
            key = re.sub(r"\s+", " ", r.message)
            count, first = groups.get(key, (0, r.test_id))
            groups[key] = (count + 1, first)
    return sorted(((n, message, first) for message, (n, first) in groups.items()), key=lambda g: -g[0])


def dtypes_judged(results) -> dict:
    """{short output name: [dtypes its outputs were judged in]} (the declared compute dtype, else the output's)."""
    judged = {}
    for r in results:
        dtype = getattr(r, "judged_dtype", None)
        if dtype and r.output in SHORT:
            judged.setdefault(SHORT[r.output], set()).add(dtype)
    return {name: sorted(dtypes) for name, dtypes in judged.items()}


def compute_dtype_record(results, declared=None, declared_by="not declared") -> dict:
    """The report's ``compute_dtype``: what was declared, by whom, what each output was judged in, and
    the warning when float16 outputs were judged as float16 because nothing was declared."""
    judged = dtypes_judged(results)
    halves = [name for name, dtypes in judged.items() if "float16" in dtypes]
    warning = None
    if declared is None and halves:
        warning = (
            f"no compute dtype was declared and the {', '.join(halves)} outputs are float16: they were judged "
            "as float16, whose budget is far wider than float32's (docs/tolerances.md, 'The compute dtype'). "
            "If the port computes in float32, declare it: --dtype float32, or compute_dtype = 'float32' on the adapter"
        )
    by = declared_by if declared else None
    return {"declared": declared, "declared_by": by, "judged": judged, "warning": warning}


def compute_dtype_line(record) -> str:
    """One line: the compute dtype declared (and by whom) and the dtypes each output was judged in."""
    judged = ", ".join(f"{name} {'/'.join(dtypes)}" for name, dtypes in (record.get("judged") or {}).items())
    declared = record.get("declared")
    head = "no compute dtype declared"
    if declared:
        head = f"compute dtype {declared} (declared by {record.get('declared_by')})"
    return f"{head}; dtypes judged: {judged or '-'} (each against the reference run in that dtype)"


def stopped_early_record(not_run: int, maxfail) -> dict | None:
    """The report's ``stopped_early``: the -x / --maxfail limit and how many cases (and outputs) did not run."""
    if not not_run:
        return None
    return {"maxfail": maxfail, "cases_not_run": not_run, "outputs_not_run": 3 * not_run}


def stopped_early_text(record) -> str:
    return (
        f"stopped early after {record['maxfail']} failing output{'s' if record['maxfail'] != 1 else ''} "
        f"(-x / --maxfail): {record['cases_not_run']} cases ({record['outputs_not_run']} outputs) did not run"
    )


def print_summary(
    results, out=None, *, properties=(), interrupted=False, duration=None, compute_dtype=None, stopped_early=None
) -> None:
    """Collapsed errors, the dtypes judged, then one line of counts (fixture outputs and properties)."""
    out = out if out is not None else sys.stdout
    counts = summarise(list(results) + list(properties))
    for count, message, first in collapsed_errors(results):
        if count > 1:
            print(f"{count} errors are one exception (first at {first}): {_one_line(message, 400)}", file=out)
    record = compute_dtype if compute_dtype is not None else compute_dtype_record(results)
    if record["judged"]:
        print(compute_dtype_line(record), file=out)
    if record.get("warning"):
        print(f"WARNING: {record['warning']}", file=out)
    spelled = ", ".join(f"{counts[k]} {k}" for k in VERDICTS if counts.get(k)) or "nothing was checked"
    cases = len({r.case for r in results})
    checked = f"{cases} cases × 3 outputs" if len(results) == 3 * cases else f"{len(results)} outputs of {cases} cases"
    if properties:
        checked += f" + {len(properties)} properties"
    timing = f" in {duration:.2f} s" if duration is not None else ""
    tail = " (interrupted: the report holds what ran)" if interrupted else ""
    if stopped_early:
        tail += f" ({stopped_early_text(stopped_early)})"
    print(f"\n{spelled} ({checked}){timing}{tail}", file=out)


def table(results, out=None) -> None:
    """The whole table at once (for callers that have all the results)."""
    printer = Table([r.case for r in results], out=out)
    for r in results:
        printer.row(r)
    print_summary(results, out=out)


# -- the document ---------------------------------------------------------------------------------


def environment() -> dict:
    versions = {"python": platform.python_version(), "platform": platform.platform()}
    for package in (
        "samspec",
        "numpy",
        "scipy",
        "torch",
        "segment-anything",
        "transformers",
        "keras",
        "keras-hub",
        "onnxruntime",
        "sam2",
        "ultralytics",
    ):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return versions


_SURROGATE = re.compile("[\ud800-\udfff]")


def _strict(value, path, flags):
    """``value`` with every non-finite float replaced by None (its path recorded in ``flags``) and
    every string capped: what strict JSON parsers and CI dashboards accept."""
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        flags.append({"path": path, "value": repr(value)})
        return None
    if isinstance(value, str):  # lone surrogates (from a port's message) are not Unicode text
        return _SURROGATE.sub("\ufffd", cap_text(value, MESSAGE_LIMIT))
    if isinstance(value, dict):
        return {str(k): _strict(v, f"{path}.{k}", flags) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v, f"{path}[{i}]", flags) for i, v in enumerate(value)]
    if value is None or isinstance(value, (bool, int)):
        return value
    if hasattr(value, "item"):  # a NumPy scalar
        return _strict(value.item(), path, flags)
    return cap_text(str(value), MESSAGE_LIMIT)


def build_document(
    results,
    *,
    port,
    adapter_name,
    profile,
    k,
    fixtures,
    xfails=(),
    started=None,
    duration=None,
    overall=None,
    interrupted=False,
    properties=(),
    error=None,
    compute_dtype=None,
    in_progress=False,
    stopped_early=None,
    runtime=None,
) -> dict:
    """The report document: what the JSON holds and what JUnit and HTML are drawn from. ``error``:
    why the check could not run at all (exit 2, e.g. the port could not be loaded); else None."""
    rows = []
    for r in list(results) + list(properties):
        row = asdict(r)
        row["id"] = r.test_id
        rows.append(row)
    document = {
        "schema": SCHEMA,
        "port": port,
        "adapter": adapter_name,
        "runtime": runtime,  # what the port ran on, as its adapter says (e.g. a Keras backend, its version, the mode)
        "profile": profile,
        "k": k,
        "fixtures": dict(fixtures),
        "started": started,
        "duration_s": duration,
        "interrupted": interrupted,
        "stopped_early": stopped_early,  # -x / --maxfail: {"maxfail", "cases_not_run", "outputs_not_run"}
        "in_progress": in_progress,  # a placeholder written at the start: the run never wrote its results
        "error": error,
        "summary": summarise(list(results) + list(properties)),
        "diagnosis": overall,
        "compute_dtype": compute_dtype if compute_dtype is not None else compute_dtype_record(results),
        "xfails": [{"pattern": e.pattern, "reason": e.reason, "line": e.line, "used": e.used} for e in xfails],
        "environment": environment(),
        "results": rows,
    }
    flags = []
    document = _strict(document, "$", flags)
    document["non_finite"] = flags  # where a NaN or inf became null
    return document


# -- files ----------------------------------------------------------------------------------------


def check_writable(path, flag: str) -> None:
    """Raise ValueError (exit 2 before anything runs) unless ``path`` can be written as a report:
    not a folder, in an existing folder where a file can really be created (a probe file is made and
    removed: permission bits do not tell root, read-only mounts or /proc apart)."""
    target = Path(path)
    if target.is_dir():
        raise ValueError(f"{flag} {path}: is a folder; expected a file path")
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise ValueError(f"{flag} {path}: the folder {parent} does not exist")
    if target.exists() and not os.access(target, os.W_OK):
        raise ValueError(f"{flag} {path}: not writable")
    try:
        handle, probe = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".probe", dir=parent)
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        raise ValueError(f"{flag} {path}: cannot write in {parent} ({exc.strerror or exc})") from None


def _file_mode(target: Path) -> int:
    """The mode a report gets: the existing file's, else what the umask gives a new file."""
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_atomic(path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and ``os.replace``:
    the file is the previous one or the complete new one, never a truncated mix."""
    target = Path(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or ".")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            os.chmod(temporary, _file_mode(target))
            out.write(text)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def write_json(document, path) -> None:
    write_atomic(path, json.dumps(document, indent=1, allow_nan=False) + "\n")


_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def xml_text(text) -> str:
    """``text`` without the characters XML 1.0 cannot hold (shown as \\xNN), capped."""
    return _XML_INVALID.sub(lambda m: f"\\x{ord(m.group()):02x}", cap_text(str(text), MESSAGE_LIMIT))


def failure_text(row) -> str:
    """The one text a failing output shows in every report: numbers, message, diagnosis, trace."""
    parts = [f"max|err| {_fmt(row.get('error'))} budget {_fmt(row.get('budget'))} ratio {_ratio(row.get('ratio'))}"]
    if row.get("dtype"):
        judged = row.get("judged_dtype")
        parts.append(f"dtype {row['dtype']}" + (f" judged as {judged}" if judged and judged != row["dtype"] else ""))
    if row.get("sections"):
        parts.append("spec " + " ".join(f"§{s}" for s in row["sections"]))
    text = ", ".join(parts)
    if row.get("message"):
        text += f"\n{row['message']}"
    diagnosis = row.get("diagnosis") or {}
    if diagnosis.get("summary"):
        text += f"\ndiagnosis: {diagnosis['summary']}"
    for line in diagnosis.get("localisation") or ():
        text += f"\n  {line}"
    trace = row.get("trace") if isinstance(row.get("trace"), dict) else {}
    if trace.get("summary"):  # the traced case's first departing stage (a default check traces a few)
        text += f"\nstages: {trace['summary']}"
    return text


def junit_xml(document) -> str:
    rows = document["results"]
    counts = document["summary"]
    suite = ET.Element(
        "testsuite",
        name=xml_text(f"samspec.{document['port']}.{document['profile']}"),
        tests=str(len(rows)),
        failures=str(counts.get("fail", 0)),
        errors=str(counts.get("error", 0)),
        skipped=str(counts.get("n/a", 0) + counts.get("xfail", 0)),
        time=f"{document.get('duration_s') or 0.0:.3f}",
        timestamp=xml_text(document.get("started") or ""),
    )
    record = document.get("compute_dtype") or {}
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="samspec.compute_dtype", value=xml_text(compute_dtype_line(record)))
    if document.get("runtime"):
        ET.SubElement(properties, "property", name="samspec.runtime", value=xml_text(document["runtime"]))
    if record.get("warning"):
        ET.SubElement(properties, "property", name="samspec.compute_dtype.warning", value=xml_text(record["warning"]))
    if isinstance(document.get("stopped_early"), dict):
        text = stopped_early_text(document["stopped_early"])
        ET.SubElement(properties, "property", name="samspec.stopped_early", value=xml_text(text))
    for row in rows:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=xml_text(f"samspec.{row['case']}"),
            name=xml_text(SHORT.get(row["output"], row["output"])),
            time=f"{row.get('duration_s') or 0.0:.3f}",
        )
        text = xml_text(failure_text(row) if row["verdict"] == "fail" else row.get("message") or "")
        first = text.split("\n", 1)[0][:500]
        if row["verdict"] == "fail":
            ET.SubElement(case, "failure", message=first).text = text
        elif row["verdict"] == "error":
            ET.SubElement(case, "error", message=first).text = text
        elif row["verdict"] in ("n/a", "xfail"):
            ET.SubElement(case, "skipped", message=first)
        elif row["verdict"] == "xpass":
            ET.SubElement(case, "system-out").text = text
        if row.get("captured"):
            ET.SubElement(case, "system-err").text = xml_text(row["captured"])
    if document.get("error"):  # the check could not run: one errored test, so that no dashboard shows green
        failed = ET.SubElement(suite, "testcase", classname="samspec", name="load", time="0.000")
        ET.SubElement(failed, "error", message=xml_text(document["error"]).split("\n", 1)[0][:500]).text = xml_text(
            document["error"]
        )
        suite.set("tests", str(len(rows) + 1))
        suite.set("errors", str(counts.get("error", 0) + 1))
    root = ET.Element("testsuites")
    root.append(suite)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(document, path) -> None:
    write_atomic(path, junit_xml(document))
