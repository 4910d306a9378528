"""Imports flow one way: ``cli`` and ``serving`` on top, ``project.py`` below them, the core
underneath. No core module may pull in the façade, the web framework, the CLI framework or
the template engine, at import or anywhere in its source."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import propensity

#: the layers above the core: the shells, the façade and the pages
TOP = ("propensity.cli", "propensity.serving", "propensity.project", "propensity.reporting")
FORBIDDEN = ("propensity.project", "fastapi", "typer", "jinja2")
ROOT = Path(propensity.__file__).parent


def _core() -> list[str]:
    names = [m.name for m in pkgutil.walk_packages(propensity.__path__, "propensity.")]
    return sorted(n for n in names if not n.startswith(TOP))


def _source(name: str) -> Path:
    parts = name.split(".")[1:]
    folder = ROOT.joinpath(*parts)
    return folder / "__init__.py" if folder.is_dir() else folder.with_suffix(".py")


CORE = _core()


def test_the_core_is_found():
    assert {"propensity.spec", "propensity.monitoring.check", "propensity.modeling.training"} <= (
        set(CORE)
    )


def _named(name: str) -> set[str]:
    """Every module ``name``'s source imports, at the top, in functions or for typing."""
    tree = ast.parse(_source(name).read_text(encoding="utf-8"))
    named = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            named |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            named.add(node.module)
            # ``from propensity import Project`` reaches the façade through the package
            if node.module == "propensity":
                named |= {f"propensity.{a.name}" for a in node.names}
    return named


@pytest.mark.parametrize("name", CORE)
def test_no_core_module_names_an_upper_layer(name):
    """Also imports inside functions and under TYPE_CHECKING: a call back up is a cycle."""
    named = _named(name)
    bad = sorted(n for n in named if n.startswith(FORBIDDEN) or n.startswith(TOP))
    bad += sorted(n for n in named if n in ("propensity.Project", "propensity.BuildResult"))
    assert not bad, f"{name} imports {bad}"


PAGES = ["propensity.reporting"] + [
    m.name for m in pkgutil.walk_packages([str(ROOT / "reporting")], "propensity.reporting.")
]


@pytest.mark.parametrize("name", PAGES)
def test_pages_take_results_not_the_facade(name):
    """``reporting/`` renders what it is given; it never reaches up for a Project."""
    named = _named(name)
    bad = sorted(
        n
        for n in named
        if n.startswith(("propensity.project", "propensity.cli", "propensity.serving"))
        or n in ("propensity.Project", "fastapi", "typer")
    )
    assert not bad, f"{name} imports {bad}"


def test_importing_the_whole_core_loads_no_upper_layer():
    code = (
        "import importlib, sys\n"
        f"for name in {CORE!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(sorted(m for m in sys.modules if m.startswith({FORBIDDEN!r})))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout
