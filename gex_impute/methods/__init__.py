"""Imputation methods behind one interface (``fit`` / ``predict``), registered by name."""

from ._base import BaseImputer, available_methods, get_method, register

__all__ = ["BaseImputer", "available_methods", "get_method", "register"]
