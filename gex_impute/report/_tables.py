"""The demo's one table (methods x protocols) and who wins each protocol on its headline metric."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "ProtocolResult",
    "combine_tables",
    "fallback_note",
    "protocol_results",
    "text_table",
    "wide_table",
]

#: columns of the wide table per protocol: evaluate() column -> short name
WIDE_COLUMNS = {"pearson": "r", "mse": "MSE", "mean_sample_r": "sample r"}


@dataclass(frozen=True)
class ProtocolResult:
    """How the reference method did under one protocol, on the protocol's headline metric."""

    protocol: str  # evaluate()'s name: "genes", "entries", "samples"
    label: str  # "P1", "P2", "P3"
    metric: str  # e.g. "pearson"
    higher_is_better: bool
    method: str  # the method judged (the hybrid)
    value: float
    best_other: str  # the best of the other methods
    best_other_value: float

    @property
    def wins(self) -> bool:
        """Whether ``method`` beats every other method (strictly)."""
        if not np.isfinite(self.value):
            return False
        if not np.isfinite(self.best_other_value):
            return True
        if self.higher_is_better:
            return self.value > self.best_other_value
        return self.value < self.best_other_value

    def sentence(self) -> str:
        """One plain sentence, e.g. ``"P2: hybrid MSE 0.171, best baseline knn 0.176 (hybrid ahead)"``."""
        name = _METRIC_NAMES.get(self.metric, self.metric)
        direction = "higher" if self.higher_is_better else "lower"
        state = "ahead" if self.wins else "behind"
        digits = 3
        while digits < 6 and f"{self.value:.{digits}f}" == f"{self.best_other_value:.{digits}f}":
            digits += 1  # show where two values that look equal differ
        return (
            f"{self.label} ({self.protocol}, {name}, {direction} is better): {self.method} "
            f"{self.value:.{digits}f} vs best baseline {self.best_other} {self.best_other_value:.{digits}f} "
            f"-> {self.method} {state}"
        )


_METRIC_NAMES = {"pearson": "Pearson r", "mse": "MSE", "mean_sample_r": "per-sample r"}


def combine_tables(tables: Mapping[str, pd.DataFrame], labels: Mapping[str, str]) -> pd.DataFrame:
    """Stack per-protocol tables of :func:`gex_impute.tl.evaluate` into one long table.

    Parameters
    ----------
    tables
        Protocol name -> evaluate() table (index = method).
    labels
        Protocol name -> short label (``"P1"``).

    Returns
    -------
    One row per protocol x method: columns ``label``, ``protocol``, ``method``, then the metrics.
    """
    frames = []
    for protocol, table in tables.items():
        frame = table.rename_axis("method").reset_index()
        frame = frame.drop(columns=["protocol"], errors="ignore")
        frame.insert(0, "protocol", protocol)
        frame.insert(0, "label", labels[protocol])
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def wide_table(long: pd.DataFrame, methods: list[str] | None = None) -> pd.DataFrame:
    """Methods as rows, ``"<label> <metric>"`` columns (``P1 r``, ``P1 MSE``, ...), in protocol order."""
    order = methods or list(dict.fromkeys(long["method"]))
    columns = {}
    for label in dict.fromkeys(long["label"]):
        part = long[long["label"] == label].set_index("method")
        for metric, short in WIDE_COLUMNS.items():
            if metric in part.columns and part[metric].notna().any():
                columns[f"{label} {short}"] = part[metric].reindex(order)
    wide = pd.DataFrame(columns, index=pd.Index(order, name="method"))
    return wide.astype(float)


def best_cells(wide: pd.DataFrame) -> list[tuple[int, int]]:
    """Positions (row, column) of the best value of every column of :func:`wide_table`."""
    cells: list[tuple[int, int]] = []
    for j, column in enumerate(wide.columns):
        values = wide[column].to_numpy(dtype=float)
        if not np.isfinite(values).any():
            continue
        lower = column.endswith("MSE")
        target = np.nanmin(values) if lower else np.nanmax(values)
        cells.extend((int(i), j) for i in np.flatnonzero(np.isclose(values, target, rtol=0, atol=5e-4)))
    return cells


def text_table(wide: pd.DataFrame) -> str:
    """Render :func:`wide_table` for a terminal: 3 decimals, ``*`` after each column's best."""
    marked = set(best_cells(wide))
    rows = [[str(m)] for m in wide.index]
    for j, column in enumerate(wide.columns):
        for i, value in enumerate(wide[column]):
            text = "n/a" if not np.isfinite(value) else f"{value:.3f}"
            rows[i].append(text + ("*" if (i, j) in marked else " "))
    header = ["method", *wide.columns]
    widths = [max(len(header[k]), *(len(r[k]) for r in rows)) for k in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if k == 0 else c.rjust(w) for k, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    lines = [line(header), *(line(row) for row in rows)]
    return "\n".join(lines)


def protocol_results(
    long: pd.DataFrame, headline: Mapping[str, tuple[str, str, bool]], *, method: str = "hybrid"
) -> list[ProtocolResult]:
    """Judge ``method`` under every protocol of ``long`` on the protocol's headline metric.

    Parameters
    ----------
    long
        The table of :func:`combine_tables`.
    headline
        Protocol -> ``(label, metric, higher_is_better)``.
    method
        The method judged against all the others.

    Returns
    -------
    One :class:`ProtocolResult` per protocol present, in ``long``'s order.
    """
    results = []
    for protocol in dict.fromkeys(long["protocol"]):
        label, metric, higher = headline[protocol]
        part = long[long["protocol"] == protocol].set_index("method")[metric].astype(float)
        if method not in part.index:
            continue
        others = part.drop(index=method).dropna()
        if others.empty:
            best, best_value = "none", float("nan")
        else:
            best = str(others.idxmax() if higher else others.idxmin())
            best_value = float(others[best])
        results.append(
            ProtocolResult(protocol, label, metric, higher, method, float(part[method]), best, best_value)
        )
    return results


def fallback_note(long: pd.DataFrame) -> str:
    """Say which methods gave only their fallback under a protocol; "" if none.

    Such a row scores the fallback, not the method: a baseline that cannot serve a held-out
    gene or profile at all (e.g. kNN over samples for a profile with no value of its own).

    Examples
    --------
    >>> import pandas as pd
    >>> from gex_impute.report._tables import fallback_note
    >>> long = pd.DataFrame({"label": ["P1", "P1"], "method": ["hybrid", "knn"],
    ...                      "n_heldout": [10, 10], "n_fallback": [0, 10]})
    >>> fallback_note(long)
    'Filled by their fallback alone (nothing to estimate these held-out values from): P1 knn.'
    """
    if not {"n_fallback", "n_heldout"} <= set(long.columns):
        return ""
    parts = []
    for label in dict.fromkeys(long["label"]):
        rows = long[(long["label"] == label) & (long["n_heldout"] > 0)]
        only = rows.loc[rows["n_fallback"] >= rows["n_heldout"], "method"].tolist()
        if only:
            parts.append(f"{label} {', '.join(map(str, only))}")
    if not parts:
        return ""
    lead = "Filled by their fallback alone (nothing to estimate these held-out values from)"
    return f"{lead}: {'; '.join(parts)}."
