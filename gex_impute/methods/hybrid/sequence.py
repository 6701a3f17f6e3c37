"""DNA sequence encoding for the promoter CNN: one-hot matrices and simple composition features.

Sequences are taken as given, upstream -> downstream in the gene's orientation (strand is
handled when the promoter is cut from the genome, see :func:`gex_impute.pp.add_promoters`).
Any length is accepted; letters other than A, C, G, T (N, IUPAC codes, gaps) encode as zeros.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

__all__ = ["ALPHABET", "composition", "one_hot", "one_hot_batch"]

#: channel order of the one-hot encoding
ALPHABET = "ACGT"

_LOOKUP = np.full(256, -1, dtype=np.int8)
for _i, _c in enumerate(ALPHABET):
    _LOOKUP[ord(_c)] = _i
    _LOOKUP[ord(_c.lower())] = _i
_LOOKUP[ord("U")] = _LOOKUP[ord("u")] = 3  # RNA input: U reads as T


def _codes(sequence: str) -> np.ndarray:
    if not isinstance(sequence, str):
        msg = f"sequence must be a str, got {type(sequence).__name__}; use '' for an unknown sequence."
        raise TypeError(msg)
    raw = np.frombuffer(sequence.encode("ascii", errors="replace"), dtype=np.uint8)
    return _LOOKUP[raw]


def one_hot(sequence: str, *, dtype: type = np.float32) -> np.ndarray:
    """One-hot encode one DNA sequence.

    Parameters
    ----------
    sequence
        DNA letters, any case and any length; anything but A/C/G/T (and U) becomes a zero column.
    dtype
        Output dtype.

    Returns
    -------
    Array of shape ``(4, len(sequence))``, channels in :data:`ALPHABET` order.

    Examples
    --------
    >>> from gex_impute.methods.hybrid.sequence import one_hot
    >>> one_hot("ACgtN").astype(int)
    array([[1, 0, 0, 0, 0],
           [0, 1, 0, 0, 0],
           [0, 0, 1, 0, 0],
           [0, 0, 0, 1, 0]])
    """
    codes = _codes(sequence)
    out: np.ndarray = np.zeros((4, codes.size), dtype=dtype)
    known = codes >= 0
    out[codes[known], np.flatnonzero(known)] = 1
    return out


def one_hot_batch(
    sequences: Sequence[str],
    *,
    length: int | None = None,
    align: Literal["start", "end", "center"] = "center",
    dtype: type = np.float32,
) -> np.ndarray:
    """One-hot encode sequences of any lengths into one padded batch.

    Parameters
    ----------
    sequences
        DNA strings; ``""`` (unknown) gives an all-zero row.
    length
        Output width; the longest sequence when None. Longer sequences are trimmed and shorter
        ones zero-padded, both according to ``align``.
    align
        Which part lines up across sequences: ``"start"`` (first base), ``"end"`` (last base) or
        ``"center"``.
    dtype
        Output dtype.

    Returns
    -------
    Array of shape ``(len(sequences), 4, length)``.

    Examples
    --------
    >>> from gex_impute.methods.hybrid.sequence import one_hot_batch
    >>> one_hot_batch(["ACGT", "AC"], align="start").shape
    (2, 4, 4)
    """
    if align not in ("start", "end", "center"):
        msg = f"align must be 'start', 'end' or 'center', got {align!r}"
        raise ValueError(msg)
    lengths = [len(s) for s in sequences]
    if length is None:
        length = max(lengths, default=0)
    if length < 0:
        msg = f"length must be non-negative, got {length}"
        raise ValueError(msg)
    out: np.ndarray = np.zeros((len(sequences), 4, length), dtype=dtype)
    for i, seq in enumerate(sequences):
        n = lengths[i]
        if n == 0 or length == 0:
            continue
        if align == "start":
            src, dst = 0, 0
        elif align == "end":
            src, dst = max(n - length, 0), max(length - n, 0)
        else:
            src, dst = max((n - length) // 2, 0), max((length - n) // 2, 0)
        w = min(n - src, length - dst)
        codes = _codes(seq[src : src + w])
        known = np.flatnonzero(codes >= 0)
        out[i, codes[known], dst + known] = 1
    return out


def composition(sequences: Sequence[str]) -> np.ndarray:
    """Composition features of each sequence: GC fraction, CpG observed/expected, length, N fraction.

    Parameters
    ----------
    sequences
        DNA strings; ``""`` gives NaN features (length 0).

    Returns
    -------
    Array of shape ``(len(sequences), 4)``: GC fraction, CpG observed/expected ratio
    (``n_CG * L / (n_C * n_G)``), length, fraction of unknown letters. GC, CpG and the unknown
    fraction are NaN for an empty sequence.

    Examples
    --------
    >>> from gex_impute.methods.hybrid.sequence import composition
    >>> composition(["GGCC", "ATAT"])[:, 0]
    array([1., 0.])
    """
    out = np.full((len(sequences), 4), np.nan)
    for i, seq in enumerate(sequences):
        n = len(seq)
        out[i, 2] = n
        if n == 0:
            continue
        codes = _codes(seq)
        known = codes >= 0
        n_known = int(known.sum())
        out[i, 3] = 1.0 - n_known / n
        if n_known == 0:
            continue
        n_c = int((codes == 1).sum())
        n_g = int((codes == 2).sum())
        out[i, 0] = (n_c + n_g) / n_known
        n_cg = int(((codes[:-1] == 1) & (codes[1:] == 2)).sum())
        out[i, 1] = n_cg * n_known / (n_c * n_g) if n_c and n_g else 0.0
    return out
