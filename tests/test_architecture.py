"""The building's rules, checked mechanically (docs/architecture.md, CONTRIBUTING.md): no import
circles in samspec's own code, no file over 600 lines, no class over 250, no function over 60,
and conformance/ split into packages by concern."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"reference": "samspec.reference", "conformance": "samspec.conformance"}
MAX_FILE, MAX_CLASS, MAX_FUNCTION = 600, 250, 60


def sources():
    for folder, package in PACKAGES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield path, ".".join((package, *parts)), path.name == "__init__.py"


def imports_of(tree, module, is_package):
    """Every samspec module this module imports, at the top or inside a function."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name.startswith("samspec."))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("samspec."):
                yield target
                yield from (f"{target}.{alias.name}" for alias in node.names)


def import_graph():
    parsed = {module: (ast.parse(path.read_text()), is_package) for path, module, is_package in sources()}
    return {
        module: {target for target in imports_of(tree, module, is_package) if target in parsed and target != module}
        for module, (tree, is_package) in parsed.items()
    }


def circles(graph):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_import_circles():
    """A package's own __init__ re-exporting its modules is not a circle; a module importing a module
    that imports it back (even lazily, inside a function) is."""
    graph = import_graph()
    for module, targets in graph.items():  # a package's face: its __init__ handing names on
        graph[module] = {t for t in targets if not t.startswith(module + ".")}
    assert circles(graph) == []


def test_no_file_over_600_lines():
    long = {
        str(path.relative_to(ROOT)): n
        for path, _, _ in sources()
        if (n := len(path.read_text().splitlines())) > MAX_FILE
    }
    assert long == {}, f"files over {MAX_FILE} lines: {long}"


@pytest.mark.parametrize(
    "kind, limit",
    [
        pytest.param(ast.ClassDef, MAX_CLASS, id="class"),
        pytest.param((ast.FunctionDef, ast.AsyncFunctionDef), MAX_FUNCTION, id="function"),
    ],
)
def test_no_class_or_function_over_its_limit(kind, limit):
    long = {}
    for path, module, _ in sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, kind) and (n := node.end_lineno - node.lineno + 1) > limit:
                long[f"{path.relative_to(ROOT)}:{node.name}"] = n
    assert long == {}, f"over {limit} lines: {long}"


def test_conformance_is_split_into_packages_by_concern():
    packages = sorted(p.parent.name for p in (ROOT / "conformance").glob("*/__init__.py"))
    assert len(packages) >= 5, packages
    top = sorted(p.stem for p in (ROOT / "conformance").glob("*.py") if p.stem != "__init__")
    assert set(top) <= {"cli", "pytest_plugin", "port_text", "_moved"}, f"modules left at the top: {top}"


def test_old_module_paths_still_import_the_same_module():
    """Old paths users and docs import (samspec.conformance.check, .runner, ...) name the new module."""
    import importlib

    from samspec.conformance._moved import MOVED

    for old, new in MOVED.items():
        assert importlib.import_module(f"samspec.conformance.{old}") is importlib.import_module(
            f"samspec.conformance.{new}"
        ), old


def test_docs_architecture_names_every_package_and_only_real_paths():
    """docs/architecture.md's map matches the folder tree: every path it names exists, and every
    package under conformance/ and reference/ is named in it."""
    import re

    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:conformance|reference|fixtures|docs|tests)/[\w./]*)`", text))
    missing = sorted(path for path in named if not (ROOT / path).exists())
    assert missing == [], f"docs/architecture.md names paths that do not exist: {missing}"
    packages = sorted(
        f"{path.parent.relative_to(ROOT).as_posix()}/"
        for folder in PACKAGES
        for path in (ROOT / folder).rglob("__init__.py")
        if "__pycache__" not in path.parts
    )
    unnamed = [package for package in packages if package not in named]
    assert unnamed == [], f"packages missing from docs/architecture.md's map: {unnamed}"
