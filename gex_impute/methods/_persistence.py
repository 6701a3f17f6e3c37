"""Saving and loading fitted methods: what every method records, and the checks on loading.

:class:`PersistenceMixin` gives :class:`~gex_impute.methods.BaseImputer` its ``save`` and
``load``; the archive format and its safety checks are :mod:`gex_impute.methods._archive`. A
method declares what it saves besides its hyperparameters: ``_fitted_schema`` (JSON values with
their allowed forms, checked before anything else is read) and ``_fitted_arrays`` (``.npy``).
"""

from __future__ import annotations

import inspect
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ..errors import ModelArchiveError, ParameterError
from ._params import Boolean, Constraint, SequenceOf, Text, validate_params
from ._registry import _REGISTRY, _load_builtin_methods

logger = logging.getLogger("gex_impute")

__all__ = ["JSONValue", "MappingOf", "PersistenceMixin", "package_version"]


# -- forms of fitted values (params.json) -------------------------------------------------------
class MappingOf(Constraint):
    """A dict with string keys (exactly ``keys`` when given) and values satisfying ``value``."""

    type_name = "dict"

    def __init__(self, value: Constraint, *, keys: tuple[str, ...] | None = None, max_items: int = 1000):
        self.value, self.keys, self.max_items = value, keys, max_items

    def is_satisfied_by(self, value: Any) -> bool:
        """Whether ``value`` is such a dict."""
        if not isinstance(value, dict) or len(value) > self.max_items:
            return False
        if self.keys is not None and set(value) != set(self.keys):
            return False
        return all(isinstance(k, str) and self.value.is_satisfied_by(v) for k, v in value.items())

    def describe(self) -> str:
        """Say ``"a dict of str to a float in [0, 1]"`` and the like."""
        keys = "str" if self.keys is None else "/".join(self.keys)
        return f"a dict of {keys} to {self.value.describe()}"

    def to_dict(self) -> dict[str, Any]:
        """``{"type": "mapping", "value": {...}, "keys": [...]}``."""
        keys = None if self.keys is None else list(self.keys)
        return {"type": "mapping", "value": self.value.to_dict(), "keys": keys, "max_items": self.max_items}

    def parse(self, text: str) -> dict:
        """Not available from the command line."""
        msg = "a dict cannot be given on the command line"
        raise ValueError(msg)


class JSONValue(Constraint):
    """Plain JSON data (None, bool, number, str, list, dict) at most ``max_depth`` levels deep."""

    type_name = "json"

    def __init__(self, *, max_depth: int = 3, max_items: int = 100_000):
        self.max_depth, self.max_items = max_depth, max_items

    def _ok(self, value: Any, depth: int, budget: list[int]) -> bool:
        budget[0] -= 1
        if budget[0] < 0:
            return False
        if value is None or isinstance(value, bool | int | float | str):
            return True
        if depth >= self.max_depth:
            return False
        if isinstance(value, list):
            return all(self._ok(v, depth + 1, budget) for v in value)
        if isinstance(value, dict):
            return all(isinstance(k, str) and self._ok(v, depth + 1, budget) for k, v in value.items())
        return False

    def is_satisfied_by(self, value: Any) -> bool:
        """Whether ``value`` is such JSON data."""
        return self._ok(value, 0, [self.max_items])

    def describe(self) -> str:
        """Say ``"JSON data at most 3 levels deep"``."""
        return f"JSON data at most {self.max_depth} levels deep"

    def to_dict(self) -> dict[str, Any]:
        """``{"type": "json", "max_depth": ...}``."""
        return {"type": "json", "max_depth": self.max_depth, "max_items": self.max_items}

    def parse(self, text: str) -> Any:
        """Not available from the command line."""
        msg = "JSON data cannot be given on the command line"
        raise ValueError(msg)


#: fitted metadata every method records at ``fit`` (checked against the data at ``predict``)
_COMMON_FITTED: dict[str, list[Constraint | None]] = {
    # names as the data gave them: an empty tissue (a blank SMTSD) or a long id fits and predicts,
    # so it must load too
    "gene_ids_": [SequenceOf(Text(100_000, allow_empty=True), min_length=1, max_length=10_000_000)],
    "tissues_": [SequenceOf(Text(100_000, allow_empty=True), min_length=1, max_length=1_000_000)],
    "has_donor_": [Boolean()],
    "log1p_": [Boolean()],
}
#: optional fitted state: the prediction intervals' calibration (JSON tables + one scores array),
#: and the donor column of the fit (archives of earlier versions lack it)
_CALIBRATION_KEY, _CALIBRATION_ARRAY = "calibration_", "calibration_scores"
_DONOR_KEY = "donor_key_"
_OPTIONAL_FITTED: dict[str, list[Constraint | None]] = {
    _CALIBRATION_KEY: [JSONValue(max_depth=5)],
    _DONOR_KEY: [Text(100_000), None],
}


def package_version() -> str:
    """Return the installed gex_impute version."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gex_impute")
    except PackageNotFoundError:  # pragma: no cover - source tree that is not installed
        return "0.0.0+unknown"


class PersistenceMixin:
    """``save`` / ``load`` for imputation methods (mixed into ``BaseImputer``)."""

    name: ClassVar[str] = ""
    #: fitted values saved in params.json (besides gene ids, tissues, donors, log1p), with their forms
    _fitted_schema: ClassVar[dict[str, list[Constraint | None]]] = {}
    #: fitted arrays saved as arrays/<name>.npy
    _fitted_arrays: ClassVar[tuple[str, ...]] = ()

    if TYPE_CHECKING:  # provided by BaseImputer

        def _check_fitted(self) -> None: ...

        def get_params(self, deep: bool = True) -> dict[str, Any]: ...

    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write the fitted method to ``path``: a zip file when it ends in ``.zip``, else a folder.

        The archive (:mod:`gex_impute.methods._archive`) holds ``params.json`` (method,
        package version, hyperparameters, gene ids, tissues, fitted values), fitted arrays as
        ``.npy`` and method-specific files (the hybrid's ``nets.pt`` and ``xgboost.json``);
        no pickle. Written atomically.

        Parameters
        ----------
        path
            Zip file or folder to create.
        overwrite
            Replace an existing model at ``path``.

        Returns
        -------
        The path written.

        Examples
        --------
        >>> import gex_impute as gi
        >>> adata = gi.datasets.simulate(n_donors=4, n_tissues=3, n_genes=50)
        >>> model = gi.get_method("knn").fit(adata)
        >>> model.save("knn_model.zip")  # doctest: +SKIP
        >>> gi.methods.load_model("knn_model.zip").predict(adata).shape  # doctest: +SKIP
        (12, 50)
        """
        from ._archive import ArchiveContent, write_archive

        self._check_fitted()
        values, arrays, files = self._fitted_state()
        fitted = {k: getattr(self, k) for k in _COMMON_FITTED} | values
        fitted[_DONOR_KEY] = getattr(self, _DONOR_KEY, None)
        calibration = getattr(self, _CALIBRATION_KEY, None)
        if calibration is not None:
            fitted[_CALIBRATION_KEY], arrays[_CALIBRATION_ARRAY] = calibration.to_state()
        content = ArchiveContent(
            method=self.name,
            class_name=type(self).__name__,
            params=self.get_params(),
            fitted=fitted,
            arrays=arrays,
            files=files,
            gex_impute_version=package_version(),
        )
        return write_archive(path, content, overwrite=overwrite)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Any:
        """Read a model written by :meth:`save` (a zip file or a folder), of any registered method.

        The archive is checked before anything is allocated (see :mod:`gex_impute.methods._archive`);
        a package version other than this one is reported. Gene ids, tissues and donors are
        checked against the data at :meth:`predict`.

        Parameters
        ----------
        path
            Zip file or folder written by :meth:`save`.

        Returns
        -------
        The fitted method.

        Raises
        ------
        ModelArchiveError
            The archive is unreadable, unsafe or inconsistent, or holds another method than
            ``cls`` (use :func:`gex_impute.methods.load_model` for any method).

        Examples
        --------
        >>> from gex_impute.methods import load_model
        >>> model = load_model("model.zip")  # doctest: +SKIP
        """
        from ._archive import read_archive

        path = Path(path)
        content = read_archive(path, lambda meta: cls._check_archive_meta(path, meta))
        model_cls = _REGISTRY[content.method]
        if content.gex_impute_version != package_version():
            logger.warning(
                "model %s was saved by gex_impute %s, this is %s; predictions may differ slightly.",
                path,
                content.gex_impute_version,
                package_version(),
            )
        params = {k: tuple(v) if isinstance(v, list) else v for k, v in content.params.items()}
        model = model_cls(**params)
        for key in _COMMON_FITTED:
            setattr(model, key, content.fitted[key])
        model.donor_key_ = content.fitted.get(_DONOR_KEY)
        arrays = dict(content.arrays)
        scores = arrays.pop(_CALIBRATION_ARRAY, None)
        try:
            model._restore_state(
                {k: content.fitted[k] for k in model_cls._fitted_schema}, arrays, content.files
            )
            if scores is not None:
                from .intervals import Calibration

                try:
                    calibration = Calibration.from_state(content.fitted[_CALIBRATION_KEY], scores)
                except (ValueError, KeyError, TypeError) as err:
                    raise ModelArchiveError(f"invalid interval calibration: {err}") from None
                setattr(model, _CALIBRATION_KEY, calibration)
        except ModelArchiveError as err:
            msg = f"model {str(path)!r}: {err}"
            raise ModelArchiveError(msg) from None
        return model

    @classmethod
    def _check_archive_meta(cls, path: Path, meta: dict[str, Any]) -> None:
        """Check the method, hyperparameters, fitted values and array names of ``params.json``."""

        def fail(problem: str) -> ModelArchiveError:
            return ModelArchiveError(f"model {str(path)!r}: {problem}")

        _load_builtin_methods()
        method = meta["method"]
        if method not in _REGISTRY:
            raise fail(f"unknown method {method!r}; this gex_impute knows {sorted(_REGISTRY)}.")
        model_cls = _REGISTRY[method]
        if meta.get("class", model_cls.__name__) != model_cls.__name__:
            raise fail(
                f"it names method {method!r} but class {meta['class']!r} ({method!r} is "
                f"{model_cls.__name__}); the file was edited or damaged: save the model again."
            )
        if cls.name and not issubclass(model_cls, cls):
            raise fail(
                f"it holds a {method!r} model, not {cls.__name__}; "
                "read it with gex_impute.methods.load_model()."
            )
        params = meta["params"]
        try:
            validate_params(model_cls.__name__, model_cls._constraints(), params)
            full = {k: p.default for k, p in inspect.signature(model_cls).parameters.items()}
            model_cls._check_params_together({**full, **params})
        except ParameterError as err:
            raise fail(f"invalid hyperparameters in params.json: {err}") from None
        fitted = meta["fitted"]
        optional = {k: v for k, v in _OPTIONAL_FITTED.items() if k in fitted}
        schema = {**_COMMON_FITTED, **model_cls._fitted_schema, **optional}
        calibrated = _CALIBRATION_KEY in fitted
        unknown, missing = sorted(set(fitted) - set(schema)), sorted(set(schema) - set(fitted))
        if unknown or missing:
            raise fail(f"params.json 'fitted' has unknown keys {unknown} / lacks keys {missing}.")
        try:
            validate_params(f"{model_cls.__name__} (fitted)", schema, fitted)
        except ParameterError as err:
            raise fail(f"invalid fitted state in params.json: {err}") from None
        expected_arrays = sorted([*model_cls._fitted_arrays, *([_CALIBRATION_ARRAY] if calibrated else [])])
        if sorted(meta["arrays"]) != expected_arrays:
            raise fail(
                f"params.json lists arrays {sorted(meta['arrays'])}, "
                f"a {method!r} model has {expected_arrays}."
            )
        model_cls._check_fitted_meta({**meta, "params": {**full, **params}}, fail)

    @classmethod
    def _check_fitted_meta(cls, meta: dict[str, Any], fail) -> None:
        """Method-specific consistency checks of ``params.json`` (raise ``fail(problem)``)."""

    def _fitted_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray], dict[str, bytes]]:
        """Return the fitted values (JSON), arrays and files to save."""
        values = {k: getattr(self, k) for k in self._fitted_schema}
        arrays = {k: np.asarray(getattr(self, k)) for k in self._fitted_arrays}
        return values, arrays, {}

    def _restore_state(
        self, values: dict[str, Any], arrays: dict[str, np.ndarray], files: dict[str, bytes]
    ) -> None:
        """Set the fitted state read from an archive (checked against the schema already)."""
        for key, value in {**values, **arrays}.items():
            setattr(self, key, value)
