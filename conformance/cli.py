"""The `samspec` command line. Exit codes: 0 success, 1 a check failed, 2 usage, adapter or fixture error."""

from __future__ import annotations

import argparse
import atexit
import contextlib
import hashlib
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from .harness.interrupts import catching_signals
from .harness.options import add_to_argparse as add_check_options
from .harness.options import closest
from .harness.session import Assembly, CheckSession, UsageError, nothing_checked
from .teaching import explain


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (and exit 2), like every samspec error."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}{self._hint(message)} (see {self.prog} --help)\n")

    def _flags(self) -> set:
        """Every option flag of this parser and of its sub-commands."""
        flags = set()
        for action in self._actions:
            flags.update(flag for flag in action.option_strings if flag.startswith("--"))
            for sub in (getattr(action, "choices", None) or {}).values() if action.nargs == "A..." else ():
                flags |= _Parser._flags(sub)
        return flags

    def _hint(self, message: str) -> str:
        """For an unrecognised option: the closest known one, and for --json the flag that writes JSON."""
        if not message.startswith("unrecognized arguments:"):
            return ""
        words = message.split(":", 1)[1].split()
        hints = []
        for word in (w.split("=", 1)[0] for w in words if w.startswith("--")):
            if word == "--json":
                hints.append("for a JSON report use --report FILE.json")
            elif closest(word, self._flags()):
                hints.append(f"did you mean {closest(word, self._flags())!r} for {word!r}?")
        return f" ({'; '.join(hints)})" if hints else ""


def _fixture_identity(folder) -> dict:
    from .cases.store import default_dir, samspec_version

    root = Path(folder) if folder else default_dir()
    try:
        digest = hashlib.sha256((root / "manifest.json").read_bytes()).hexdigest()
    except OSError:
        digest = None
    return {
        "path": str(root),
        "built_in": folder is None,
        "manifest_sha256": digest,
        "samspec_version": samspec_version(),
    }


def _check_arguments(args) -> None:
    """What only the command line has (the port's form, the report files) refused before anything runs."""
    from .reports.document import check_writable

    if args.outputs and args.exec:
        raise UsageError("--outputs and --exec are alternatives: --exec writes the outputs it judges")
    if bool(args.port) == bool(args.outputs or args.exec):
        raise UsageError("give a PORT, or --outputs DIR, or --exec CMD (exactly one)")
    if args.exec:
        from .adapters.program import program_argv

        try:
            program_argv(args.exec, "{fixtures}", "{out}")
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    for flag, path in (("--report", args.report), ("--junit", args.junit), ("--html", args.html)):
        if path:
            check_writable(path, flag)


def _run_exec(args, cases) -> None:
    """--exec: run the program once over the fixtures (its own process group, one overall timeout:
    --exec-timeout, else --timeout x the number of cases); what it writes is then judged as --outputs.
    Its temporary folder is removed when samspec exits."""
    from .adapters.program import run_exec
    from .reports.document import printable

    folder = tempfile.mkdtemp(prefix="samspec-exec-")
    atexit.register(shutil.rmtree, folder, True)
    args.outputs = folder
    fixtures_folder = str(_fixture_identity(args.fixtures)["path"])
    timeout = args.exec_timeout or args.timeout * max(len(cases), 1)
    code, captured = run_exec(args.exec, fixtures_folder, folder, timeout)
    if captured.strip():
        lines = captured.rstrip("\n").splitlines()
        print(
            "\n".join(["the --exec program printed:"] + [f"    | {printable(line)}" for line in lines]), file=sys.stderr
        )
    if code != 0:
        print(f"samspec check: --exec command exited with code {code}; judging what it wrote", file=sys.stderr)


def _open_port(args, session, cases):
    """The port to check (--outputs / --exec: the files a program wrote, read in the worker as a port)."""
    session.check_output_files(cases)
    return session.open_port()


def _document(args, results=(), **fields) -> dict:
    """The report document of this run (``fields``: what the run adds to the command line's own)."""
    from .reports.document import build_document

    fields.setdefault("port", args.port)
    fields.setdefault("adapter_name", None)
    fields.setdefault("profile", args.profile)
    fields.setdefault("started", datetime.now(timezone.utc).isoformat(timespec="seconds"))
    return build_document(results, k=args.k, fixtures=_fixture_identity(args.fixtures), **fields)


def _header(args, port, profile, cases, dtype, declared_by) -> str:
    name = _port_label(args)
    mode = "in this process" if args.in_process else f"worker process, timeout {args.timeout:g} s per case"
    computes = (
        f"compute dtype {dtype} (declared by {declared_by})"
        if dtype
        else "no compute dtype declared: each output judged in its own dtype"
    )
    runtime = f", runtime {port.runtime}" if getattr(port, "runtime", None) else ""
    return (
        f"samspec check {name} (adapter {getattr(port, 'name', None) or name!r}, profile {profile.name!r}{runtime}, "
        f"{len(cases)} cases × 3 outputs, k = {args.k:g}, {mode}, {computes})"
    )


def _port_label(args) -> str:
    return args.port if not (args.outputs or args.exec) else f"outputs in {args.outputs}"


def cmd_check(args) -> int:
    """`samspec check`: refuse what can be refused, replace earlier reports with an "in progress" document,
    assemble the check (harness.session), run, report. SIGINT/SIGTERM/SIGHUP: exit 130/143/129."""
    for stream in (sys.stdout, sys.stderr):  # a terminal that cannot show a character gets an escape, not an abort
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="backslashreplace")
    session = CheckSession(args, "cli")
    _check_arguments(args)
    session.refuse()
    written = {}  # "document": the last report document written (what an interruption marks interrupted)
    with catching_signals() as received:
        try:
            _write_reports(args, _document(args, error=IN_PROGRESS, in_progress=True), written=written)
            code = _check(args, session, written)
        except KeyboardInterrupt:
            return _interrupted(args, received, written)
        except Exception as exc:  # refused after the start (exit 2): the reports say why, not "in progress"
            if written["document"].get("in_progress"):
                _write_reports(args, _document(args, error=str(exc)), written=written)
            raise
    if code == 130:
        print(f"samspec check: interrupted by {received.name}", file=sys.stderr)
        return received.exit_code()
    return code


IN_PROGRESS = (
    "this run of samspec check had not finished when this report was read: it is in progress, or it was "
    "killed before it could write its results"
)


def _interrupted(args, received, written) -> int:
    """SIGINT, SIGTERM or SIGHUP outside the cases: the reports say `interrupted`, the exit is 128 + signal."""
    document = written.get("document")
    if document is None or document.get("in_progress"):
        document = _document(args, error=f"interrupted by {received.name} before any case ran")
    document["interrupted"] = True
    with contextlib.suppress(KeyboardInterrupt):
        _write_reports(args, document)
    print(f"samspec check: interrupted by {received.name}", file=sys.stderr)
    return received.exit_code()


def _check(args, session, written) -> int:
    """Load the cases, open the port (the worker's process group is killed on the way out), run, report."""
    from .harness.isolation import PortLoadError

    cases, xfails = session.load_cases()
    if args.exec:
        _run_exec(args, cases)

    def cannot_run(message):  # exit 2; the reports asked for still say why they hold no result
        _write_reports(args, _document(args, error=message), written=written)
        return UsageError(message)

    try:
        port = _open_port(args, session, cases)
    except PortLoadError as exc:
        raise cannot_run(str(exc)) from exc
    try:
        try:
            profile = session.resolve_profile(port)
        except UsageError as exc:
            raise cannot_run(str(exc)) from exc
        heatmaps = {}
        diagnose, checker = session.make_checker(
            port, profile, xfails, on_failure=_heatmap_collector(heatmaps) if args.html else None
        )
        print(_header(args, port, profile, cases, checker.dtype, session.dtype_source(port)), flush=True)
        run = Assembly(cases, xfails, port, profile, diagnose, checker)
        return _run_check(args, session, run, heatmaps, cannot_run, written)
    finally:
        close = getattr(port, "close", None)
        if callable(close):
            close()


def _warn_float16_at_once(row):
    """``row``, preceded once by a warning line when the first output judged as float16 (nothing declared) arrives,
    so that the warning stands at the top of the table, not only under it."""
    warned = []

    def print_row(result):
        if not warned and getattr(result, "judged_dtype", None) == "float16":
            warned.append(True)
            print(
                "WARNING: no compute dtype declared and this port's outputs are float16: they are judged as float16, "
                "with a far wider budget than float32's (declare --dtype float32 if the port computes in float32)",
                flush=True,
            )
        row(result)

    return print_row


def _run_cases(args, checker, cases, cannot_run):
    """The cases through the checker, the table printed row by row; (results, interrupted, seconds)."""
    from .harness.isolation import MissingDependency
    from .reports.document import Table

    clock = time.perf_counter()
    printer = Table([c.id for c in cases], quiet=args.quiet)
    on_result = printer.row if checker.dtype else _warn_float16_at_once(printer.row)
    try:
        results = checker.run(cases, on_result=on_result, maxfail=1 if args.exitfirst else args.maxfail)
    except MissingDependency as exc:
        raise cannot_run(
            f"port {_port_label(args)!r} cannot be built here: {exc} (install the port's library; for the built-in "
            f"ports, the [testenv:ports] section of tox.ini lists each install)"
        ) from exc
    return results, checker.interrupted, clock


def _run_check(args, session, run, heatmaps, cannot_run, written) -> int:
    """Run, diagnose the whole run, run the properties, print the summary and write the reports."""
    from .harness.check import exit_code, final_diagnosis, summarise
    from .reports.document import (
        compute_dtype_record,
        print_details,
        print_summary,
        printable,
        stopped_early_record,
    )

    cases, xfails, port, profile, diagnose = run.cases, run.xfails, run.port, run.profile, run.diagnose
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    results, interrupted, clock = _run_cases(args, run.checker, cases, cannot_run)
    overall = None
    found = []
    try:  # Ctrl-C after the cases (the diagnosis, the properties) still leaves the reports of what ran
        if diagnose is not None and not interrupted:
            overall = final_diagnosis(diagnose, results, cases)
        if args.properties and not interrupted:
            found = _run_properties(args, port, profile)
    except KeyboardInterrupt:
        interrupted = True
    duration = time.perf_counter() - clock
    print_details(results)
    if overall and overall.get("summary"):
        print(printable(overall["summary"]))
    computed = compute_dtype_record(results, run.checker.dtype, session.dtype_source(port))
    stopped = stopped_early_record(run.checker.not_run, 1 if args.exitfirst else args.maxfail)
    print_summary(
        results,
        properties=found,
        interrupted=interrupted,
        duration=duration,
        compute_dtype=computed,
        stopped_early=stopped,
    )
    _print_warnings(args, None if interrupted else nothing_checked(summarise(results + found)), xfails)
    if args.report or args.junit or args.html:
        document = _document(
            args,
            results,
            port=_port_label(args),
            adapter_name=getattr(port, "name", None) or _port_label(args),
            runtime=getattr(port, "runtime", None),
            profile=profile.name,
            xfails=xfails,
            started=started,
            duration=duration,
            overall=overall,
            interrupted=interrupted,
            properties=found,
            compute_dtype=computed,
            stopped_early=stopped,
        )
        _write_reports(args, document, heatmaps, written)
    return exit_code(results + found, interrupted=interrupted)


def _print_warnings(args, nothing, xfails) -> None:
    """Why a run with nothing checked is not green, and each xfail pattern that matched nothing."""
    if nothing:
        print(f"samspec check: {nothing} (exit 1)", file=sys.stderr)
    for entry in xfails:
        if not entry.used:
            print(f"warning: {args.xfail}:{entry.line}: pattern {entry.pattern!r} matched nothing", file=sys.stderr)


def _run_properties(args, port, profile) -> list:
    from .properties.checks import report_properties, run_properties

    found = run_properties(
        port,
        profile,
        max_examples=args.max_examples,
        seed=args.hypothesis_seed,
        database=args.hypothesis_database,
        port=args.port,
        k=args.k,
    )
    report_properties(found)
    return found


def _write_reports(args, document, heatmaps=None, written=None) -> None:
    from .reports.document import write_json, write_junit
    from .reports.html import write_html

    if written is not None:
        written["document"] = document
    if args.report:
        write_json(document, args.report)
    if args.junit:
        write_junit(document, args.junit)
    if args.html:
        write_html(document, args.html, heatmaps)


def _heatmap_collector(heatmaps):
    """For --html: each failing output's error / budget heat map, drawn while its arrays are in memory."""

    def collect(case, key, got, expected, result):
        try:
            from .teaching.figures import heatmap_png
        except ImportError:
            return
        try:
            heatmaps[f"{case.id}::{key}"] = heatmap_png(got, expected, result.budget)
        except Exception:  # matplotlib missing or a shape it cannot draw: the HTML says so
            pass

    return collect


def cmd_fixtures(args) -> int:
    """`fixtures generate --out DIR [--force]` and `fixtures verify [DIR]` (docs/fixtures.md): exit 2
    when the folder cannot be used (one line), 1 when verify finds a problem in the set's files."""
    from .cases import store as fixtures

    say = (lambda line: None) if args.quiet else print
    try:
        if args.action == "generate":
            if args.dir is not None:
                raise UsageError(f"fixtures generate takes its folder as --out DIR (received {args.dir!r})")
            if args.out is None:
                raise UsageError("fixtures generate needs --out DIR (the folder to write; see docs/fixtures.md)")
            fixtures.generate(Path(args.out), force=args.force, log=say)
            return 0
        if args.force or args.out is not None:
            raise UsageError("--out and --force belong to fixtures generate; verify takes the folder as DIR")
        problems = fixtures.verify(args.dir, log=say)
    except fixtures.FixtureError as exc:
        raise UsageError(str(exc)) from exc
    for problem in problems:
        print(f"FIXTURE ERROR: {problem}", file=sys.stderr)
    if problems:
        return 1
    say("fixtures verified: paths, schema, every sha256 and header, every expected value and stage")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from .cases.store import samspec_version

    parser = _Parser(prog="samspec", description="Reference and conformance suite for SAM's prompt encoder")
    parser.add_argument("--version", action="version", version=f"samspec {samspec_version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    explain.add_arguments(commands.add_parser("explain", help="print every stage of the reference for one prompt"))

    add_check_options(commands.add_parser("check", help="check a port against the fixtures"))

    from .selftest import suite as selftest

    selftest.add_arguments(
        commands.add_parser("selftest", help="check that every known bug variant is caught and diagnosed")
    )

    from .bench import command as bench
    from .reports import ports_table as ports_report
    from .teaching import figures

    bench.add_arguments(commands.add_parser("bench", help="time the reference against Meta's torch PromptEncoder"))

    figures.add_arguments(commands.add_parser("figures", help="draw the figures of docs/guide.md (needs matplotlib)"))
    report = commands.add_parser("report", help="regenerate a generated table of docs/")
    reports = report.add_subparsers(dest="report", required=True)
    ports_report.add_arguments(
        reports.add_parser("ports", help="run every built-in port under its profiles: docs/ports.md")
    )
    from .reports import dtype_budget

    dtype_budget.add_arguments(
        reports.add_parser("dtypes", help="how much judging in float16 widens the budget: docs/tolerances.md")
    )
    from .reports import coverage as coverage_report

    coverage_report.add_arguments(
        reports.add_parser(
            "coverage", help="map every spec clause to the fixture cases exercising it: docs/coverage.md"
        )
    )

    fixtures = commands.add_parser("fixtures", help="generate or verify the golden fixtures")
    fixtures.add_argument("action", choices=["generate", "verify"])
    fixtures.add_argument("dir", nargs="?", help="verify: the fixture folder (default: the shipped one)")
    fixtures.add_argument(
        "--out", metavar="DIR", help="generate: the folder to write (required; never the installed package)"
    )
    fixtures.add_argument("--force", action="store_true", help="generate: replace the fixture set already in --out")
    fixtures.add_argument("--quiet", action="store_true", help="print nothing on success")
    return parser


def cmd_selftest(args) -> int:
    from .selftest import suite as selftest

    return selftest.run(args)


def cmd_figures(args) -> int:
    from .teaching import figures

    return figures.run(args)


def cmd_bench(args) -> int:
    from .bench import command as bench

    return bench.run(args)


def cmd_report(args) -> int:
    return args.handler(args)


EXTRAS = {"matplotlib": "figures", "torch": "sam", "segment_anything": "sam", "cupy": "gpu"}


def _install_hint(module) -> str:
    """The command that installs ``module``: the samspec extra that lists it, for how samspec was installed."""
    from .reports.install_hint import install_command

    top = (module or "").split(".")[0]
    if top in EXTRAS:
        return install_command(EXTRAS[top])
    return f"pip install {top}, or the samspec extra that lists it (README.md)"


HANDLERS = {
    "explain": explain.explain,
    "check": cmd_check,
    "fixtures": cmd_fixtures,
    "selftest": cmd_selftest,
    "figures": cmd_figures,
    "report": cmd_report,
    "bench": cmd_bench,
}


def main(argv=None) -> int:
    from .cases.store import FixtureError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return HANDLERS[args.command](args)
    except (UsageError, FixtureError) as exc:  # FixtureError: a missing or malformed --fixtures folder in any command
        print(f"samspec {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, TypeError, OSError) as exc:
        print(f"samspec {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:  # an optional dependency: name the install, never exit 1
        print(
            f"samspec {args.command}: error: this needs the Python package {exc.name!r}, which is not installed "
            f"({_install_hint(exc.name)})",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print(f"samspec {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
