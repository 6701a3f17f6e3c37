"""One-entry caches of what the hybrid derives from a cohort's array, reused across blocks.

``complete()`` predicts the blocks of one cohort one after the other (each with a shallow copy
of the model), always with the same array. What the hybrid derives from the whole array (the
absent genes and rows, the whole-profile features) is therefore kept for the last array seen:
a :class:`CohortCache` holds one value, the key it was built for and a weak reference to the
array's base (a freed array frees the value and never matches a newer one).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import numpy as np

from ..._utils import array_root
from .._conformal import scan_observed

__all__ = ["CohortCache", "array_root", "observed_scan"]

T = TypeVar("T")


class CohortCache:
    """Keep one value derived from an array while that array lives and the key is unchanged.

    Examples
    --------
    >>> from gex_impute.methods.hybrid.cohort_cache import CohortCache
    >>> import numpy as np
    >>> cache = CohortCache()
    >>> x = np.zeros((3, 2))
    >>> cache.get(x, "sum", lambda: float(x.sum()))
    0.0
    >>> cache.get(x, "sum", lambda: 1.0)  # same array and key: the kept value
    0.0
    """

    def __init__(self) -> None:
        self._entry: dict[str, Any] = {}
        self._lock = threading.RLock()  # blocks predicted from threads share one build

    def get(self, values: np.ndarray, key: Hashable, build: Callable[[], T]) -> T:
        """Return the kept value for ``values`` and ``key``, else ``build()`` and keep it.

        Parameters
        ----------
        values
            The array the value is derived from (matched by identity of its memory owner).
        key
            What else the value depends on (shape, parameters, a fingerprint of the contents).
        build
            Computes the value; called with the old value already dropped (frees its memory).
        """
        root = array_root(values)
        with self._lock:
            ref = self._entry.get("ref")
            if ref is not None and ref() is root and self._entry.get("key") == key:
                return self._entry["value"]
            self._entry = {}
            value = build()
            try:
                ref = weakref.ref(root, self._forget)
            except TypeError:  # pragma: no cover - an array type without weak references
                return value
            self._entry = {"ref": ref, "key": key, "value": value}
            return value

    def _forget(self, ref: weakref.ref) -> None:
        """Drop the value once its array is freed (not a newer array's value)."""
        if self._entry.get("ref") is ref:
            self._entry = {}

    @property
    def value(self) -> Any:
        """The value kept now (None when empty)."""
        return self._entry.get("value")

    def clear(self) -> None:
        """Forget the kept value (frees its memory)."""
        with self._lock:
            self._entry = {}


_ABSENT = CohortCache()


def observed_scan(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """:func:`scan_observed` of ``values``, kept for the next block of the same array.

    ``complete()`` predicts the blocks of one cohort one after the other, each with a view of
    the same memory: the observed rows followed by the block's all-missing rows. The scan of
    the rows seen before is kept (a :class:`CohortCache` keyed on the memory
    the view starts at); only rows past them are scanned again. Like every cache of a
    cohort here, it assumes the values are not changed in place between calls.
    """
    n = values.shape[0]
    key = (values.shape[1], values.strides, values.__array_interface__["data"][0])
    (gene_absent, row_absent, (lo, hi)), n_seen = _ABSENT.get(values, key, lambda: (scan_observed(values), n))
    if n < n_seen:  # fewer rows than the kept scan (e.g. complete()'s last block): scan these
        return scan_observed(values)
    if n > n_seen:
        gene_more, row_more, (lo_more, hi_more) = scan_observed(values[n_seen:])
        rows = np.concatenate([row_absent, row_more])
        return gene_absent & gene_more, rows, (min(lo, lo_more), max(hi, hi_more))
    return gene_absent, row_absent, (lo, hi)
