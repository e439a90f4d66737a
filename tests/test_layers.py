"""Layers call only downward: vision knows nothing of HTTP or the database; services know no HTTP."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "tagsight"

FORBIDDEN = {
    "vision": (
        "fastapi",
        "starlette",
        "sqlalchemy",
        "alembic",
        "tagsight.api",
        "tagsight.services",
        "tagsight.store",
        "tagsight.training",
        "tagsight.config",
    ),
    # Dataset formats are files in, files out: no HTTP, no database, no model code.
    "datasets": (
        "fastapi",
        "starlette",
        "sqlalchemy",
        "alembic",
        "torch",
        "tagsight.api",
        "tagsight.services",
        "tagsight.store",
        "tagsight.training",
        "tagsight.vision",
        "tagsight.config",
    ),
    "store": ("fastapi", "starlette", "tagsight.api", "tagsight.services", "tagsight.training"),
    "services": ("fastapi", "starlette", "tagsight.api"),
    "training": ("fastapi", "starlette", "tagsight.api"),
}


def imports_of(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports(layer: str) -> None:
    offenders = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        for name in imports_of(path):
            if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN[layer]):
                offenders.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert offenders == []


@pytest.mark.parametrize("module", ["tagsight.vision.runtime", "tagsight.services.prediction"])
def test_prediction_path_does_not_import_torch(module: str) -> None:
    import subprocess
    import sys

    code = f"import sys, {module}; sys.exit(1 if 'torch' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
