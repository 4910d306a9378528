"""``python -m propensity.cli``: the same as the ``propensity`` console script."""

from propensity.cli import main

if __name__ == "__main__":  # pragma: no cover
    main()
