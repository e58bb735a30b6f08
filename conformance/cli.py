"""The `samspec` command line. Exit codes: 0 success, 1 a check failed, 2 usage, adapter or fixture error."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import explain


class UsageError(Exception):
    """A problem with the command line, the adapter or the fixtures: exit 2 with one line."""


def cmd_check(args) -> int:
    from .check import Checker, exit_code
    from .expectations import read_xfails
    from .fixtures import FixtureError, load_cases
    from .profiles import get_profile
    from .registry import AdapterError, resolve_adapter
    from .report import json_report, junit_report, table

    try:
        adapter = resolve_adapter(args.port)
        if args.profile:
            adapter.profile = args.profile
        profile = get_profile(adapter.profile)
        cases = load_cases(args.fixtures, pattern=args.cases)
        if args.weights:
            from samspec.reference import load_params

            from .weights import cases_with_weights

            cases, notes = cases_with_weights(cases, load_params(args.weights), source=args.weights)
            for note in notes:
                print(f"note: {note}", file=sys.stderr)
        xfails = read_xfails(args.xfail) if args.xfail else []
    except (AdapterError, FixtureError, ValueError, OSError) as exc:
        raise UsageError(str(exc)) from exc
    if not cases:
        raise UsageError(f"--cases {args.cases!r} matches no case in the fixtures")
    diagnose = None
    if not args.no_diagnosis:
        from .diagnosis import make_diagnoser

        diagnose = make_diagnoser(profile)
    checker = Checker(adapter, profile, k=args.k, xfails=xfails, diagnose=diagnose)
    results = checker.run(cases)
    print(f"samspec check {args.port} (adapter {getattr(adapter, 'name', args.port)!r}, profile {profile.name!r}, "
          f"{len(cases)} cases, k = {args.k})\n")
    table(results)
    overall = diagnose.port_summary(results, cases) if hasattr(diagnose, "port_summary") else None
    if overall:
        print(overall)
    if args.properties:
        from .properties import report_properties, run_properties

        found = run_properties(adapter, profile, max_examples=args.max_examples, seed=args.hypothesis_seed,
                               database=args.hypothesis_database, port=args.port, k=args.k)
        report_properties(found)
        results += found
    for entry in xfails:
        if not entry.used:
            print(f"warning: {args.xfail}:{entry.line}: pattern {entry.pattern!r} matched nothing", file=sys.stderr)
    if args.report:
        json_report(results, args.report, port=args.port, profile=profile.name,
                    fixtures=args.fixtures or "built-in", adapter_name=getattr(adapter, "name", args.port))
    if args.junit:
        junit_report(results, args.junit, port=args.port, profile=profile.name)
    return exit_code(results)


def cmd_fixtures(args) -> int:
    from . import fixtures

    if args.action == "generate":
        out = Path(args.dir) if args.dir else fixtures.default_dir()
        out.mkdir(parents=True, exist_ok=True)
        manifest = fixtures.generate(out)
        print(f"wrote {len(manifest['cases'])} cases and {len(manifest['sha256'])} files to {out}")
        return 0
    problems = fixtures.verify(args.dir, log=(lambda line: None) if args.quiet else print)
    for problem in problems:
        print(f"FIXTURE ERROR: {problem}", file=sys.stderr)
    if problems:
        return 1
    print("fixtures verified: schema, every sha256 and every expected value")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="samspec", description="Reference and conformance suite for SAM's prompt encoder")
    commands = parser.add_subparsers(dest="command", required=True)

    explain.add_arguments(commands.add_parser("explain", help="print every stage of the reference for one prompt"))

    check = commands.add_parser("check", help="check a port against the fixtures")
    check.add_argument("port", help="a built-in port (reference-f32, reference-f16, segment-anything, ...) or module:attr")
    check.add_argument("--profile", help="the conventions the port follows (default: the adapter's own)")
    check.add_argument("--fixtures", metavar="DIR", help="a fixture folder (default: the fixtures shipped with samspec)")
    check.add_argument("--cases", metavar="REGEX", help="only cases whose id matches")
    check.add_argument("--report", metavar="FILE.json", help="write a JSON report")
    check.add_argument("--junit", metavar="FILE.xml", help="write JUnit XML")
    check.add_argument("--xfail", metavar="FILE", help="expected failures: regex patterns with '# reason'")
    check.add_argument("--k", type=float, default=4.0, help="budget = k x the faithful error + floor (default 4)")
    check.add_argument("--no-diagnosis", action="store_true", help="do not look for a known divergence on failure")
    check.add_argument("--weights", metavar="FILE", help="run the catalogue with a checkpoint's parameters (Meta .pth, "
                       "transformers directory or .safetensors, keras .weights.h5); expected outputs are recomputed")
    check.add_argument("--properties", action="store_true", help="also run the property checks (docs/properties.md)")
    check.add_argument("--max-examples", type=int, default=25, help="hypothesis examples per property (default 25)")
    check.add_argument("--hypothesis-seed", type=int, default=0, help="seed of the property examples (default 0)")
    check.add_argument("--hypothesis-database", metavar="DIR", help="keep failing property examples here and replay them first")

    from . import selftest

    selftest.add_arguments(commands.add_parser("selftest", help="check that every known bug variant is caught and diagnosed"))

    from . import bench, figures, ports_report

    bench.add_arguments(commands.add_parser("bench", help="time the reference against Meta's torch PromptEncoder"))

    figures.add_arguments(commands.add_parser("figures", help="draw the figures of docs/guide.md (needs matplotlib)"))
    report = commands.add_parser("report", help="regenerate a generated table of docs/")
    reports = report.add_subparsers(dest="report", required=True)
    ports_report.add_arguments(
        reports.add_parser("ports", help="run every built-in port under its profiles: docs/ports.md")
    )

    fixtures = commands.add_parser("fixtures", help="generate or verify the golden fixtures")
    fixtures.add_argument("action", choices=["generate", "verify"])
    fixtures.add_argument("dir", nargs="?", help="fixture folder (default: the shipped one); also --out")
    fixtures.add_argument("--out", dest="dir", help=argparse.SUPPRESS)
    fixtures.add_argument("--quiet", action="store_true")
    return parser


def cmd_selftest(args) -> int:
    from . import selftest

    return selftest.run(args)


def cmd_figures(args) -> int:
    from . import figures

    return figures.run(args)


def cmd_bench(args) -> int:
    from . import bench

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
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return HANDLERS[args.command](args)
    except UsageError as exc:
        print(f"samspec {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, TypeError, OSError) as exc:
        print(f"samspec {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
