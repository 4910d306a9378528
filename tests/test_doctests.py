"""The examples in docstrings run, and say what they show."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

import propensity

ROOT = Path(propensity.__file__).parent


def _with_examples() -> list[str]:
    names = []
    for module in pkgutil.walk_packages(propensity.__path__, "propensity."):
        parts = module.name.split(".")[1:]
        folder = ROOT.joinpath(*parts)
        source = folder / "__init__.py" if folder.is_dir() else folder.with_suffix(".py")
        if source.is_file() and ">>> " in source.read_text(encoding="utf-8"):
            names.append(module.name)
    return sorted(names)


EXAMPLES = _with_examples()


def test_examples_are_found():
    assert "propensity.modeling.preparation" in EXAMPLES


@pytest.mark.parametrize("name", EXAMPLES)
def test_docstring_examples_hold(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples fail"
