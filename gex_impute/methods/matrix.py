"""Matrix-completion baselines (HYFA's set): kNN, soft-impute and PCA + regression.

Each works on the samples x genes matrix or on donors x (tissue, gene) (see
:class:`~gex_impute.methods._matrix_layout.MatrixImputer`); entries without information (a gene
never observed, a sample with nothing observed) get the shared fallback
(:mod:`gex_impute.methods._fallback`). One method a module, as in decoupler; this module
gathers them (and keeps ``gex_impute.methods.matrix.KNNImputer`` etc. importable):

- :mod:`gex_impute.methods.knn`: ``knn`` (:class:`KNNImputer`);
- :mod:`gex_impute.methods.softimpute`: ``softimpute`` (:class:`SoftImputer`);
- :mod:`gex_impute.methods.pca_regression`: ``pca_regression`` (:class:`PCARegressionImputer`).
"""

from __future__ import annotations

from .knn import KNNImputer
from .pca_regression import PCARegressionImputer
from .softimpute import SoftImputer

__all__ = ["KNNImputer", "PCARegressionImputer", "SoftImputer"]
