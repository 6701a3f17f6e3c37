"""Former home of the baselines, kept so that old imports keep working.

The baselines now live in :mod:`gex_impute.methods.simple` (mean, additive),
:mod:`gex_impute.methods.neighbours` (distance, nearest_gene) and
:mod:`gex_impute.methods.matrix` (knn, softimpute, pca_regression); the shared fallback in
:mod:`gex_impute.methods._fallback`. Import from there.
"""

from __future__ import annotations

from ._fallback import fallback_values
from .matrix import KNNImputer, PCARegressionImputer, SoftImputer
from .neighbours import DistanceImputer, NearestGeneImputer
from .simple import AdditiveImputer, MeanImputer

__all__ = [
    "AdditiveImputer",
    "DistanceImputer",
    "KNNImputer",
    "MeanImputer",
    "NearestGeneImputer",
    "PCARegressionImputer",
    "SoftImputer",
    "fallback_values",
]
