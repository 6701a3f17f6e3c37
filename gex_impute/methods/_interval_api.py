"""The interval part of every method's API: ``calibrate`` and ``predict_interval``.

:class:`IntervalMixin` gives :class:`~gex_impute.methods.BaseImputer` its interval methods; the
calibration procedure is :mod:`gex_impute.methods.intervals`, its building blocks
:mod:`gex_impute.methods._conformal`.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, Literal, Self, cast

import numpy as np

from .._data import ExpressionData, to_input_units

if TYPE_CHECKING:
    from anndata import AnnData

    from .._data import Orientation
    from ._base import BaseImputer

__all__ = ["IntervalMixin"]


class IntervalMixin:
    """``calibrate`` / ``predict_interval`` / ``is_calibrated`` of every method."""

    if TYPE_CHECKING:  # provided by BaseImputer
        log1p_: bool
        calibration_: Any

        def _check_fitted(self) -> None: ...
        def _check_data(self, data: ExpressionData) -> None: ...
        def _check_compatible(self, data: ExpressionData) -> None: ...
        def _predict(self, data: ExpressionData) -> np.ndarray: ...
        def get_params(self, deep: bool = True) -> dict[str, Any]: ...
        def _fitted_data(self, adata, tissue_key, donor_key, layer) -> tuple[ExpressionData, Orientation]: ...

    def calibrate(
        self,
        adata: AnnData | ExpressionData,
        *,
        patterns: tuple[str, ...] | None = None,
        fraction: float = 0.05,
        n_rounds: int | Literal["auto"] = "auto",
        tissue_key: str | None = None,
        donor_key: str | Literal[False] | None = None,
        layer: str | None = None,
    ) -> Self:
        """Calibrate prediction intervals on ``adata`` (split conformal, ``methods.intervals``).

        Observed entries are hidden the way the missing ones are missing (whole genes, whole
        donor x tissue profiles, scattered entries), a clone of the method is refitted once per
        pattern and round, and its errors on the hidden entries become the calibration, kept
        in ``calibration_`` and saved with the model. :meth:`predict_interval` calls this
        itself, on the data it is given, when a pattern it needs is not calibrated yet.

        Parameters
        ----------
        adata
            The data (usually those of the fit); AnnData or :class:`ExpressionData`.
        patterns
            Patterns to calibrate among ``("genes", "profiles", "entries")``; None: those of
            the missing entries of ``adata``. Patterns calibrated before are kept.
        fraction
            Share of each pattern's units hidden per refit, on top of what is missing.
        n_rounds
            Refits per pattern, each hiding other units (more scores, more time); ``"auto"``:
            enough to hide 25 genes or profiles, at most 10 (one from 500 on).
        tissue_key, donor_key, layer
            As for :meth:`fit`.

        Returns
        -------
        The method, with ``calibration_`` set.

        Examples
        --------
        >>> import gex_impute as gi
        >>> adata = gi.datasets.simulate(n_donors=4, n_tissues=3, n_genes=100)
        >>> model = gi.get_method("mean").fit(adata).calibrate(adata, patterns=("entries",))
        >>> model.calibration_.patterns
        ('entries',)
        """
        from .intervals import calibrate

        self._check_fitted()
        data, _ = self._fitted_data(adata, tissue_key, donor_key, layer)
        self._check_data(data)
        # a copy: a shallow copy of this model (as the tools use) must not add to our tables
        previous = copy.deepcopy(getattr(self, "calibration_", None))
        random_state = self.get_params().get("random_state", 0)
        self.calibration_ = calibrate(
            cast("BaseImputer", self),
            data,
            patterns=patterns,
            fraction=fraction,
            n_rounds=n_rounds,
            random_state=random_state if isinstance(random_state, int) else 0,
            calibration=previous,
        )
        return self

    def predict_interval(
        self,
        adata: AnnData | ExpressionData,
        level: float = 0.9,
        *,
        rows: np.ndarray | None = None,
        tissue_key: str | None = None,
        donor_key: str | Literal[False] | None = None,
        layer: str | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds of a prediction interval at ``level`` for every entry.

        At observed entries both bounds are the observed value; at missing entries they are
        the conformal interval around the method's prediction, calibrated for the entry's
        missingness pattern (whole gene, whole profile, scattered entry). Patterns not
        calibrated yet are calibrated first on ``adata`` (:meth:`calibrate`: refits of a clone
        per pattern, as many as 25 hidden genes or profiles need, at most 10), and kept.

        Parameters
        ----------
        adata
            AnnData or :class:`ExpressionData`, as for :meth:`predict`.
        level
            Nominal coverage, strictly between 0 and 1.
        rows
            Only these rows (sample positions), with all of ``adata`` as context.
        tissue_key, donor_key, layer
            As for :meth:`predict`.

        Returns
        -------
        ``(lower, upper)``: on the model scale, samples x genes, for :class:`ExpressionData`;
        in the input's units and orientation for an AnnData (like :meth:`predict`), ``rows``
        only when given.

        Raises
        ------
        ParameterError
            ``level`` is not strictly between 0 and 1.

        Examples
        --------
        >>> import numpy as np
        >>> import gex_impute as gi
        >>> adata = gi.datasets.simulate(n_donors=4, n_tissues=3, n_genes=100)
        >>> model = gi.get_method("mean").fit(adata)
        >>> lower, upper = model.predict_interval(adata, 0.9)
        >>> bool(np.all(lower <= upper))
        True
        """
        from .intervals import check_level, interval_bounds, needed_patterns

        level = check_level(level)
        self._check_fitted()
        data, orientation = self._fitted_data(adata, tissue_key, donor_key, layer)
        self._check_data(data)
        self._check_compatible(data)
        picked = None if rows is None else np.asarray(rows, dtype=np.int64)
        needed = needed_patterns(data, picked)
        known = getattr(self, "calibration_", None)
        missing = [p for p in needed if known is None or p not in known.patterns]
        if missing:
            self.calibrate(data, patterns=tuple(missing))
        if picked is not None and hasattr(self, "predict_rows"):
            pred = np.asarray(self.predict_rows(data, picked), dtype=np.float64)
        else:
            pred = np.asarray(self._predict(data), dtype=np.float64)
            pred = pred if picked is None else pred[picked]
        if not needed:  # nothing missing: every interval is the observed value
            lower, upper = data.values[picked] if picked is not None else data.values, None
            lower = np.array(lower)
            upper = lower.copy()
        else:
            lower, upper = interval_bounds(self.calibration_, data, pred, level, picked)
        if isinstance(adata, ExpressionData):
            return lower, upper
        lower, upper = to_input_units(lower, data.log1p), to_input_units(upper, data.log1p)
        return (lower, upper) if orientation == "samples_x_genes" else (lower.T, upper.T)

    @property
    def is_calibrated(self) -> bool:
        """Whether prediction intervals are calibrated (:meth:`calibrate` or a loaded calibration)."""
        return getattr(self, "calibration_", None) is not None
