"""The `samspec` command line."""

from __future__ import annotations

import argparse
import sys

from . import explain


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="samspec", description="Reference and conformance suite for SAM's prompt encoder")
    commands = parser.add_subparsers(dest="command", required=True)
    explain.add_arguments(
        commands.add_parser("explain", help="print every stage of the reference for one prompt")
    )
    return parser


HANDLERS = {"explain": explain.explain}


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return HANDLERS[args.command](args)
    except (ValueError, TypeError, OSError) as exc:
        print(f"samspec {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
