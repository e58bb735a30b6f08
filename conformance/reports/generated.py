"""A generated document's three ways out, shared by `samspec report ports` and `samspec report coverage`:
print it, write it (``--out FILE``), or compare it with the committed file (``--check [FILE]``)."""

from __future__ import annotations

import difflib
import sys
from pathlib import Path


def emit(text: str, args, command: str) -> int:
    """Print ``text``, write it to ``args.out``, or compare it with ``args.check``: 1 when the committed
    file is stale (a diff and the command that regenerates it on stderr), else 0."""
    if getattr(args, "check", None):
        path = Path(args.check)
        committed = path.read_text(encoding="utf-8") if path.is_file() else ""
        if committed != text:
            diff = difflib.unified_diff(
                committed.splitlines(), text.splitlines(), f"{path} (committed)", f"{path} (regenerated)", lineterm=""
            )
            print("\n".join(list(diff)[:80]), file=sys.stderr)
            print(f"{command}: {path} is stale; regenerate it with `{command} --out {path}`", file=sys.stderr)
            return 1
        print(f"{path} is up to date")
    elif getattr(args, "out", None):
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        sys.stdout.write(text)
    return 0


def add_arguments(parser, default_out: str, fails_when: str = "it is stale") -> None:
    """The options of a generated document's command: ``--out``, ``--check [FILE]`` and ``--fixtures``."""
    parser.add_argument("--out", metavar="FILE", help=f"write the table here (e.g. {default_out}); default: print it")
    parser.add_argument(
        "--check",
        metavar="FILE",
        nargs="?",
        const=default_out,
        help=f"regenerate and compare with FILE (default {default_out}); exit 1 if {fails_when}",
    )
    parser.add_argument(
        "--fixtures", metavar="DIR", help="a fixture folder (default: the fixtures shipped with samspec)"
    )
