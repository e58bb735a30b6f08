"""The options of a check, written once for both front-ends.

Each row names one setting of a check: its name (the attribute a session reads), its flag under
`samspec check` (``--k``) and under the pytest plugin (``--samspec-k``), how its text is parsed and
validated, its default and its help. ``samspec check`` and ``pytest --samspec-port`` both build their
options from this table (``add_to_argparse``, ``add_to_pytest``), so the two front-ends accept the same
settings, refuse the same values with the same message, and name them by each front-end's convention.
"""

from __future__ import annotations

import argparse
import difflib
import math
import re
from dataclasses import dataclass
from types import SimpleNamespace

DTYPES = ("float16", "float32", "float64")  # a compute dtype a port may declare (the tolerance model's dtypes)


def positive_finite(text: str, flag: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{flag} expects a number; received {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{flag} expects a finite number > 0; received {text!r}")
    return value


def positive_int(text: str, flag: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{flag} expects a whole number; received {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{flag} expects a whole number >= 1; received {text!r}")
    return value


def whole_number(text: str, flag: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{flag} expects a whole number; received {text!r}") from None


def regex(text: str, flag: str) -> str:
    try:
        re.compile(text)
    except re.error as exc:
        raise argparse.ArgumentTypeError(f"{flag} {text!r}: not a valid regular expression ({exc})") from None
    return text


def dtype(text: str, flag: str) -> str:
    if text not in DTYPES:
        raise argparse.ArgumentTypeError(f"{flag} expects one of {', '.join(DTYPES)}; received {text!r}")
    return text


@dataclass(frozen=True)
class Option:
    """One setting of a check. ``cli``: its flags under `samspec check` (a name without dashes is the
    positional argument; empty: not a CLI option); ``plugin``: its flag under pytest (None: CLI only)."""

    name: str
    help: str
    cli: tuple = ()
    plugin: str | None = None
    parse: object = None  # (text, flag) -> value; raises argparse.ArgumentTypeError naming the flag
    default: object = None
    switch: bool = False  # a flag without a value (store_true)
    metavar: str | None = None
    plugin_aliases: tuple = ()

    def argparse_type(self, flag: str):
        if self.parse is None:
            return None
        parse = self.parse

        def convert(text):
            return parse(text, flag)

        convert.__name__ = self.name  # argparse names the type in its own messages
        return convert


def _both(name, help, parse=None, default=None, switch=False, metavar=None, cli=None, aliases=()):
    flag = name.replace("_", "-")
    return Option(
        name,
        help,
        cli=cli or (f"--{flag}",),
        plugin=f"--samspec-{flag}",
        parse=parse,
        default=default,
        switch=switch,
        metavar=metavar,
        plugin_aliases=aliases,
    )


def _cli(name, help, flags=None, parse=None, default=None, switch=False, metavar=None):
    flags = flags or (f"--{name.replace('_', '-')}",)
    return Option(name, help, cli=flags, parse=parse, default=default, switch=switch, metavar=metavar)


OPTIONS = (
    _both(
        "port",
        "the port: a built-in name (reference-f32, segment-anything, ...), module:attr or path/to/file.py:Attr",
        cli=("port",),
        metavar="PORT",
    ),
    _both("profile", "the conventions the port follows: a name or module:attr (default: the adapter's own)"),
    _both("fixtures", "a fixture folder (default: the fixtures shipped with samspec)", metavar="DIR"),
    _both("cases", "only cases whose id matches", parse=regex, metavar="REGEX"),
    _both("xfail", "expected failures: regex patterns with '# reason'", metavar="FILE"),
    _both(
        "timeout",
        "per case: a port that takes longer is stopped and the case is an error (default 60)",
        parse=positive_finite,
        default=60.0,
        metavar="SECONDS",
    ),
    _both("in_process", "call the adapter in this process (for debuggers); sys.exit from it is an error", switch=True),
    _both("k", "budget = k x the faithful error + floor (default 4)", parse=positive_finite, default=4.0, metavar="K"),
    _both(
        "trace",
        "trace every case stage by stage, not only a few failing cases per section (docs/diagnosis.md)",
        switch=True,
    ),
    _both(
        "no_trace",
        "do not trace failing cases (by default, when the adapter offers trace(), a few failing cases per spec "
        "section are traced and the first stage that departs is reported)",
        switch=True,
    ),
    _both("no_diagnosis", "do not look for a known divergence on failure", switch=True),
    _both(
        "dtype",
        "the dtype the port computes in (default: the adapter's compute_dtype, else each output's own dtype); "
        "outputs in a lower precision are an error",
        parse=dtype,
        metavar="|".join(DTYPES),
    ),
    _both(
        "weights",
        "run the catalogue with a checkpoint's parameters (Meta .pth, transformers directory or .safetensors, "
        "keras .weights.h5); expected outputs are recomputed",
        metavar="FILE",
    ),
    _both("properties", "also run the property checks (docs/properties.md)", switch=True),
    _both("max_examples", "hypothesis examples per property (default 25)", parse=positive_int, default=25, metavar="N"),
    _both(
        "hypothesis_seed",
        "seed of the property examples (default 0)",
        parse=whole_number,
        default=0,
        metavar="N",
        aliases=("--samspec-seed",),
    ),
    _both("hypothesis_database", "keep failing property examples here and replay them first", metavar="DIR"),
    _cli("quiet", "print failing outputs and the summary only", flags=("-q", "--quiet"), switch=True),
    _cli("exitfirst", "stop after the first case with a failing output", flags=("-x", "--exitfirst"), switch=True),
    _cli("maxfail", "stop after N failing outputs", parse=positive_int, metavar="N"),
    _cli("report", "write a JSON report (schema samspec-report/2)", metavar="FILE.json"),
    _cli("junit", "write JUnit XML", metavar="FILE.xml"),
    _cli("html", "write a self-contained HTML report", metavar="FILE.html"),
    _cli("outputs", "judge outputs a program wrote: DIR/<case id>/<output key>.npy", metavar="DIR"),
    _cli("exec", "run CMD (with {fixtures} and {out} filled in), then judge {out} as --outputs", metavar="CMD"),
    _cli(
        "exec_timeout",
        "--exec: the program's whole run may take this long; it is then killed with its process group "
        "(default: --timeout x the number of cases)",
        parse=positive_finite,
        metavar="SECONDS",
    ),
    _cli(
        "strict",
        "--outputs/--exec: a file in a case folder that is not an output is an error, not a warning",
        switch=True,
    ),
)
BY_NAME = {option.name: option for option in OPTIONS}


def add_to_argparse(parser) -> None:
    """`samspec check`'s options."""
    for option in OPTIONS:
        if not option.cli:
            continue
        if not option.cli[0].startswith("-"):
            parser.add_argument(option.name, nargs="?", help=option.help, metavar=option.metavar)
            continue
        flag = option.cli[-1]
        if option.switch:
            parser.add_argument(*option.cli, dest=option.name, action="store_true", help=option.help)
        else:
            parser.add_argument(
                *option.cli,
                dest=option.name,
                type=option.argparse_type(flag),
                default=option.default,
                metavar=option.metavar,
                help=option.help,
            )


def plugin_dest(name: str) -> str:
    return f"samspec_{name}"


def add_to_pytest(group) -> None:
    """The plugin's options (``--samspec-...``), parsed and refused exactly as under `samspec check`."""
    for option in OPTIONS:
        if option.plugin is None:
            continue
        flags = (option.plugin, *option.plugin_aliases)
        if option.switch:
            group.addoption(*flags, dest=plugin_dest(option.name), action="store_true", help=option.help)
        else:
            group.addoption(
                *flags,
                dest=plugin_dest(option.name),
                type=option.argparse_type(option.plugin),
                default=option.default,
                metavar=option.metavar,
                help=option.help,
            )


def from_pytest(config) -> SimpleNamespace:
    """The plugin's settings under the table's names; CLI-only options at their defaults."""
    values = {
        option.name: config.getoption(plugin_dest(option.name)) if option.plugin else option.default
        for option in OPTIONS
    }
    for option in OPTIONS:
        if option.switch and values[option.name] is None:
            values[option.name] = False
    return SimpleNamespace(**values)


def flag_of(name: str, front_end: str) -> str:
    """How ``front_end`` ("cli" or "plugin") spells the option ``name``."""
    option = BY_NAME[name]
    if front_end == "plugin" and option.plugin:
        return option.plugin
    return option.cli[-1] if option.cli and option.cli[-1].startswith("-") else option.name.upper()


def closest(word: str, choices) -> str | None:
    """The one of ``choices`` closest to ``word`` (a typo of it), or None."""
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(word: str, choices) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices``, or ``""``."""
    close = closest(word, choices)
    return f" (did you mean {close!r}?)" if close else ""
