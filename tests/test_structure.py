"""The layout rules import-linter cannot see (docs/internals.md, "Layers"): no module imports a
private name of another of our modules, and a function-local import says why it is there.

import-linter (``lint-imports`` in scripts/test.sh) checks the layers and that no package has an
import circle; these two are about how the imports are written.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bridge", "mock_solusvm", "contracts")


def _sources() -> Iterator[tuple[Path, str, ast.Module]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            yield path.relative_to(ROOT), text, ast.parse(text)


def _ours(module: str | None) -> bool:
    return bool(module) and str(module).split(".")[0] in PACKAGES


def test_no_module_imports_a_private_name_of_another() -> None:
    found = []
    for path, _text, tree in _sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and _ours(node.module):
                found += [f"{path}:{node.lineno} {node.module}.{alias.name}" for alias in node.names
                          if alias.name.startswith("_") and not alias.name.startswith("__")]
    assert found == []


def _function_local_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    for func in ast.walk(tree):
        if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(func):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    yield node


def _has_reason(lines: list[str], node: ast.Import | ast.ImportFrom) -> bool:
    """A comment on the import's own lines, or in the comment block right above it (an import
    right below another function-local import shares that import's reason)."""
    assert node.end_lineno is not None
    if any("#" in line for line in lines[node.lineno - 1:node.end_lineno]):
        return True
    above = node.lineno - 2
    while above >= 0:
        line = lines[above].strip()
        if line.startswith("#"):
            return True
        if line.startswith(("from ", "import ")) or (line and line[0] in "() " and "import" in line):
            above -= 1
            continue
        if line.endswith(",") or line == ")":
            above -= 1
            continue
        return False
    return False


def test_function_local_imports_say_why() -> None:
    """Deferred imports hide dependencies (and circles) from the reader: each one carries a
    written reason (start-up cost of a CLI command, an optional extra, a heavy library)."""
    missing = []
    for path, text, tree in _sources():
        lines = text.splitlines()
        missing += [f"{path}:{node.lineno}: {lines[node.lineno - 1].strip()}"
                    for node in _function_local_imports(tree) if not _has_reason(lines, node)]
    assert missing == [], "\n".join(missing)


@pytest.mark.parametrize("snippet, reason", [
    ("def f():\n    from bridge import db\n", False),
    ("def f():\n    # heavy: loads Flask\n    from bridge import db\n", True),
    ("def f():\n    # heavy: loads Flask\n    from bridge import db\n    from bridge import app\n", True),
    ("def f():\n    from bridge import db  # heavy\n", True),
    ("def f():\n    x = 1\n    from bridge import db\n", False),
])
def test_the_reason_check_itself(snippet: str, reason: bool) -> None:
    tree = ast.parse(snippet)
    node = list(_function_local_imports(tree))[-1]  # the last import of the snippet
    assert _has_reason(snippet.splitlines(), node) is reason
