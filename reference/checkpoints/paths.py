"""Paths inside a folder: a relative path that is normalised and stays inside, with no symlink on the
way (checked on the string and with ``lstat`` inside the folder; the outside is never touched).
conformance/cases borrows these for fixture folders."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .tensors import CheckpointError


def relative_path_problem(relative: object) -> str | None:
    """Why ``relative`` is not a normalised relative POSIX path that stays inside its folder
    ('a/b.npy': no leading '/', drive, '..', '.', '//' or backslash), or None. The string alone is
    examined: nothing is opened or stat'ed, so the answer never depends on what exists outside."""
    if not isinstance(relative, str) or not relative:
        return f"expected a relative file path; found {relative!r}"
    if relative.startswith(("/", "\\")) or (len(relative) > 1 and relative[1] == ":"):
        return f"{relative!r} is an absolute path; paths are relative to the folder"
    parts = relative.split("/")
    if ".." in parts:
        return f"{relative!r} contains '..'; paths stay inside the folder"
    if "\\" in relative or "\x00" in relative or any(p in ("", ".") for p in parts):
        return f"{relative!r} is not a normalised path (such as 'a/b.npy': no '.', '//' or backslash)"
    return None


def first_symlink(root: Path, relative: str) -> str | None:
    """The first leading part of ``relative`` under ``root`` that is a symlink, or None; each part
    is ``lstat``-ed inside ``root`` (never followed), stopping at the first that does not exist."""
    parts = relative.split("/")
    inner = os.fspath(root)
    for depth, part in enumerate(parts, 1):
        inner = os.path.join(inner, part)
        try:
            mode = os.lstat(inner).st_mode
        except OSError:
            return None
        if stat.S_ISLNK(mode):
            return "/".join(parts[:depth])
    return None


def _inside(folder: Path, relative: str, where: str) -> Path:
    """``folder / relative`` for a path named by a file of the folder (confined, no symlink)."""
    problem = relative_path_problem(relative)
    if problem is None and first_symlink(folder, relative) is not None:
        problem = f"{first_symlink(folder, relative)!r} is a symlink; no checkpoint file is read through a link"
    if problem is not None:
        raise CheckpointError(f"{where}: {problem}")
    return folder / relative
