"""The package's exception classes: one family, so callers (and the CLI) can tell data errors apart.

Every class also derives from the built-in exception a Python user would expect
(:class:`ValueError`, :class:`KeyError`, :class:`RuntimeError`), so ``except ValueError``
keeps working; a missing input file raises Python's own :class:`FileNotFoundError`.
"""

from __future__ import annotations


class GexImputeError(Exception):
    """Base class of every error gex_impute raises on purpose (bad input, bad parameters)."""


class InputFileError(GexImputeError, ValueError):
    """A file cannot be read: wrong format, truncated, corrupt or malformed (names file and line)."""


class DataError(GexImputeError, ValueError):
    """The data (an AnnData or a table) does not satisfy the data contract."""


class KeyNotFoundError(DataError, KeyError):
    """A named column or layer (``tissue_key``, ``donor_key``, ``layer``) is not in the AnnData."""

    def __str__(self) -> str:  # the message, not KeyError's quoted repr of it
        return str(self.args[0]) if self.args else ""


class ParameterError(GexImputeError, ValueError):
    """A method or function parameter is outside its valid range or choices."""


class ModelArchiveError(GexImputeError, ValueError):
    """A saved model archive is unreadable, unsafe, or does not match the data."""


class NotFittedError(GexImputeError, RuntimeError):
    """A method was asked to predict or save before it was fitted."""


class OutputPathError(GexImputeError, ValueError):
    """An output path cannot be written (exists, is a folder, is an input, is read-only)."""


__all__ = [
    "DataError",
    "GexImputeError",
    "InputFileError",
    "KeyNotFoundError",
    "ModelArchiveError",
    "NotFittedError",
    "OutputPathError",
    "ParameterError",
]
