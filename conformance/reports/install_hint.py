"""The command that installs one of samspec's extras, for how this samspec was installed.

samspec is installed from its repository, not from a package index: ``pip install 'samspec[figures]'``
finds no distribution (and would install whatever someone published under that name). The hint is read
from pip's record of this install (``direct_url.json``, PEP 610): an editable install from a checkout
gets ``pip install -e '<checkout>[figures]'``, a local folder ``pip install '<folder>[figures]'``, a Git
URL ``pip install 'samspec[figures] @ git+<url>'``.
"""

from __future__ import annotations

import json
import shlex
from importlib import metadata
from urllib.parse import unquote, urlparse


def _direct_url() -> dict:
    try:
        text = metadata.distribution("samspec").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return {}
    try:
        return json.loads(text) if text else {}
    except ValueError:
        return {}


def install_command(extra: str) -> str:
    """The pip command that adds ``extra`` to this samspec (never a bare ``samspec[extra]`` from an index)."""
    record = _direct_url()
    url = record.get("url") or ""
    if url.startswith("file://"):
        folder = unquote(urlparse(url).path)
        editable = "-e " if (record.get("dir_info") or {}).get("editable") else ""
        return f"pip install {editable}{shlex.quote(f'{folder}[{extra}]')}"
    if record.get("vcs_info"):
        vcs = record["vcs_info"].get("vcs", "git")
        commit = record["vcs_info"].get("commit_id")
        at = f"@{commit}" if commit else ""
        return f"pip install {shlex.quote(f'samspec[{extra}] @ {vcs}+{url}{at}')}"
    return f"pip install -e '<your samspec checkout>[{extra}]' (samspec is installed from its repository, README.md)"


def missing_package_hint(package: str, extra: str) -> str:
    """One line for a missing optional package: what is missing and the command that installs it."""
    return f"{package} is not installed: {install_command(extra)}"
