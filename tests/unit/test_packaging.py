"""The package's declared dependencies cover what it imports; the layering holds; files stay small."""

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "hpa_sklearn"


def _imported_modules():
    """Top-level names of every absolute import in hpa_sklearn (the module doing it too)."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(path.relative_to(ROOT).as_posix())
    return found


def _declared():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    return {re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].lower().replace("_", "-")
            for r in requirements}


def test_every_third_party_import_is_a_declared_dependency():
    distributions = importlib.metadata.packages_distributions()
    declared = _declared()
    missing = {}
    for module, where in _imported_modules().items():
        if module in sys.stdlib_module_names or module in ("hpa_sklearn", "__future__"):
            continue
        names = {d.lower().replace("_", "-") for d in distributions.get(module, [])}
        if not names:
            missing[module] = sorted(where)  # not installed here: cannot be declared by name
        elif not names & declared:
            missing[module] = sorted(where)
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"


def test_no_module_is_longer_than_700_lines():
    long = {p.relative_to(ROOT).as_posix(): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 700}
    assert not long, long


# lower layers never import upper ones (the docs' "How the code is organised" page)
_LAYERS = [
    ("domain", ["_constants.py", "_arrays.py", "exceptions.py", "_warnings.py"]),
    ("io", ["_io/"]),
    ("data", ["datasets/"]),
    ("engine", ["_engine/"]),
]
_UPPER = {
    "domain": ("_io", "datasets", "_engine", "classifier", "vgg16", "ensemble", "thresholds",
               "preprocessing", "model_selection", "metrics", "report", "workflows", "cli",
               "_persistence", "recipes", "parallel"),
    "io": ("datasets", "_engine", "classifier", "vgg16", "ensemble", "thresholds",
           "preprocessing", "model_selection", "report", "workflows", "cli", "_persistence",
           "recipes"),
    "data": ("_engine", "classifier", "vgg16", "ensemble", "thresholds", "preprocessing",
             "model_selection", "report", "workflows", "cli", "_persistence", "recipes"),
    "engine": ("classifier", "vgg16", "ensemble", "thresholds", "preprocessing",
               "model_selection", "report", "workflows", "cli", "_persistence", "recipes",
               "datasets"),
}


def _relative_imports(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = path.relative_to(PACKAGE).parent.parts
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = list(package[: len(package) - (node.level - 1)])
            target = base + (node.module.split(".") if node.module else [])
            if not node.module:
                targets = [base + [alias.name] for alias in node.names]
            else:
                targets = [target]
            for parts in targets:
                if parts:
                    yield parts[0]


@pytest.mark.parametrize("layer, members", _LAYERS, ids=[name for name, _ in _LAYERS])
def test_a_layer_imports_nothing_above_it(layer, members):
    offenders = []
    for member in members:
        paths = sorted((PACKAGE / member).rglob("*.py")) if member.endswith("/") else [
            PACKAGE / member]
        for path in paths:
            for first in _relative_imports(path):
                if first in _UPPER[layer]:
                    offenders.append(f"{path.relative_to(ROOT)} imports {first}")
    assert not offenders, offenders
