"""Reading tables and checking their quality."""

from propensity.sources.reading import Source, feature_columns, open_sources, resolve_path

__all__ = ["Source", "feature_columns", "open_sources", "resolve_path"]
