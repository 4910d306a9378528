"""The command line: one thin command per verb over :class:`propensity.project.Project`.

The commands, grouped by theme in the modules of this package, parse their options, call
``Project`` and hand what it returns to :mod:`propensity.cli.render`, which prints it.
"""

from propensity.cli._app import app, main

__all__ = ["app", "main"]
