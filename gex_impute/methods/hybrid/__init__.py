"""The hybrid imputer: promoter CNN + tissue transformer + XGBoost over genomic context.

The model fills an entry (sample ``s``, gene ``g``) of a samples x genes matrix from

* the gene's promoter sequence (:class:`~gex_impute.methods.hybrid.nets.PromoterCNN` embedding
  and composition features),
* the gene's observed values in the other tissues / samples of the same donor, read by a
  self-attention encoder over tissue tokens
  (:class:`~gex_impute.methods.hybrid.nets.TissueTransformer`),
* its genomic neighbours' values in the same sample, their distances, orientations and
  nesting (:func:`gex_impute.genome.genomic_neighbours`),
* gene- and tissue-level summaries (gene mean, same-tissue mean over other donors, the mean over
  the donors most similar to this one),

combined by an XGBoost regressor. Everything is trained by self-supervised masking of observed
entries of the reference genes (genes with data) that mimics the missing pattern found in the
data: whole genes, whole samples and scattered entries. The networks are fitted K-fold over
the reference genes and only embed the fold they did not see, so XGBoost never learns from
embeddings fitted to its own rows.

Modules: :mod:`.model` (the :class:`HybridImputer` class), :mod:`.masking`, :mod:`.features`
and :mod:`.summaries` (numpy), :mod:`.design` (XGBoost's design), :mod:`.sequence` (one-hot
DNA), :mod:`.nets` and :mod:`.training` (torch, xgboost; imported only when fitting or
predicting).
"""

from .masking import missing_patterns
from .model import HybridImputer

__all__ = ["HybridImputer", "missing_patterns"]
