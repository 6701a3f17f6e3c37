"""The hybrid's hyperparameter constraints, checked at construction and in ``set_params``.

:data:`PARAMETER_CONSTRAINTS` (name -> allowed types / ranges / choices, the registry's
vocabulary from :mod:`gex_impute.methods._params`) and :func:`check_params_together` (the rules
that involve several parameters).
"""

from __future__ import annotations

from typing import Any

from .._params import Boolean, Interval, Options, Pattern

__all__ = ["PARAMETER_CONSTRAINTS", "check_params_together"]

#: parameter name -> accepted values (any one of the constraints)
PARAMETER_CONSTRAINTS: dict[str, list[Any]] = {
    **{k: [Boolean()] for k in ("use_sequence", "use_tissue_encoder", "use_neighbours", "use_xgboost")},
    "n_neighbours": [Interval(int, 1, 1000)],
    "window": [Interval(int, 1, None)],
    "n_folds": [Interval(int, 2, 20)],
    "n_rounds": [Interval(int, 1, 50)],
    "hide_rate": [Interval(float, 0, 0.5, closed="right"), None],
    "max_rows": [Interval(int, 100, None)],
    "n_similar": [Interval(int, 0, 100)],
    "cv_max_donors": [Interval(int, 0, None)],
    "max_epochs": [Interval(int, 1, 10_000)],
    "patience": [Interval(int, 1, 10_000)],
    "batch_size": [Interval(int, 1, 1_000_000)],
    "learning_rate": [Interval(float, 0, 1, closed="right")],
    "max_items_per_epoch": [Interval(int, 1, None), None],
    "cnn_channels": [Interval(int, 1, 1024)],
    "embedding_dim": [Interval(int, 1, 256)],
    "d_model": [Interval(int, 1, 1024)],
    "n_heads": [Interval(int, 1, 64)],
    "n_layers": [Interval(int, 1, 16)],
    "n_estimators": [Interval(int, 1, 100_000)],
    "max_depth": [Interval(int, 1, 30)],
    "xgb_learning_rate": [Interval(float, 0, 1, closed="right")],
    "min_child_weight": [Interval(float, 0, None)],
    "validation_fraction": [Interval(float, 0, 1, closed="neither")],
    "device": [Options("auto", "cpu", "cuda", "mps"), Pattern(r"cuda:\d+", "'cuda:N'")],
    "n_jobs": [Interval(int, 1, 4096), None],
    "random_state": [Interval(int, 0, 2**32 - 1), None],
    "progress": [Boolean()],
}


def check_params_together(params: dict[str, Any]) -> None:
    """Raise :class:`~gex_impute.errors.ParameterError` when parameters disagree with each other."""
    from ...errors import ParameterError

    if params["d_model"] % params["n_heads"]:
        msg = (
            f"HybridImputer: d_model={params['d_model']} is not divisible by "
            f"n_heads={params['n_heads']}; "
            "the attention heads split d_model evenly. Choose e.g. d_model=32 with n_heads=4."
        )
        raise ParameterError(msg)
