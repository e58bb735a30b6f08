"""Reports of a check: a terminal table, a JSON document and JUnit XML."""

from __future__ import annotations

import json
import platform
import sys
import xml.etree.ElementTree as ET
from importlib import metadata

from .check import SHORT, result_dicts, summarise


def _fmt(value, spec=".2e"):
    return "-" if value is None else format(value, spec)


def table(results, out=None) -> None:
    out = out if out is not None else sys.stdout
    header = f"{'verdict':<7} {'case':<28} {'output':<8} {'max|err|':>9} {'budget':>9} {'ratio':>7}  worst at / note"
    print(header, file=out)
    print("-" * len(header), file=out)
    for r in results:
        where = ""
        if r.worst_index is not None:
            where = f"{tuple(r.worst_index)} got {r.got_at_worst:.6g} want {r.expected_at_worst:.6g}"
        note = "; ".join(x for x in (where, r.message) if x)
        print(
            f"{r.verdict:<7} {r.case:<28} {SHORT.get(r.output, r.output):<8} {_fmt(r.error):>9} "
            f"{_fmt(r.budget):>9} {_fmt(r.ratio, '.3f'):>7}  {note}",
            file=out,
        )
        if r.diagnosis:
            print(f"{'':<8}diagnosis: {r.diagnosis.get('summary', '')}", file=out)
    counts = summarise(results)
    spelled = ", ".join(f"{counts[k]} {k}" for k in ("pass", "fail", "error", "n/a", "xfail", "xpass") if counts.get(k))
    print(f"\n{spelled}", file=out)


def _versions() -> dict:
    versions = {"python": platform.python_version(), "platform": platform.platform()}
    for package in ("samspec", "numpy", "scipy", "torch", "segment-anything", "transformers", "keras", "keras-hub", "onnxruntime"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return versions


def json_report(results, path, *, port, profile, fixtures, adapter_name) -> None:
    document = {
        "port": port,
        "adapter": adapter_name,
        "profile": profile,
        "fixtures": str(fixtures),
        "environment": _versions(),
        "dtypes": sorted({r.dtype for r in results if r.dtype}),
        "summary": summarise(results),
        "results": result_dicts(results),
    }
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=1)


def junit_report(results, path, *, port, profile) -> None:
    counts = summarise(results)
    suite = ET.Element(
        "testsuite",
        name=f"samspec.{port}.{profile}",
        tests=str(len(results)),
        failures=str(counts.get("fail", 0)),
        errors=str(counts.get("error", 0)),
        skipped=str(counts.get("n/a", 0) + counts.get("xfail", 0)),
    )
    for r in results:
        case = ET.SubElement(suite, "testcase", classname=f"samspec.{r.case}", name=r.output)
        detail = f"max|err| {_fmt(r.error)} budget {_fmt(r.budget)} ratio {_fmt(r.ratio, '.3f')}; sections {r.sections}; {r.message}"
        if r.diagnosis:
            detail += f"; diagnosis: {r.diagnosis.get('summary', '')}"
        if r.verdict == "fail":
            ET.SubElement(case, "failure", message=detail[:500]).text = detail
        elif r.verdict == "error":
            ET.SubElement(case, "error", message=r.message[:500]).text = r.message
        elif r.verdict in ("n/a", "xfail"):
            ET.SubElement(case, "skipped", message=r.message[:500])
        elif r.verdict == "xpass":
            ET.SubElement(case, "system-out").text = r.message
    root = ET.Element("testsuites")
    root.append(suite)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
