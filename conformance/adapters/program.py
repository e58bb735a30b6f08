"""A port's own program, run once before its outputs are judged (`samspec check --exec CMD`).

Contained like an adapter's worker (docs/ci.md, "What samspec guarantees"):

- ``CMD`` is split like a shell command line (shlex) and never given to a shell: ``{fixtures}`` and
  ``{out}`` are replaced inside each word, so a path is one argument whatever it holds (``;``, ``$(…)``,
  spaces). A shell's ``-c`` script holding a placeholder is refused: that shell would parse the path again
  (pass the paths as the script's arguments instead: ``sh -c 'prog "$1" "$2"' sh {fixtures} {out}``).
- The program runs in its own process group, which is killed as a whole when the program exits (what it
  left running must not write into the folder being judged), on the overall timeout, on Ctrl-C or a
  signal, and when samspec exits; so is what it started in a session of its own (found by the
  environment mark it inherited, lifetime.kill_marked).
- The wait ends when the program exits, not when its output closes (a child it left behind may hold it).
- What it prints is kept bounded (head and tail, ``CAPTURE_LIMIT`` bytes, how much was cut), to be shown
  escaped like an adapter's output.
"""

from __future__ import annotations

import os
import select
import shlex
import subprocess
import time

from ..harness.isolation.capture import Captured
from ..harness.isolation.lifetime import kill_group, kill_marked, marked_env, new_mark, track, untrack

PLACEHOLDERS = ("{fixtures}", "{out}")
SHELLS = {"sh", "bash", "dash", "zsh", "ksh", "fish", "csh", "tcsh", "busybox"}
POLL_SECONDS = 0.05


def program_argv(template: str, fixtures_dir, out_dir) -> list:
    """The program's argv: ``template`` split (shlex, no shell) with the placeholders filled in each word.
    Raises ValueError (a usage error) naming --exec and what is wrong."""
    try:
        words = shlex.split(template)
    except ValueError as exc:
        raise ValueError(f"--exec {template!r}: {exc}") from None
    if not words:
        raise ValueError('--exec: empty command; expected e.g. "ports/c/samspec_c {fixtures} {out}"')
    if not any("{out}" in word for word in words):
        raise ValueError(f"--exec {template!r}: no {{out}} in the command; the program must be told where to write")
    if os.path.basename(words[0]) in SHELLS:
        for flag, script in zip(words, words[1:]):
            if flag.startswith("-") and "c" in flag[1:] and any(p in script for p in PLACEHOLDERS):
                raise ValueError(
                    f"--exec {template!r}: a placeholder inside {words[0]}'s -c script would be parsed again by "
                    "the shell; pass the paths as the script's arguments: "
                    '--exec "sh -c \'prog \\"$1\\" \\"$2\\"\' sh {fixtures} {out}"'
                )
    return [word.replace("{fixtures}", str(fixtures_dir)).replace("{out}", str(out_dir)) for word in words]


def run_exec(template: str, fixtures_dir, out_dir, timeout: float | None = None) -> tuple:
    """Run a port's program once. Returns (exit status, what it printed: bounded, not yet escaped); a
    program that cannot be started is status 127 (126: not executable), one still running after ``timeout``
    seconds (the whole run) is killed with its process group, status 124."""
    argv = program_argv(template, fixtures_dir, out_dir)
    read_end, write_end = os.pipe()
    mark = new_mark()  # in the environment of the program and all it starts (lifetime.kill_marked)
    try:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=write_end,
            stderr=write_end,
            start_new_session=True,
            env=marked_env(mark),
        )
    except FileNotFoundError:
        return 127, f"cannot run {argv[0]!r}: no such program"
    except PermissionError:
        return 126, f"cannot run {argv[0]!r}: not executable"
    except OSError as exc:
        return 126, f"cannot run {argv[0]!r}: {exc.strerror or exc}"
    finally:
        os.close(write_end)
    captured = Captured()
    captured.attach(read_end)
    track(process, mark)
    try:
        code = _wait(process, captured, timeout)
    finally:
        kill_group(process)  # what the program left running, and the program itself on a timeout or Ctrl-C
        kill_marked(mark)  # and what it started outside its group (setsid)
        process.wait()
        untrack(process)
        captured.detach()
    text = captured.take()
    if code is None:
        return 124, text + f"\n{argv[0]} still running after {timeout:g} s (--exec-timeout): killed with its group"
    return code, text


def _wait(process, captured, timeout):
    """The program's exit status once it exits (draining what it prints meanwhile); None at ``timeout``."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        captured.drain()
        code = process.poll()
        if code is not None:
            captured.drain()
            return code
        if deadline is not None and time.monotonic() >= deadline:
            return None
        if captured.fd is None:
            time.sleep(POLL_SECONDS)
        else:  # wake as soon as it prints: a writer blocked on a full pipe must not wait for the poll
            select.select([captured.fd], [], [], POLL_SECONDS)
