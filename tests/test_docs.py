"""Docs that run: every code example of README.md, docs/*.md and ports/c/README.md is executed, in order, one folder per
document, against the real port it names. What a user copies from the docs must work as written.

How a fenced block is treated (a marker is an HTML comment on the line before the fence, blank
lines allowed between; GitHub does not show it):

- ```python whose first line is ``# NAME.py ...``: written to NAME.py (an adapter, a profile) and
  imported once, so that later blocks can use it; any other ```python block is run with ``python``
  (with pytest if it defines ``test_`` functions); where every ``print(...)`` line ends with a
  ``# value`` comment, the block must print exactly those values.
- ```bash / ```sh: every command is run with bash in the document's folder, samspec and pytest on
  PATH; the exit status must be the one a ``# exit N`` comment on the command (or on the comment
  line after it) names, else 0.
- ```yaml (a GitHub Actions workflow): its single-line ``run:`` steps, with the workflow's ``env``.
  ```ini (a tox environment): its ``commands``, ``{envtmpdir}`` a temporary folder.
- ``<!-- file: NAME -->``: the block is written to NAME (an xfail file), not run.
- ``<!-- requires: name[, name] -->``: skipped with the reason where a name is neither an installed
  module nor a program on PATH (cc); the tox environment that must have a module fails instead
  (SAMSPEC_REQUIRE). "Installed" is enough: segment_anything's package imports torchvision.
- ``<!-- cwd: repo -->``: run in the repository's root instead (the C port's Makefile).
- ``<!-- illustrative -->`` (optionally ``<!-- illustrative: why -->``): a fragment, a protocol
  sketch or an install line for a fresh machine; not run.
- Blocks in other languages (```cpp, ```text, no language) are shown output or fragments: not run.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import markers_for, require

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "ports" / "c" / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
RUN = {"python", "bash", "sh", "yaml", "ini"}
FENCE = re.compile(r"^(\s*)```(\w*)\s*$")
MARKER = re.compile(r"^\s*<!--\s*(illustrative|file|requires|cwd)\s*:?\s*(.*?)\s*-->\s*$")
EXIT = re.compile(r"#\s*exit (\d+)\b")
TIMEOUT = 900


@dataclass
class Block:
    doc: Path
    line: int
    language: str
    text: str
    markers: dict = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.line}"


def blocks(doc: Path) -> list:
    """The fenced blocks of ``doc`` with the markers right before each (indented fences included)."""
    lines = doc.read_text(encoding="utf-8").splitlines()
    found, i = [], 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, language = match.group(1), match.group(2)
        end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
        body = [line[len(indent) :] if line.startswith(indent) else line.lstrip() for line in lines[i + 1 : end]]
        markers, k = {}, i - 1
        while k >= 0 and (not lines[k].strip() or MARKER.match(lines[k])):
            marker = MARKER.match(lines[k])
            if marker:
                markers[marker.group(1)] = marker.group(2)
            k -= 1
        found.append(Block(doc, i + 1, language, "\n".join(body) + "\n", markers))
        i = end + 1
    return found


def commands(script: str) -> list:
    """(command, expected exit status) for each command of a shell block; `\\` continuations joined."""
    joined = re.sub(r"\s*\\\n\s*", " ", script)
    found = []
    for line in joined.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            expected = EXIT.search(stripped)
            if expected and found:  # "# exit 0: ..." on the line after the command
                found[-1] = (found[-1][0], int(expected.group(1)))
            continue
        expected = EXIT.search(stripped)
        found.append((stripped, int(expected.group(1)) if expected else 0))
    return found


def environment(folder: Path) -> dict:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join([str(folder)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("PYTEST_XDIST_WORKER", None)
    return env


def shell(command: str, cwd: Path, env: dict, expected: int, where: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    assert done.returncode == expected, (
        f"{where}: `{command}` exited {done.returncode}, the doc says {expected}\n"
        f"--- stdout (tail)\n{done.stdout[-3000:]}\n--- stderr (tail)\n{done.stderr[-3000:]}"
    )
    return done


def run_python(block: Block, cwd: Path, env: dict) -> None:
    first = block.text.lstrip().splitlines()[0] if block.text.strip() else ""
    named = re.match(r"#\s*([\w./-]+\.py)\b", first)
    if named:  # a module the doc asks the reader to save
        path = cwd / named.group(1)
        path.write_text(block.text, encoding="utf-8")
        module = named.group(1)[:-3].replace("/", ".")
        shell(f"{shlex.quote(sys.executable)} -c 'import {module}'", cwd, env, 0, f"{block.where} (import {module})")
        return
    path = cwd / f"doc_block_{block.line}.py"
    if re.search(r"^def test_", block.text, re.M):
        path = cwd / f"test_doc_block_{block.line}.py"
        path.write_text(block.text, encoding="utf-8")
        shell(f"{shlex.quote(sys.executable)} -m pytest -q -p no:cacheprovider {path.name}", cwd, env, 0, block.where)
    else:
        path.write_text(block.text, encoding="utf-8")
        done = shell(f"{shlex.quote(sys.executable)} {path.name}", cwd, env, 0, block.where)
        printed = printed_comments(block.text)
        if printed is not None:  # every print(...) says what it prints: it must print that
            assert [" ".join(line.split()) for line in done.stdout.splitlines()] == printed, (
                f"{block.where}: the block prints\n{done.stdout}but its comments say\n" + "\n".join(printed)
            )


def printed_comments(code: str):
    """The ``# ...`` comments of a block's print lines, if every print line has one, else None."""
    lines = [line for line in code.splitlines() if re.match(r"\s*print\(", line)]
    comments = [re.search(r"\)\s*#\s*(.+?)\s*$", line) for line in lines]
    if not lines or not all(comments):
        return None
    return [" ".join(c.group(1).split()) for c in comments]


def workflow_steps(text: str) -> tuple:
    """(env, [command]) of a GitHub Actions workflow: top-level env and the single-line run steps."""
    env, steps, in_env = {}, [], False
    for line in text.splitlines():
        if re.match(r"^env:\s*$", line):
            in_env = True
            continue
        if in_env:
            item = re.match(r"^\s+(\w+):\s*(\S+)", line)
            if item:
                env[item.group(1)] = item.group(2)
                continue
            in_env = False
        run = re.match(r"^\s+(?:- )?run:\s*(.+?)\s*$", line)
        if run and run.group(1) not in (">", "|"):
            steps.append(run.group(1))
    return env, steps


def tox_commands(text: str) -> list:
    found, inside = [], False
    for line in text.splitlines():
        if re.match(r"^commands\s*=", line):
            inside = True
            continue
        if inside and line.startswith((" ", "\t")) and line.strip():
            found.append(line.strip())
        elif inside and line.strip():
            inside = False
    return found


def run_block(block: Block, folder: Path, env: dict) -> None:
    if "file" in block.markers:
        (folder / block.markers["file"]).write_text(block.text, encoding="utf-8")
        return
    cwd = ROOT if block.markers.get("cwd") == "repo" else folder
    if block.language == "python":
        run_python(block, cwd, env)
    elif block.language in ("bash", "sh"):
        for command, expected in commands(block.text):
            shell(command, cwd, env, expected, block.where)
    elif block.language == "yaml":
        variables, steps = workflow_steps(block.text)
        assert steps, f"{block.where}: a workflow without run steps"
        for step in steps:
            if "pip install" not in step:
                shell(step, cwd, dict(env, **variables), 0, f"{block.where} (step `{step}`)")
    elif block.language == "ini":
        tmp = folder / "envtmpdir"
        tmp.mkdir(exist_ok=True)
        steps = tox_commands(block.text)
        assert steps, f"{block.where}: a tox environment without commands"
        for step in steps:
            shell(step.replace("{envtmpdir}", str(tmp)), cwd, env, 0, f"{block.where} (tox command `{step}`)")


def runnable(doc: Path) -> list:
    return [b for b in blocks(doc) if (b.language in RUN or "file" in b.markers) and "illustrative" not in b.markers]


def requirements(doc: Path) -> list:
    return [n for b in runnable(doc) for n in filter(None, re.split(r"[,\s]+", b.markers.get("requires", "")))]


@pytest.mark.slow
@pytest.mark.parametrize(
    "doc",
    [pytest.param(d, marks=markers_for(requirements(d))) for d in DOCS if runnable(d)],
    ids=lambda d: str(d.relative_to(ROOT)),
)
def test_every_example_runs(doc, tmp_path):
    env = environment(tmp_path)
    for block in runnable(doc):
        for name in filter(None, re.split(r"[,\s]+", block.markers.get("requires", ""))):
            if shutil.which(name) is None and importlib.util.find_spec(name) is None:  # a program or a module
                require(name)  # skipped with the reason, or failed where SAMSPEC_REQUIRE names it
        run_block(block, tmp_path, env)


# -- the harness itself ---------------------------------------------------------------------------


def test_markers_fences_and_exit_comments_are_read(tmp_path):
    doc = tmp_path / "x.md"
    doc.write_text(
        "text\n\n<!-- illustrative: a sketch -->\n\n```python\nclass A: ...\n```\n\n"
        "<!-- requires: numpy -->\n1. step\n\n   ```bash\n   samspec --version   # exit 0\n   ```\n"
    )
    first, second = blocks(doc)
    assert first.markers == {"illustrative": "a sketch"} and first.language == "python"
    assert second.markers == {} and second.text == "samspec --version   # exit 0\n"  # a marker must be right before
    assert commands(
        "samspec check a:B   # exit 1: fails\nsamspec check a:B --xfail f \\\n  --junit j\n# exit 0: xfail\n"
    ) == [("samspec check a:B   # exit 1: fails", 1), ("samspec check a:B --xfail f --junit j", 0)]
    assert workflow_steps(
        'env:\n  PORT: a:B   # edit\njobs:\n  - run: samspec check "$PORT"\n  run: >\n    pip x\n'
    ) == ({"PORT": "a:B"}, ['samspec check "$PORT"'])
    assert tox_commands("[testenv:x]\ncommands =\n    samspec a\n    samspec b {envtmpdir}/x\nother = 1\n") == [
        "samspec a",
        "samspec b {envtmpdir}/x",
    ]


def test_a_wrong_exit_status_fails_with_the_doc_line(tmp_path):
    doc = tmp_path / "bad.md"
    doc.write_text("```bash\nfalse   # the doc forgot to say exit 1\n```\n")
    with pytest.raises(AssertionError, match=r"bad.md:1: `false .*` exited 1, the doc says 0"):
        block = blocks(doc)[0]
        block.doc = ROOT / "bad.md"  # where() is relative to the repository
        run_block(block, tmp_path, environment(tmp_path))
