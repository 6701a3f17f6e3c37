"""Imputation methods behind one interface (``fit`` / ``predict`` / ``save`` / ``load``), registered by name.

- :mod:`~gex_impute.methods.simple`: ``mean``, ``additive``;
- :mod:`~gex_impute.methods.neighbours`: ``distance``, ``nearest_gene``;
- :mod:`~gex_impute.methods.knn`: ``knn`` (over genes); :mod:`~gex_impute.methods.samples`:
  ``knn_samples`` (over samples);
- :mod:`~gex_impute.methods.softimpute`: ``softimpute``; :mod:`~gex_impute.methods.pca_regression`:
  ``pca_regression``;
- :mod:`~gex_impute.methods.hybrid`: ``hybrid`` (promoter CNN + XGBoost; an optional tissue
  transformer, off by default).

:func:`registry` / :func:`~gex_impute.methods.method_spec` describe every method and parameter (defaults,
constraints, documentation); :func:`coerce_params` reads command-line strings;
:func:`load_model` reads any saved model.
"""

from __future__ import annotations

import os

from ._base import BaseImputer, NotFittedError
from ._registry import (
    MethodSpec,
    ParamSpec,
    available_methods,
    coerce_params,
    get_method,
    method_spec,
    register,
    registry,
)

__all__ = [
    "BaseImputer",
    "MethodSpec",
    "NotFittedError",
    "ParamSpec",
    "available_methods",
    "coerce_params",
    "get_method",
    "load_model",
    "method_spec",
    "register",
    "registry",
]


def load_model(path: str | os.PathLike) -> BaseImputer:
    """Read a model of any method saved with ``BaseImputer.save`` (zip file or folder).

    The method is named in the archive's ``params.json``; see
    :meth:`~gex_impute.methods.BaseImputer.load` for the checks made.

    Parameters
    ----------
    path
        Zip file or folder.

    Returns
    -------
    The fitted method, ready to ``predict``.

    Examples
    --------
    >>> from gex_impute.methods import load_model
    >>> model = load_model("model.zip")  # doctest: +SKIP
    """
    return BaseImputer.load(path)
