"""The `samspec` command line. Exit codes: 0 success, 1 a check failed, 2 usage, adapter or fixture error."""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import math
import re
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from .teaching import explain


class UsageError(Exception):
    """A problem with the command line, the adapter or the fixtures: exit 2 with one line."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (and exit 2), like every samspec error."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _positive_finite(flag):
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} expects a number; received {text!r}") from None
        if not math.isfinite(value) or value <= 0:
            raise argparse.ArgumentTypeError(f"{flag} expects a finite number > 0; received {text!r}")
        return value

    return parse


def _positive_int(flag):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} expects a whole number; received {text!r}") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"{flag} expects a whole number >= 1; received {text!r}")
        return value

    return parse


def _load_xfails(path, cases):
    """The xfail file's entries; exit 2 for an unreadable file or a pattern that hides every output."""
    from samspec.reference import OUTPUT_KEYS

    from .harness.xfail import read_xfails

    try:
        entries = read_xfails(path)
    except UnicodeDecodeError as exc:
        raise UsageError(f"--xfail {path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    ids = [f"{c.id}::{key}" for c in cases for key in OUTPUT_KEYS]
    # a pattern that matches every output, and also case ids no fixture has, names nothing in particular
    probes = [f"zz-no-such-case.{n}::{key}" for n in (0, 7) for key in OUTPUT_KEYS]
    for entry in entries:
        if all(entry.regex.search(i) for i in ids + probes):
            raise UsageError(
                f"--xfail {path}:{entry.line}: pattern {entry.pattern!r} matches every output; "
                "it would hide everything (name the cases or outputs it is for)"
            )
    return entries


def _open_port(args):
    """The port to check: --outputs / --exec (files written by any program), else an adapter run in a
    worker process (or in this one with --in-process)."""
    from .harness.isolation import open_port

    if args.outputs or args.exec:
        from .adapters.outputs import OutputsAdapter

        return OutputsAdapter(args.outputs) if args.outputs else None
    return open_port(args.port, isolated=not args.in_process, timeout=args.timeout, profile=args.profile)


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


def _check_database(database: Path) -> None:
    """--hypothesis-database: a folder that exists or can be made, where files can be written."""
    existing = database
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"--hypothesis-database {database}: {existing} is not a folder")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise UsageError(
            f"--hypothesis-database {database}: cannot write in {existing} ({exc.strerror or exc})"
        ) from None


def _check_arguments(args) -> None:
    """Everything about the command line that can be refused before anything runs (exit 2)."""
    from .reports.document import check_writable

    if args.outputs and args.exec:
        raise UsageError("--outputs and --exec are alternatives: --exec writes the outputs it judges")
    if bool(args.port) == bool(args.outputs or args.exec):
        raise UsageError("give a PORT, or --outputs DIR, or --exec CMD (exactly one)")
    for flag, path in (("--report", args.report), ("--junit", args.junit), ("--html", args.html)):
        if path:
            check_writable(path, flag)
    if args.cases is not None:
        try:
            re.compile(args.cases)
        except re.error as exc:
            raise UsageError(f"--cases {args.cases!r}: not a valid regular expression ({exc})") from exc
    if args.hypothesis_database:
        _check_database(Path(args.hypothesis_database))


def _load_check_cases(args):
    """The fixture cases (with a checkpoint's parameters under --weights) and the xfail entries."""
    from .cases.store import FixtureError, load_cases

    try:
        cases = load_cases(args.fixtures, pattern=args.cases)
    except FixtureError as exc:
        raise UsageError(str(exc)) from exc
    if not cases:
        raise UsageError(f"--cases {args.cases!r} matches no case in the fixtures")
    if args.weights:
        from samspec.reference import CheckpointError, load_params

        from .cases.weights import cases_with_weights

        try:
            cases, notes = cases_with_weights(cases, load_params(args.weights), source=args.weights)
        except CheckpointError as exc:
            raise UsageError(str(exc)) from exc
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
    xfails = _load_xfails(args.xfail, cases) if args.xfail else []
    return cases, xfails


def _run_exec(args, cases) -> None:
    """--exec: run the program once over the fixtures; what it writes is then judged as --outputs."""
    from .adapters.outputs import run_exec

    folder = tempfile.mkdtemp(prefix="samspec-exec-")
    fixtures_folder = str(_fixture_identity(args.fixtures)["path"])
    code, captured = run_exec(args.exec, fixtures_folder, folder, args.timeout * max(len(cases), 1))
    if captured:
        print(captured, file=sys.stderr)
    if code != 0:
        print(f"samspec check: --exec command exited with code {code}; judging what it wrote", file=sys.stderr)
    args.outputs = folder


def cmd_check(args) -> int:
    """`samspec check`: refuse what can be refused, load the cases, open the port, run, report."""
    from .harness.check import Checker, exit_code, final_diagnosis
    from .harness.isolation import MissingDependency, PortLoadError
    from .profiles.profile import resolve_profile
    from .reports.document import Table, build_document, print_details, print_summary, printable

    for stream in (sys.stdout, sys.stderr):  # a terminal that cannot show a character gets an escape, not an abort
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="backslashreplace")
    _check_arguments(args)
    cases, xfails = _load_check_cases(args)
    if args.exec:
        _run_exec(args, cases)

    def cannot_run(message):  # exit 2; the reports asked for still say why they hold no result
        _write_reports(
            args,
            build_document(
                [],
                port=args.port,
                adapter_name=None,
                profile=args.profile,
                k=args.k,
                fixtures=_fixture_identity(args.fixtures),
                started=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                error=message,
            ),
        )
        return UsageError(message)

    try:
        port = _open_port(args)
    except PortLoadError as exc:
        raise cannot_run(str(exc)) from exc
    try:
        try:
            profile = resolve_profile(args.profile or getattr(port, "profile", None) or "sam", "--profile")
        except (Exception, SystemExit) as exc:  # a user profile (module:attr) is imported here
            raise cannot_run(
                str(exc) if isinstance(exc, ValueError) else f"the profile could not be loaded: {exc!r}"
            ) from exc
        diagnose = None
        if not args.no_diagnosis:
            from .diagnosis.diagnoser import make_diagnoser

            diagnose = make_diagnoser(profile, k=args.k)
        heatmaps = {}
        checker = Checker(
            port,
            profile,
            k=args.k,
            xfails=xfails,
            diagnose=diagnose,
            trace=args.trace,
            on_failure=_heatmap_collector(heatmaps) if args.html else None,
        )
        name = args.port if not (args.outputs or args.exec) else f"outputs in {args.outputs}"
        mode = (
            "in this process"
            if args.in_process or args.outputs
            else f"worker process, timeout {args.timeout:g} s per case"
        )
        print(
            f"samspec check {name} (adapter {getattr(port, 'name', None) or name!r}, profile {profile.name!r}, "
            f"{len(cases)} cases × 3 outputs, k = {args.k:g}, {mode})",
            flush=True,
        )
        started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        clock = time.perf_counter()
        printer = Table([c.id for c in cases], quiet=args.quiet)
        try:
            results = checker.run(cases, on_result=printer.row, maxfail=1 if args.exitfirst else args.maxfail)
        except MissingDependency as exc:
            raise cannot_run(
                f"port {name!r} cannot be built here: {exc} (install the port's library; for the built-in "
                f"ports, the [testenv:ports] section of tox.ini lists each install)"
            ) from exc
        interrupted = checker.interrupted
        overall = None
        found = []
        try:  # Ctrl-C after the cases (the diagnosis, the properties) still leaves the reports of what ran
            if diagnose is not None and not interrupted:
                overall = final_diagnosis(diagnose, results, cases)
            if args.properties and not interrupted:
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
        except KeyboardInterrupt:
            interrupted = True
        duration = time.perf_counter() - clock
        print_details(results)
        if overall and overall.get("summary"):
            print(printable(overall["summary"]))
        print_summary(results, properties=found, interrupted=interrupted, duration=duration)
        for entry in xfails:
            if not entry.used:
                print(f"warning: {args.xfail}:{entry.line}: pattern {entry.pattern!r} matched nothing", file=sys.stderr)
        if args.report or args.junit or args.html:
            document = build_document(
                results,
                port=name,
                adapter_name=getattr(port, "name", None) or name,
                profile=profile.name,
                k=args.k,
                fixtures=_fixture_identity(args.fixtures),
                xfails=xfails,
                started=started,
                duration=duration,
                overall=overall,
                interrupted=interrupted,
                properties=found,
            )
            _write_reports(args, document, heatmaps)
        return exit_code(results + found, interrupted=interrupted)
    finally:
        close = getattr(port, "close", None)
        if callable(close):
            close()


def _write_reports(args, document, heatmaps=None) -> None:
    from .reports.document import write_json, write_junit
    from .reports.html import write_html

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

    check = commands.add_parser("check", help="check a port against the fixtures")
    check.add_argument(
        "port", nargs="?", help="a built-in port (reference-f32, reference-f16, segment-anything, ...) or module:attr"
    )
    check.add_argument(
        "--profile", help="the conventions the port follows: a name or module:attr (default: the adapter's own)"
    )
    check.add_argument(
        "--fixtures", metavar="DIR", help="a fixture folder (default: the fixtures shipped with samspec)"
    )
    check.add_argument("--cases", metavar="REGEX", help="only cases whose id matches")
    check.add_argument("-q", "--quiet", action="store_true", help="print failing outputs and the summary only")
    check.add_argument("-x", "--exitfirst", action="store_true", help="stop after the first case with a failing output")
    check.add_argument("--maxfail", type=_positive_int("--maxfail"), metavar="N", help="stop after N failing outputs")
    check.add_argument(
        "--timeout",
        type=_positive_finite("--timeout"),
        default=60.0,
        metavar="SECONDS",
        help="per case: a port that takes longer is stopped and the case is an error (default 60)",
    )
    check.add_argument(
        "--in-process",
        action="store_true",
        help="call the adapter in this process (for debuggers); sys.exit from it is still an error",
    )
    check.add_argument("--report", metavar="FILE.json", help="write a JSON report (schema samspec-report/2)")
    check.add_argument("--junit", metavar="FILE.xml", help="write JUnit XML")
    check.add_argument("--html", metavar="FILE.html", help="write a self-contained HTML report")
    check.add_argument("--outputs", metavar="DIR", help="judge outputs a program wrote: DIR/<case id>/<output key>.npy")
    check.add_argument(
        "--exec", metavar="CMD", help="run CMD (with {fixtures} and {out} filled in), then judge {out} as --outputs"
    )
    check.add_argument(
        "--trace", action="store_true", help="compare the adapter's trace() stage by stage (docs/diagnosis.md)"
    )
    check.add_argument("--xfail", metavar="FILE", help="expected failures: regex patterns with '# reason'")
    check.add_argument(
        "--k", type=_positive_finite("--k"), default=4.0, help="budget = k x the faithful error + floor (default 4)"
    )
    check.add_argument("--no-diagnosis", action="store_true", help="do not look for a known divergence on failure")
    check.add_argument(
        "--weights",
        metavar="FILE",
        help="run the catalogue with a checkpoint's parameters (Meta .pth, "
        "transformers directory or .safetensors, keras .weights.h5); expected outputs are recomputed",
    )
    check.add_argument("--properties", action="store_true", help="also run the property checks (docs/properties.md)")
    check.add_argument(
        "--max-examples",
        type=_positive_int("--max-examples"),
        default=25,
        help="hypothesis examples per property (default 25)",
    )
    check.add_argument("--hypothesis-seed", type=int, default=0, help="seed of the property examples (default 0)")
    check.add_argument(
        "--hypothesis-database", metavar="DIR", help="keep failing property examples here and replay them first"
    )

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
            f"(see the extras in README.md, e.g. pip install 'samspec[figures]')",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print(f"samspec {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
