"""Profile storage and a one-entry cache of :class:`~.profiles.ProfileFeatures`.

:class:`UnitProfiles` keeps only the observed donor x tissue profiles (``float32``, one row per
observed unit, NaN = gene not measured) plus one all-NaN row that absent units point to, so a
GTEx-sized cohort (948 donors x 54 tissues x 20,000 genes, two thirds of the units absent)
needs about 1.4 GB instead of a dense 4 GB (``float32``) or 8 GB (``float64``) cube.

``complete()`` predicts block by block with the same observed data (padded with all-NaN rows
for the block's absent profiles); :func:`profile_features` builds the features of a cohort
once and serves them again as long as the data are the same (a :class:`~.cohort_cache.CohortCache`:
same underlying array, held by a weak reference, so a freed array never matches; same observed
rows, unit codes and a strided sample of their values). Only the last cohort is kept.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import numpy as np

from .bases import pooled_correlation
from .cohort_cache import CohortCache
from .masking import Layout

if TYPE_CHECKING:
    from .profiles import ProfileFeatures

__all__ = [
    "PREDICT_CHUNK",
    "donor_runs",
    "model_profile_features",
    "DonorDistances",
    "UnitProfiles",
    "cached_profile_features",
    "clear_profile_cache",
    "observed_rows",
    "MIN_PAIRS",
    "TissueCorrelation",
    "profile_features",
]

#: entries of absent profiles whose features are built and predicted at a time (bounds memory).
#: 2^17 (was 2^20): XGBoost predicts a chunk in its worker thread while the next one's features
#: are built, so only the last chunk's prediction is waited for (the speed cohort's 600,000
#: absent entries were one chunk, predicted after all features); the same values
PREDICT_CHUNK = 1 << 17
#: rows x columns of the value sample that enters the fingerprint (at most)
_SAMPLE_ROWS, _SAMPLE_COLS = 512, 256


def observed_rows(values: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """Return the indices of the rows with at least one observed value (no full-size temporaries).

    Rows with a value among every 64th column are observed for sure; only the others are
    checked in full.
    """
    n, p = values.shape
    step = max(1, p // 256)
    seen = np.zeros(n, dtype=bool)
    for a in range(0, n, chunk):
        seen[a : a + chunk] = ~np.isnan(values[a : a + chunk, ::step]).all(1)
    rest = np.flatnonzero(~seen)
    for a in range(0, len(rest), chunk):
        idx = rest[a : a + chunk]
        seen[idx] = ~np.isnan(values[idx]).all(1)
    return np.flatnonzero(seen)


class UnitProfiles:
    """Mean profile of every observed (donor, tissue) unit, ``float32``.

    Parameters
    ----------
    values
        ``(n, p)`` samples x genes, NaN = missing.
    layout
        Tissue and donor codes of the samples (donors required).
    rows
        The rows of ``values`` with any observed value (default: found here).
    chunk
        Genes summed at a time (bounds the temporaries).

    Attributes
    ----------
    prof
        ``(U + 1, p)`` profile means of the ``U`` observed units; row ``U`` is all NaN.
    row_of
        ``(n_donors, n_tissues)`` row of ``prof`` of each unit (``U`` where absent).
    observed
        ``(n_donors, n_tissues)`` whether the unit has any value.
    """

    def __init__(
        self, values: np.ndarray, layout: Layout, *, rows: np.ndarray | None = None, chunk: int = 512
    ):
        from scipy import sparse

        assert layout.donor is not None
        n_d, n_t = layout.n_donors, layout.n_tissues
        p = values.shape[1]
        rows = observed_rows(values) if rows is None else rows
        donor = np.asarray(layout.donor[rows], dtype=np.int64)
        tissue = np.asarray(layout.tissue[rows], dtype=np.int64)
        unit = donor * n_t + tissue
        ok = (donor >= 0) & (tissue >= 0)
        rows, unit = rows[ok], unit[ok]
        units, inverse = np.unique(unit, return_inverse=True)
        n_u = len(units)
        onehot = sparse.csr_matrix(
            (np.ones(len(rows)), (inverse, np.arange(len(rows)))), shape=(n_u, len(rows))
        )
        prof = np.full((n_u + 1, p), np.nan, dtype=np.float32)
        for a in range(0, p, chunk):
            block = values[rows, a : a + chunk]
            obs = ~np.isnan(block)
            s = np.asarray(onehot @ np.where(obs, block, 0.0))
            c = np.asarray(onehot @ obs.astype(np.float64))
            with np.errstate(invalid="ignore", divide="ignore"):
                prof[:n_u, a : a + chunk] = np.where(c > 0, s / np.maximum(c, 1), np.nan)
        row_of = np.full(n_d * n_t, n_u, dtype=np.int64)
        row_of[units] = np.arange(n_u)
        self.prof = prof
        self.row_of = row_of.reshape(n_d, n_t)
        self.observed = self.row_of < n_u
        self.n_units = n_u

    def donor(self, d: int) -> np.ndarray:
        """``(n_tissues, p)`` profiles of donor ``d`` (NaN rows for its absent units)."""
        return self.prof[self.row_of[d]]

    def tissue(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """``(donors, (len(donors), p) profiles)`` of the donors observed in tissue ``t``."""
        donors = np.flatnonzero(self.observed[:, t])
        return donors, self.prof[self.row_of[donors, t]]


#: entries observed in both tissues a tissue correlation needs at least (NaN otherwise)
MIN_PAIRS = 20


class TissueCorrelation:
    """Tissue x tissue correlation of donor residual profiles, pooled over donors and ``genes``.

    Residuals are against ``tm`` (``(T, p)`` tissue means); each pair of tissues uses the
    entries observed in both (at least :data:`MIN_PAIRS`). Each donor's share of the sums
    (``parts``, ``(donors, 4, T, T)``: pairs, sums, sums of squares, cross products) is kept, so
    that :meth:`without` is the correlation of every other donor: the totals minus that share
    (:func:`~.bases.pooled_correlation`). Sums over donor chunks (batched matrix products), so
    the cost is ``O(T^2 D g)`` with bounded memory besides ``parts``.
    """

    def __init__(self, units: UnitProfiles, tm: np.ndarray, genes: np.ndarray):
        n_d, n_t = units.row_of.shape
        sub = units.prof if len(genes) == units.prof.shape[1] else units.prof[:, genes]
        ref = tm[:, genes]
        parts = np.zeros((n_d, 4, n_t, n_t))
        step = max(1, int(4e6 // (n_t * len(genes))))
        for a in range(0, n_d, step):
            r = sub[units.row_of[a : a + step]] - ref[None]  # (donors, T, g)
            m = ~np.isnan(r)
            r0 = np.where(m, r, 0.0)
            mf = m.astype(np.float64)
            mt, rt = mf.transpose(0, 2, 1), r0.transpose(0, 2, 1)
            parts[a : a + step, 0] = mf @ mt
            parts[a : a + step, 1] = r0 @ mt
            parts[a : a + step, 2] = (r0 * r0) @ mt
            parts[a : a + step, 3] = r0 @ rt
        self.parts = parts
        self.totals = parts.sum(0)
        #: the correlation over every donor, ``(T, T)``, NaN on the diagonal
        self.pooled = pooled_correlation(*self.totals, min_pairs=MIN_PAIRS)

    def without(self, d: int) -> np.ndarray:
        """``(T, T)`` correlation of every donor but ``d`` (residuals still from ``tm``)."""
        return pooled_correlation(*(self.totals - self.parts[d]), min_pairs=MIN_PAIRS)


class DonorDistances:
    """Per-tissue squared distances and residual cross products of the donors observed in each tissue.

    ``without(d, t)``: mean squared difference of donor ``d`` to every donor over the shared
    genes of all tissues except ``t`` (``inf`` for itself and donors sharing nothing);
    ``cross_without(d, t)``: the same mean of the product of their residuals from the tissue
    means (``-inf`` there), which :mod:`.profile_groups` ranks donors by.
    """

    def __init__(self, units: UnitProfiles, tm: np.ndarray, genes: np.ndarray):
        n_d, n_t = units.row_of.shape
        sub = units.prof if len(genes) == units.prof.shape[1] else units.prof[:, genes]
        self.s2_total, self.c2_total = np.zeros((n_d, n_d)), np.zeros((n_d, n_d))
        self.xx_total = np.zeros((n_d, n_d))
        self.donors: list[np.ndarray] = []
        self.position = np.full((n_t, n_d), -1, dtype=np.int64)
        self.s2: list[np.ndarray] = []
        self.c2: list[np.ndarray] = []
        self.xx: list[np.ndarray] = []
        for t in range(n_t):
            donors = np.flatnonzero(units.observed[:, t])
            r = sub[units.row_of[donors, t]] - tm[t, genes]
            m = ~np.isnan(r)
            x = np.where(m, r, 0.0)
            mf = m.astype(np.float64)
            x2 = x * x
            xx = x @ x.T
            s2 = np.maximum(x2 @ mf.T + mf @ x2.T - 2 * xx, 0)  # (2 * xx: exact, a power of 2)
            c2 = mf @ mf.T
            self.s2_total[np.ix_(donors, donors)] += s2
            self.c2_total[np.ix_(donors, donors)] += c2
            self.xx_total[np.ix_(donors, donors)] += xx
            self.donors.append(donors)
            self.position[t, donors] = np.arange(len(donors))
            self.s2.append(s2)
            self.c2.append(c2)
            self.xx.append(xx)

    def without(self, d: int, t: int) -> np.ndarray:
        """``(D,)`` distances of donor ``d`` without tissue ``t``."""
        return self._mean_without(d, t, self.s2, self.s2_total, np.inf)

    def cross_without(self, d: int, t: int) -> np.ndarray:
        """``(D,)`` mean residual cross products of donor ``d`` without tissue ``t``."""
        return self._mean_without(d, t, self.xx, self.xx_total, -np.inf)

    def _mean_without(
        self, d: int, t: int, sums: list[np.ndarray], total: np.ndarray, empty: float
    ) -> np.ndarray:
        """Per-pair ``sums`` over the shared genes of every tissue but ``t``, per gene (``empty``: none)."""
        s, c = total[d].copy(), self.c2_total[d].copy()
        i = self.position[t, d]
        if i >= 0:
            s[self.donors[t]] -= sums[t][i]
            c[self.donors[t]] -= self.c2[t][i]
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(c > 0, s / np.maximum(c, 1), empty)
        out[d] = empty
        return out


# -- the cache ---------------------------------------------------------------------------------
_FEATURES = CohortCache()


def clear_profile_cache() -> None:
    """Forget the cached profile features (frees their memory)."""
    _FEATURES.clear()


def cached_profile_features() -> ProfileFeatures | None:
    """Return the profile features kept now (None when the cache is empty)."""
    return _FEATURES.value


def _fingerprint(values: np.ndarray, layout: Layout, rows: np.ndarray, params: dict[str, Any]) -> str:
    """Hash of what the features depend on: observed rows, their unit codes and a sample of values."""
    h = hashlib.sha1(usedforsecurity=False)
    h.update(
        repr((values.shape[1], values.dtype.str, values.strides, layout.n_donors, layout.n_tissues)).encode()
    )
    h.update(repr(sorted(params.items())).encode())
    h.update(values.__array_interface__["data"][0].to_bytes(8, "little"))
    h.update(rows.astype(np.int64).tobytes())
    assert layout.donor is not None
    h.update(np.asarray(layout.donor[rows], dtype=np.int64).tobytes())
    h.update(np.asarray(layout.tissue[rows], dtype=np.int64).tobytes())
    r_step = max(1, len(rows) // _SAMPLE_ROWS)
    c_step = max(1, values.shape[1] // _SAMPLE_COLS)
    sample = np.ascontiguousarray(values[rows[::r_step], ::c_step], dtype=np.float64)
    h.update(sample.tobytes())
    return h.hexdigest()


def profile_features(values: np.ndarray, layout: Layout, **params: Any) -> ProfileFeatures:
    """Return :class:`~.profiles.ProfileFeatures` of ``values``, built once per cohort.

    The last cohort's features are kept and served again while the same array holds the same
    observed rows (all-NaN rows, e.g. absent profiles appended by ``complete()``, do not
    count); a different array, other observed rows, unit codes or values build new ones.

    Parameters
    ----------
    values, layout
        As for :class:`~.profiles.ProfileFeatures`.
    **params
        Its keyword options.
    """
    from .profiles import ProfileFeatures

    rows = observed_rows(values)
    key = _fingerprint(values, layout, rows, params)
    return _FEATURES.get(values, key, lambda: ProfileFeatures(values, layout, rows=rows, **params))


def model_profile_features(model: Any, values: np.ndarray, layout: Layout) -> ProfileFeatures:
    """Return the cohort's profile features for a hybrid ``model`` (cached, see :func:`profile_features`).

    The private attributes ``_profile_exact_max_donors`` (default 60) and ``_profile_max_genes``
    (default 2,000) of the model set the exact-components threshold and the gene subsample.
    """
    params = {
        "exact_max_donors": int(getattr(model, "_profile_exact_max_donors", 60)),
        "max_genes": int(getattr(model, "_profile_max_genes", 2000)),
    }
    return profile_features(values, layout, **params)


def donor_runs(donors: np.ndarray) -> list[np.ndarray]:
    """Return the indices of each run of equal values in ``donors`` (sorted: one array per donor)."""
    if len(donors) == 0:
        return []
    starts = np.flatnonzero(np.r_[True, donors[1:] != donors[:-1]])
    return np.split(np.arange(len(donors)), starts[1:])
