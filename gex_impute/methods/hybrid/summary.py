"""One line on a fitted hybrid for people (:func:`summary`) and its models per pattern for logs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .model import HybridImputer

__all__ = ["describe", "summary"]

#: how the log names each missingness pattern
_PATTERN_LABELS = {"genes": "missing genes", "profiles": "absent profiles", "entries": "scattered entries"}


def summary(model: HybridImputer) -> str:
    """One line for people: each pattern's model, its reference and training rows, and the fit time.

    Examples
    --------
    >>> from gex_impute.methods.hybrid.summary import summary
    >>> from types import SimpleNamespace
    >>> m = {"reference": "ridge_stack", "choice": "xgboost", "n_rows": 59644}
    >>> summary(SimpleNamespace(models_={"profiles": m}, diagnostics_={"fit_seconds": 2.0}))
    'hybrid fitted in 2.0 s: absent profiles: XGBoost on the residual of ridge_stack (59,644 training rows)'
    """
    parts = []
    for key, m in model.models_.items():
        how = {"xgboost": f"XGBoost on the residual of {m['reference']}", "ridge": "ridge stack of the bases"}
        label, fitted = _PATTERN_LABELS.get(key, key), how.get(m["choice"], m["reference"])
        parts.append(f"{label}: {fitted} ({m['n_rows']:,} training rows)")
    seconds = float(model.diagnostics_.get("fit_seconds", 0.0))
    return f"hybrid fitted in {seconds:.1f} s: " + "; ".join(parts)


def describe(model: HybridImputer) -> dict[str, Any]:
    """Return per pattern the reference base, the model chosen and its training rows (for logs)."""
    return {
        k: {"reference": m["reference"], "choice": m["choice"], "rows": m["n_rows"]}
        for k, m in model.models_.items()
    }
