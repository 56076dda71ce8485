"""pytest-boxkoji: a real, throwaway Koji build system as pytest fixtures."""

__version__ = "0.1.0"
