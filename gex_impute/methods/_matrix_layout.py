"""The two layouts of the matrix-completion baselines: samples x genes, or donors x (tissue, gene).

:class:`MatrixImputer` is the base of the matrix-completion methods (:mod:`gex_impute.methods.knn`,
:mod:`~gex_impute.methods.softimpute`, :mod:`~gex_impute.methods.pca_regression`, gathered in
:mod:`gex_impute.methods.matrix`); it chooses the layout, reshapes the data to it and maps
predictions back.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .._data import ExpressionData
from ..errors import DataError
from ._base import BaseImputer
from ._fallback import finalise, group_nanmean
from ._params import Constraint, Interval, Options

__all__ = ["LAYOUTS", "SEED", "MatrixImputer", "donor_layout"]

_MAX_WIDE_ENTRIES = 30_000_000
#: the ``layout`` parameter's choices
LAYOUTS = Options("auto", "samples", "donors")
#: the ``random_state`` parameter's forms
SEED: list[Constraint | None] = [Interval(int, 0, 2**32 - 1), None]


def donor_layout(data: ExpressionData) -> tuple[ExpressionData, np.ndarray, np.ndarray]:
    """Reshape to donors x (tissue, gene): one row per donor, one block of genes per tissue.

    Samples of the same donor and tissue are averaged. Returns the wide data and each
    sample's donor and tissue codes (to map predictions back).
    """
    import pandas as pd

    donor = data.donor
    if donor is None:
        msg = "the donors x (tissue, gene) layout needs donors; pass donor_key=."
        raise DataError(msg)
    d_codes = np.asarray(donor.codes, dtype=np.int64)
    t_codes = np.asarray(data.tissue.codes, dtype=np.int64)
    n_d, n_t, n_g = len(donor.categories), len(data.tissue.categories), data.n_genes
    means, _ = group_nanmean(data.values, d_codes * n_t + t_codes, n_d * n_t)
    wide = means.reshape(n_d, n_t * n_g)
    var = pd.DataFrame(index=pd.RangeIndex(n_t * n_g).astype(str))
    obs = pd.DataFrame(index=pd.Index(donor.categories.astype(str)))
    # one pseudo-tissue: the level-1 fallback becomes the gene's mean in that tissue over donors
    tissue = pd.Categorical(np.repeat("donors", n_d))
    return ExpressionData(wide, tissue, None, obs, var, data.log1p), d_codes, t_codes


class MatrixImputer(BaseImputer):
    """Matrix-completion baselines, on samples x genes or on donors x (tissue, gene).

    ``layout="samples"`` works on the samples x genes matrix. ``layout="donors"`` (HYFA's
    setting) works on one row per donor holding all its tissues' profiles side by side, so a
    hidden donor x tissue profile is predicted from that donor's other tissues and from the
    other donors. ``"auto"`` picks ``"donors"`` when donors are known, there are at least
    three, they have on average at least two tissues, and the wide matrix stays below
    30 million entries; ``"samples"`` otherwise. The chosen layout is ``layout_``.
    """

    layout: str = "auto"
    _fitted_schema: ClassVar[dict[str, list[Constraint | None]]] = {"layout_": [Options("samples", "donors")]}
    #: which entries of the last prediction were served by the fallback (missing entries only)
    fallback_mask_: np.ndarray

    def _resolve_layout(self, data: ExpressionData) -> str:
        if self.layout == "donors" and data.donor is None:
            msg = f"{self.name}: layout='donors' needs donors; pass donor_key= or use layout='samples'."
            raise DataError(msg)
        if self.layout != "auto":
            return self.layout
        if data.donor is None:
            return "samples"
        n_d, n_t = len(data.donor.categories), len(data.tissue.categories)
        pairs = len(set(zip(np.asarray(data.donor.codes), np.asarray(data.tissue.codes), strict=True)))
        if n_d >= 3 and pairs / n_d >= 2 and n_d * n_t * data.n_genes <= _MAX_WIDE_ENTRIES:
            return "donors"
        return "samples"

    def _fit(self, data: ExpressionData) -> None:
        self.layout_ = self._resolve_layout(data)
        if self.layout_ == "donors":
            # column blocks = tissues: validation can hide whole tissue profiles, as P3 does
            self._col_groups: np.ndarray | None = np.repeat(
                np.arange(len(data.tissue.categories)), data.n_genes
            )
            self._fit_matrix(donor_layout(data)[0])
        else:
            self._col_groups = None
            self._fit_matrix(data)

    def _predict(self, data: ExpressionData) -> np.ndarray:
        layout = getattr(self, "layout_", None) or self._resolve_layout(data)
        if layout == "donors" and data.donor is None:
            layout = "samples"
        if layout == "samples":
            return self._predict_matrix(data)
        wide, d_codes, t_codes = donor_layout(data)
        wide_pred = self._predict_matrix(wide)
        n_g = data.n_genes
        cols = t_codes[:, None] * n_g + np.arange(n_g)[None, :]
        pred = wide_pred[d_codes[:, None], cols]
        wide_fb = self.fallback_mask_[d_codes[:, None], cols]
        pred, extra = finalise(pred, data)
        self.fallback_mask_ = (wide_fb | extra) & np.isnan(data.values)
        self.n_fallback_ = int(self.fallback_mask_.sum())
        return pred

    def _fit_matrix(self, data: ExpressionData) -> None:
        pass  # transductive by default

    def _predict_matrix(self, data: ExpressionData) -> np.ndarray:
        raise NotImplementedError
