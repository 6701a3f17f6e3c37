"""Small array helpers shared by the hybrid's base estimators (no imports of the hybrid's modules).

:func:`nanmean` lives here rather than in :mod:`.bases` so that :mod:`.completion` (whose
:func:`~.completion.low_rank` :mod:`.bases` re-exports) can import it at module level without
an import cycle. :mod:`.bases` re-exports it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["nanmean"]


def nanmean(a: np.ndarray, axis: int = 1) -> np.ndarray:
    """Mean over observed (non-NaN) values along ``axis``; NaN where none (no warning).

    Parameters
    ----------
    a
        Array with NaN for missing values.
    axis
        Axis to average over (default: rows' means, ``1``).

    Returns
    -------
    The means, NaN where ``a`` has no observed value along ``axis``.

    Examples
    --------
    >>> nanmean(np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, np.nan]])).tolist()
    [2.0, nan]
    """
    ok = ~np.isnan(a)
    n = ok.sum(axis)
    s = np.where(ok, a, 0.0).sum(axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, s / np.maximum(n, 1), np.nan)
