"""The package version (one place: the laws files record it)."""

__version__ = "0.1.0"
