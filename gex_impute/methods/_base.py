"""Base class shared by every imputation method: parameters, fit / predict and their checks.

``save`` / ``load`` come from :class:`~gex_impute.methods._persistence.PersistenceMixin`,
``calibrate`` / ``predict_interval`` from :class:`~gex_impute.methods._interval_api.IntervalMixin`.
"""

from __future__ import annotations

import inspect
import logging
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from .._data import ExpressionData, Orientation, from_anndata, resolve_keys, to_input_units
from ..errors import DataError, NotFittedError
from ._interval_api import IntervalMixin
from ._params import Constraint, validate_params
from ._persistence import PersistenceMixin
from ._registry import _REGISTRY, _load_builtin_methods, available_methods, get_method, register

if TYPE_CHECKING:
    from anndata import AnnData

logger = logging.getLogger("gex_impute")

# _REGISTRY and _load_builtin_methods stay importable from here (the CLI and tests read them)
__all__ = [
    "_REGISTRY",
    "BaseImputer",
    "NotFittedError",
    "_load_builtin_methods",
    "available_methods",
    "get_method",
    "register",
]


class BaseImputer(IntervalMixin, PersistenceMixin):
    """Common interface: ``fit`` on data with missing entries, ``predict`` a complete matrix.

    Subclasses implement ``_fit`` and ``_predict`` on :class:`~gex_impute._data.ExpressionData`
    (samples x genes, model scale). ``_predict`` returns a finite prediction for every entry
    and records in ``n_fallback_`` how many *missing* entries had to use the method's fallback.

    Parameters are declared once per class: defaults in the signature, allowed values in
    ``_parameter_constraints`` (see :mod:`gex_impute.methods._params`), documentation in the
    numpydoc ``Parameters`` section. They are checked at construction and by :meth:`set_params`.
    """

    name: ClassVar[str] = ""
    #: whether the method needs genomic coordinates in ``var`` (chrom, tss, strand)
    requires_coordinates: ClassVar[bool] = False
    #: whether the method needs a donor column
    requires_donor: ClassVar[bool] = False
    #: allowed values of each constructor parameter
    _parameter_constraints: ClassVar[dict[str, list[Constraint | None]]] = {}

    n_fallback_: int = 0

    # -- sklearn-style parameters -------------------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values() if p.name != "self" and p.kind != p.VAR_KEYWORD]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Hyperparameters of this method (sklearn convention)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> BaseImputer:
        """Set hyperparameters (sklearn convention); checked first, nothing changes when one is invalid.

        Raises
        ------
        ParameterError
            An unknown name or an invalid value (the message names it and what is valid).
        """
        validate_params(type(self).__name__, self._constraints(), params)
        self._check_params_together({**self.get_params(), **params})
        for key, value in params.items():
            setattr(self, key, value)
        return self

    @classmethod
    def _constraints(cls) -> dict[str, list[Constraint | None]]:
        return {k: cls._parameter_constraints.get(k, [object_constraint]) for k in cls._param_names()}

    def _validate_params(self) -> None:
        """Check every parameter (call at the end of ``__init__``)."""
        params = self.get_params()
        validate_params(type(self).__name__, self._constraints(), params)
        self._check_params_together(params)

    @classmethod
    def _check_params_together(cls, params: dict[str, Any]) -> None:
        """Check combinations of parameters (each valid alone); raise ParameterError."""

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"

    # -- public API ---------------------------------------------------------------------------
    def fit(
        self,
        adata: AnnData | ExpressionData,
        *,
        tissue_key: str | None = None,
        donor_key: str | Literal[False] | None = None,
        layer: str | None = None,
        log_transform: bool | Literal["auto"] = "auto",
    ) -> BaseImputer:
        """Fit the method on ``adata``; missing entries are NaN.

        Parameters
        ----------
        adata
            AnnData (either orientation) or already prepared :class:`ExpressionData`.
        tissue_key, donor_key, layer, log_transform
            As in :func:`gex_impute.tl.impute`: a key left None reads the one registered with
            :func:`gex_impute.pp.register_keys` (else ``"tissue"``, the ``"donor"`` column
            where there is one, ``X``);
            ``log_transform="auto"`` models log1p of count- or TPM-like values.

        Returns
        -------
        The fitted method; it records ``gene_ids_``, ``tissues_``, ``has_donor_``, ``donor_key_``
        (the donor column of an AnnData, which :meth:`predict` and :func:`gex_impute.tl.impute` then
        read by default) and ``log1p_``.
        """
        data, _ = self._as_data(adata, tissue_key, donor_key, layer, log_transform)
        self._check_data(data)
        self.gene_ids_ = [str(g) for g in data.var.index]
        self.tissues_ = [str(t) for t in data.tissue.categories]
        self.has_donor_ = data.donor is not None
        donor = None if isinstance(adata, ExpressionData) else resolve_keys(adata, donor_key=donor_key)[1]
        self.donor_key_ = donor if self.has_donor_ else None
        self.__dict__.pop("calibration_", None)  # a refit invalidates the intervals' calibration
        self._fit(data)
        self.log1p_ = bool(data.log1p)
        return self

    def predict(
        self,
        adata: AnnData | ExpressionData,
        *,
        tissue_key: str | None = None,
        donor_key: str | Literal[False] | None = None,
        layer: str | None = None,
    ) -> np.ndarray:
        """Predict every entry of ``adata``.

        Parameters
        ----------
        adata
            AnnData (either orientation) or prepared :class:`ExpressionData`; the genes, tissues
            and donors are compared with those of the fit (what differs is reported).
        tissue_key, donor_key, layer
            As for :meth:`fit`; the log1p choice of the fit is reused, and with donor_key None
            (and none registered) the donor column of the fit.

        Returns
        -------
        Predictions with the shape and orientation of ``adata`` (in the input's units for an
        AnnData; on the model scale for :class:`ExpressionData`).
        """
        self._check_fitted()
        data, orientation = self._fitted_data(adata, tissue_key, donor_key, layer)
        self._check_data(data)
        self._check_compatible(data)
        pred = self._predict(data)
        if isinstance(adata, ExpressionData):
            return pred
        pred = to_input_units(pred, data.log1p)
        return pred if orientation == "samples_x_genes" else pred.T

    @property
    def fitted_donor_key(self) -> str | None:
        """The donor column of the AnnData the method was fitted on; None without donors, or if not known."""
        return getattr(self, "donor_key_", None)

    def _default_donor_key(self) -> str | Literal[False] | None:
        """Return the donor column to predict with when none is given nor registered.

        The fit's column; no donors for a model fitted without; the ``"donor"`` column where
        there is one for a model fitted with donors of unknown column (prepared data).
        """
        return self.fitted_donor_key or (None if getattr(self, "has_donor_", False) else False)

    @property
    def is_fitted(self) -> bool:
        """Whether :meth:`fit` (or :meth:`load`) has run."""
        return hasattr(self, "log1p_")

    # -- checks -------------------------------------------------------------------------------
    @staticmethod
    def _as_data(adata, tissue_key, donor_key, layer, log_transform) -> tuple[ExpressionData, Orientation]:
        if isinstance(adata, ExpressionData):
            return adata, "samples_x_genes"
        return from_anndata(
            adata, tissue_key=tissue_key, donor_key=donor_key, layer=layer, log_transform=log_transform
        )

    def _fitted_data(self, adata, tissue_key, donor_key, layer) -> tuple[ExpressionData, Orientation]:
        """:meth:`_as_data` for a fitted method: its log1p choice, and its donor column by default."""
        if not isinstance(adata, ExpressionData) and donor_key is None:
            donor_key = resolve_keys(adata, default_donor_key=self._default_donor_key())[1] or False
        return self._as_data(adata, tissue_key, donor_key, layer, self.log1p_)

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            cls = type(self).__name__
            msg = f"this {cls} is not fitted yet; call fit(adata) or {cls}.load(path) first."
            raise NotFittedError(msg)

    def _check_data(self, data: ExpressionData) -> None:
        if self.requires_coordinates:
            missing = [c for c in ("chrom", "tss", "strand") if c not in data.var.columns]
            if missing:
                msg = (
                    f"method {self.name!r} needs gene coordinates, but var lacks {missing}; "
                    "run gex_impute.pp.annotate_genes(adata, annotation) first."
                )
                raise DataError(msg)
        if self.requires_donor and data.donor is None:
            msg = f"method {self.name!r} needs donors; pass donor_key= naming the donor column."
            raise DataError(msg)

    def _check_compatible(self, data: ExpressionData) -> None:
        """Compare ``data`` with what the method was fitted on; log what differs.

        Methods whose fitted state depends on the tissues or genes override this and raise
        :class:`~gex_impute.errors.DataError` where the difference matters.
        """
        diff = describe_differences(self, data)
        if diff:
            logger.warning("%s: the data differ from those it was fitted on: %s", type(self).__name__, diff)

    # -- to implement -------------------------------------------------------------------------
    def _fit(self, data: ExpressionData) -> None:
        raise NotImplementedError

    def _predict(self, data: ExpressionData) -> np.ndarray:
        raise NotImplementedError


class _AnyValue(Constraint):
    """Accept anything (parameters of unregistered subclasses without constraints)."""

    type_name = "object"

    def is_satisfied_by(self, value: Any) -> bool:  # noqa: D102
        return True

    def describe(self) -> str:  # noqa: D102
        return "any value"

    def to_dict(self) -> dict[str, Any]:  # noqa: D102
        return {"type": "any"}

    def parse(self, text: str) -> str:  # noqa: D102
        return text


object_constraint = _AnyValue()


def describe_differences(model: BaseImputer, data: ExpressionData) -> str:
    """Say which genes and tissues of ``data`` differ from those ``model`` was fitted on ('' if none)."""
    parts = []
    genes = [str(g) for g in data.var.index]
    fitted_genes = list(getattr(model, "gene_ids_", genes))
    if genes != fitted_genes:
        known, now = set(fitted_genes), set(genes)
        new = [g for g in genes if g not in known]
        absent = [g for g in fitted_genes if g not in now]
        if new or absent:
            parts.append(f"{len(new)} new genes (e.g. {new[:3]}), {len(absent)} absent (e.g. {absent[:3]})")
        else:
            parts.append("the same genes in another order")
    tissues = sorted(set(map(str, data.tissue.categories)) - set(getattr(model, "tissues_", [])))
    if tissues and hasattr(model, "tissues_"):
        parts.append(f"tissues not seen at fit: {tissues} (fitted on {list(model.tissues_)})")
    return "; ".join(parts)
