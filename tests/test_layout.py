"""The package's shape: imports run one way, functions and modules stay small.

Layers, lowest first (a unit may import only from lower layers and from itself):

-1. ``libraries`` (torch's and JAX's device rules, the backend's error)
0. ``backend`` (names -> namespace and device), ``files`` (atomic writes, JSON), ``_version``
1. ``nn`` (the essay's math), ``data`` (files, batches, augmentation) and ``plots``:
   siblings that never import each other (the data does not depend on the math)
2. ``persistence`` (model and checkpoint files) and ``metrics``
3. ``training``
4. ``experiments``
5. ``tuning``
6. ``cli``
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "anyarray_nn"

LAYERS: dict[str, int] = {
    "libraries": -1,  # the optional libraries' device rules, imported by backend only
    "backend": 0,
    "files": 0,
    "nn": 1,
    "data": 1,
    "plots": 1,
    "persistence": 2,
    "metrics": 2,
    "training": 3,
    "experiments": 4,
    "estimators": 4,
    "tuning": 5,
    "cli": 6,
    "_version": 0,
    "__init__": 7,
    "__main__": 7,
}

#: Libraries that only the backend module may import (the math gets ``xp`` from it).
ARRAY_LIBRARIES = ("cupy", "cupyx", "torch", "jax", "jaxlib")

#: Library fast paths, chosen behind ``array_api_compat.is_*_namespace`` (nn.steps).
FAST_PATHS = ("nn/jax_step.py", "nn/steps.py")

MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 400

MODULES = sorted(PACKAGE.rglob("*.py"))


def _unit(path: Path) -> str:
    """The top-level unit (subpackage or module) that ``path`` belongs to."""
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _imported_units(path: Path) -> set[str]:
    """Units of :mod:`anyarray_nn` that ``path`` imports (relative and absolute)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    depth = len(path.relative_to(PACKAGE).parts) - 1  # folders below the package root
    units: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                if node.level - 1 > depth:
                    continue
                here = list(path.relative_to(PACKAGE).parts[:-1])
                base = here[: len(here) - (node.level - 1)]
                parts = base + (node.module.split(".") if node.module else [])
                names = [parts] if parts else [["__init__"]]
            elif node.module and node.module.split(".")[0] == "anyarray_nn":
                names = [node.module.split(".")[1:] or [a.name for a in node.names][:1]]
            else:
                continue
            units.update(p[0] for p in names if p)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "anyarray_nn" and len(parts) > 1:
                    units.add(parts[1])
    return units


def _third_party(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_every_unit_has_a_layer() -> None:
    units = {_unit(p) for p in MODULES}
    assert units <= set(LAYERS), f"place {sorted(units - set(LAYERS))} in LAYERS"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_run_downwards(path: Path) -> None:
    unit = _unit(path)
    wrong = {
        other
        for other in _imported_units(path)
        if other != unit and LAYERS.get(other, 99) >= LAYERS[unit]
    }
    assert not wrong, f"{unit} (layer {LAYERS[unit]}) imports {sorted(wrong)}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_array_libraries_only_in_the_backend(path: Path) -> None:
    if _unit(path) in ("libraries", "backend", "data"):
        return  # the backend module, and the CuPy streaming fast path in data.batches
    if path.relative_to(PACKAGE).as_posix() in FAST_PATHS:
        return  # library fast paths beside the standard path, behind is_*_namespace
    assert not _third_party(path) & set(ARRAY_LIBRARIES)


def _code_lines(node: ast.AST, lines: list[str]) -> int:
    """Lines of code in a function: no blank lines, comments or docstrings."""
    skip: set[int] = set()
    for child in ast.walk(node):
        if (
            isinstance(child, ast.Expr)
            and isinstance(child.value, ast.Constant)
            and isinstance(child.value.value, str)
        ):
            skip.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    start = node.lineno  # the ``def`` line (decorators not counted)
    count = 0
    for number in range(start, (node.end_lineno or start) + 1):
        text = lines[number - 1].strip()
        if text and not text.startswith("#") and number not in skip:
            count += 1
    return count


def test_functions_are_short() -> None:
    long = []
    for path in MODULES:
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = _code_lines(node, lines)
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name} ({n})")
    assert not long, "functions over 60 lines of code:\n" + "\n".join(long)


def test_modules_are_short() -> None:
    long = [
        f"{p.relative_to(PACKAGE)} ({n})"
        for p in MODULES
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    ]
    assert not long, "modules over 400 lines:\n" + "\n".join(long)
