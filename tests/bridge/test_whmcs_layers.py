"""The WHMCS adapter's imports: no web layer, no other module's private names."""

from __future__ import annotations

import ast
from pathlib import Path

API = Path(__file__).parents[2] / "bridge" / "api"


def _imports(path: Path) -> list[ast.Import | ast.ImportFrom]:
    return [n for n in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(n, ast.Import | ast.ImportFrom)]


def test_the_api_never_imports_the_web_layer() -> None:
    for path in API.rglob("*.py"):
        for node in _imports(path):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            assert not [n for n in names if n == "bridge.web" or n.startswith("bridge.web.")], path


def test_the_api_imports_no_private_name_of_another_module() -> None:
    for path in API.rglob("*.py"):
        for node in _imports(path):
            if isinstance(node, ast.ImportFrom):
                private = [a.name for a in node.names if a.name.startswith("_") and a.name != "__version__"]
                assert not private, f"{path.relative_to(API)} imports {private} from {node.module}"
