"""Folder safety: a fixture set is data from outside, read inside its folder and never outside.

Every manifest path is checked as a string (relative, normalised, inside the folder) before any file
is opened; each leading part is lstat'ed and the file opened with O_NOFOLLOW, so no symlink is ever
followed, and no file larger than ``MAX_FILE_BYTES`` is read."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import stat
from pathlib import Path

from samspec.reference.checkpoints import first_symlink, relative_path_problem

from .errors import FileProblem, FixtureError

MAX_FILE_BYTES = 64 * 2**20  # no file of a fixture set is larger (the shipped set's largest: 8 MiB)


def default_dir() -> Path:
    """The fixture set that ships with samspec (the repository's fixtures/ folder)."""
    spec = importlib.util.find_spec("samspec.fixtures")
    if spec is None or not spec.submodule_search_locations:
        raise FixtureError("the package samspec.fixtures is not installed; pass a fixture folder explicitly")
    return Path(list(spec.submodule_search_locations)[0])


def fixture_root(root) -> Path:
    """The fixture folder ``root`` (the shipped one when None), which must exist and be a folder."""
    root = Path(root) if root is not None else default_dir()
    if not root.exists():
        raise FixtureError(f"{root}: no such fixture folder")
    if not root.is_dir():
        raise FixtureError(f"{root}: not a folder (a fixture set is a folder holding manifest.json)")
    return root


def check_entry(relative, where: str) -> str:
    """A manifest path: a normalised relative POSIX path inside the folder, checked as a string
    (nothing is opened or stat'ed to answer); FixtureError naming ``where`` otherwise."""
    problem = relative_path_problem(relative)
    if problem is not None:
        raise FixtureError(f"{where}: {problem}")
    return relative


class Folder:
    """Reads files under ``root`` by their manifest path: each leading part is lstat'ed inside the
    folder and the file is opened with O_NOFOLLOW (and O_NONBLOCK: a FIFO never blocks), so no
    symlink is ever followed."""

    def __init__(self, root: Path):
        self.root = root

    def read(self, relative: str, limit: int = MAX_FILE_BYTES) -> bytearray:
        path = os.path.join(self.root, relative)
        link = first_symlink(self.root, relative)
        if link is not None:
            raise FixtureError(f"{path}: {link!r} is a symlink; fixture files are never read through links")
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
        try:
            fd = os.open(path, flags)
        except FileNotFoundError:
            raise FileProblem(f"{path}: missing") from None
        except OSError as exc:
            raise FileProblem(f"{path}: cannot be read ({exc.strerror})") from None
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            os.close(fd)
            if not stat.S_ISREG(info.st_mode):
                raise FileProblem(f"{path}: not a regular file")
            raise FileProblem(f"{path}: {info.st_size} bytes; fixture files hold at most {limit}")
        with os.fdopen(fd, "rb", buffering=0) as handle:
            data = bytearray(info.st_size)
            if handle.readinto(data) != info.st_size or handle.read(1):
                raise FileProblem(f"{path}: changed size while being read")
        return data


def manifest_sha256(root=None) -> str:
    """The sha256 of a fixture set's manifest.json bytes: the set's identity (it lists every
    file's sha256), recorded in reports."""
    return hashlib.sha256(Folder(fixture_root(root)).read("manifest.json")).hexdigest()
