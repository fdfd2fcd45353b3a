"""The single place the package version lives (read by pyproject via hatch)."""

__version__ = "0.1.0.dev0"
