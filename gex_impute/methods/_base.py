"""Base class and registry shared by every imputation method."""

from __future__ import annotations

import inspect
import logging
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from .._data import ExpressionData, Orientation, from_anndata, to_input_units

if TYPE_CHECKING:
    from anndata import AnnData

logger = logging.getLogger("gex_impute")

_REGISTRY: dict[str, type[BaseImputer]] = {}


def register(cls: type[BaseImputer]) -> type[BaseImputer]:
    """Class decorator: make ``cls`` available under ``cls.name``."""
    if not getattr(cls, "name", None):
        msg = f"{cls.__name__} needs a class attribute `name` to be registered"
        raise TypeError(msg)
    _REGISTRY[cls.name] = cls
    return cls


def available_methods() -> list[str]:
    """Names of the registered imputation methods."""
    _load_builtin_methods()
    return sorted(_REGISTRY)


def get_method(name: str, **params: Any) -> BaseImputer:
    """Instantiate the method registered as ``name`` with ``params``."""
    _load_builtin_methods()
    if name not in _REGISTRY:
        msg = f"unknown method {name!r}; choose one of {sorted(_REGISTRY)}"
        raise ValueError(msg)
    return _REGISTRY[name](**params)


def _load_builtin_methods() -> None:
    # importing the modules runs their @register decorators; kept lazy for a fast package import
    from . import matrix, neighbours, simple  # noqa: F401

    try:
        from . import hybrid  # noqa: F401
    except ImportError as err:  # pragma: no cover - only while the hybrid module is absent
        logger.debug("hybrid method unavailable: %s", err)


class BaseImputer:
    """Common interface: ``fit`` on data with missing entries, ``predict`` a complete matrix.

    Subclasses implement :meth:`_fit` and :meth:`_predict` on :class:`~gex_impute._data.ExpressionData`
    (samples x genes, model scale). :meth:`_predict` returns a finite prediction for every entry
    and records in ``n_fallback_`` how many *missing* entries had to use the method's fallback.
    """

    name: ClassVar[str] = ""
    #: whether the method needs genomic coordinates in ``var`` (chrom, tss, strand)
    requires_coordinates: ClassVar[bool] = False
    #: whether the method needs a donor column
    requires_donor: ClassVar[bool] = False

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
        """Set hyperparameters (sklearn convention)."""
        valid = set(self._param_names())
        for key, value in params.items():
            if key not in valid:
                msg = f"invalid parameter {key!r} for {type(self).__name__}; valid: {sorted(valid)}"
                raise ValueError(msg)
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"

    # -- public API ---------------------------------------------------------------------------
    def fit(
        self,
        adata: AnnData | ExpressionData,
        *,
        tissue_key: str = "tissue",
        donor_key: str | None = None,
        layer: str | None = None,
        log_transform: bool | Literal["auto"] = "auto",
    ) -> BaseImputer:
        """Fit the method on ``adata``; missing entries are NaN.

        Parameters
        ----------
        adata
            AnnData (either orientation) or already prepared :class:`ExpressionData`.
        tissue_key, donor_key, layer, log_transform
            See :func:`gex_impute.impute`.

        Returns
        -------
        The fitted method.
        """
        data, _ = self._as_data(adata, tissue_key, donor_key, layer, log_transform)
        self._check_data(data)
        self._fit(data)
        self.log1p_ = data.log1p
        return self

    def predict(
        self,
        adata: AnnData | ExpressionData,
        *,
        tissue_key: str = "tissue",
        donor_key: str | None = None,
        layer: str | None = None,
    ) -> np.ndarray:
        """Predict every entry of ``adata``.

        Returns
        -------
        Predictions with the shape and orientation of ``adata`` (in the input's units for an
        AnnData; on the model scale for :class:`ExpressionData`).
        """
        log_transform = getattr(self, "log1p_", "auto")
        data, orientation = self._as_data(adata, tissue_key, donor_key, layer, log_transform)
        self._check_data(data)
        pred = self._predict(data)
        if isinstance(adata, ExpressionData):
            return pred
        pred = to_input_units(pred, data.log1p)
        return pred if orientation == "samples_x_genes" else pred.T

    # -- helpers ------------------------------------------------------------------------------
    @staticmethod
    def _as_data(adata, tissue_key, donor_key, layer, log_transform) -> tuple[ExpressionData, Orientation]:
        if isinstance(adata, ExpressionData):
            return adata, "samples_x_genes"
        return from_anndata(
            adata, tissue_key=tissue_key, donor_key=donor_key, layer=layer, log_transform=log_transform
        )

    def _check_data(self, data: ExpressionData) -> None:
        if self.requires_coordinates:
            missing = [c for c in ("chrom", "tss", "strand") if c not in data.var.columns]
            if missing:
                msg = (
                    f"method {self.name!r} needs gene coordinates, but var lacks {missing}; "
                    "run gex_impute.pp.annotate_genes(adata, annotation) first."
                )
                raise ValueError(msg)
        if self.requires_donor and data.donor is None:
            msg = f"method {self.name!r} needs donors; pass donor_key= naming the donor column."
            raise ValueError(msg)

    def _fit(self, data: ExpressionData) -> None:
        raise NotImplementedError

    def _predict(self, data: ExpressionData) -> np.ndarray:
        raise NotImplementedError
