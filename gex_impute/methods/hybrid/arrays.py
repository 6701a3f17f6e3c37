"""Small array helpers shared by the hybrid's base estimators (no imports of the hybrid's modules).

:func:`nanmean` lives here rather than in :mod:`.bases` so that :mod:`.completion` (whose
:func:`~.completion.low_rank` :mod:`.bases` re-exports) can import it at module level without
an import cycle. :mod:`.bases` re-exports it. It is
:func:`gex_impute.methods._fallback.nanmean_axis` (one implementation) with the hybrid's default
axis, the rows' means.
"""

from __future__ import annotations

import numpy as np

from .._fallback import nanmean_axis

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
    >>> import numpy as np
    >>> from gex_impute.methods.hybrid.arrays import nanmean
    >>> nanmean(np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, np.nan]])).tolist()
    [2.0, nan]
    """
    return nanmean_axis(a, axis)
