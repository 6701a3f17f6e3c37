"""Former home of :func:`gex_impute.tl.evaluate`; kept so that old imports keep working."""

from __future__ import annotations

from .tl._folds import PROTOCOLS, heldout_folds
from .tl._metrics import score
from .tl.evaluate import BASELINES, evaluate

__all__ = ["BASELINES", "PROTOCOLS", "evaluate", "heldout_folds", "score"]
