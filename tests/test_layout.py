"""The package's layout: no import cycle, modules of a readable size, the README's table true."""

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "anomaly"
README = PACKAGE.parent / "README.md"
MAX_LINES = 600


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported_modules(path: Path) -> set[str]:
    """The package's modules that ``path`` imports, at the top or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                # `from anomaly import metrics` names a module; `from anomaly import load` the
                # package's __init__.
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in MODULES else node.module)
    return {name for name in found if name in MODULES}


GRAPH = {name: imported_modules(path) - {name} for name, path in MODULES.items()}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle a depth-first walk of ``graph`` (module -> modules it imports) meets."""
    cycles, done = [], set()

    def visit(name: str, trail: list[str]) -> None:
        if name in trail:
            cycles.append([*trail[trail.index(name) :], name])
            return
        if name not in done:
            for child in sorted(graph[name]):
                visit(child, [*trail, name])
            done.add(name)

    for name in sorted(graph):
        visit(name, [])
    return cycles


def test_no_import_cycle():
    cycles = find_cycles(GRAPH)
    assert not cycles, "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_imports_inside_functions_and_cycles_are_seen(tmp_path):
    module = tmp_path / "module.py"
    module.write_text("import numpy\n\ndef f():\n    from anomaly.base import BaseDetector\n")
    assert imported_modules(module) == {"anomaly.base"}
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


def test_only_the_top_knows_every_estimator():
    # The registry imports the estimators; no estimator, network or format module imports it,
    # only those that open model files for a user: the command and the batch scorer.
    importers = {name for name, imported in GRAPH.items() if "anomaly.persistence" in imported}
    assert importers <= {"anomaly", "anomaly.cli", "anomaly.batch_scoring"}
    assert not GRAPH["anomaly.model_file"] - {"anomaly._atomic"}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_are_short(name):
    lines = len(MODULES[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines"


def test_readme_layout_table_matches_the_tree():
    listed = set(re.findall(r"^\| `(anomaly/[\w/.]*)`", README.read_text(), flags=re.M))
    assert listed, "no layout table in the README"
    for entry in listed:
        assert (PACKAGE.parent / entry).exists(), f"the README lists {entry}, which is not there"
    for path in MODULES.values():
        relative = path.relative_to(PACKAGE.parent)
        if relative.name == "__init__.py" and relative.parent == Path("anomaly"):
            continue
        named = {relative.as_posix(), *(f"{parent.as_posix()}/" for parent in relative.parents)}
        assert named & listed, f"the README's layout table does not list {relative}"
