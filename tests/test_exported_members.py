import inspect
import subprocess
import sys

import propensity


def test_all_is_sorted_and_every_name_resolves():
    assert propensity.__all__ == sorted(propensity.__all__)
    for name in propensity.__all__:
        assert getattr(propensity, name) is not None, name


def test_public_names_are_all_exported():
    public = {
        name
        for name in dir(propensity)
        if not name.startswith("_")
        and name != "annotations"
        and not inspect.ismodule(getattr(propensity, name))  # submodules once imported
    }
    assert public <= set(propensity.__all__)


def test_import_is_light():
    code = (
        "import sys, propensity; "
        "heavy = ('ibis', 'duckdb', 'pandas', 'pydantic', 'typer'); "
        "print(','.join(m for m in heavy if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""
