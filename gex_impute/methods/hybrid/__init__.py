"""The hybrid imputer: promoter CNN + XGBoost over genomic context, stacked (optional tissue transformer).

The model estimates a missing entry (sample ``s``, gene ``g``) from base estimates computed
without it: the sample's nearest samples (kNN, several k), a ridge regression of the sample
on the other samples, low-rank completions, similar genes, the donor's other tissues and its
nearest donors, the gene's genomic neighbours, and, for genes missing everywhere, the
promoter CNN's out-of-fold tissue profile and static gene features. XGBoost fits the
residual over the best single base (for scattered entries, over the ridge stack of the bases
when that is better), one model per missing pattern (whole genes, whole
profiles, scattered entries); the tissue transformer is an optional extra base.

Modules: :mod:`.model` (the :class:`HybridImputer` class), :mod:`.parameters` (its
hyperparameter constraints), :mod:`.bases` (base estimators), :mod:`.completion` (low-rank
completion, re-exported by :mod:`.bases`), :mod:`.row_models` (each row estimated from the
other rows: ridge and XGBoost, re-exported by :mod:`.bases`), :mod:`.entries` (features of
scattered entries and whole genes), :mod:`.genome_columns` (their genomic-neighbour columns and
the description of genes without data by the observed genes around their TSS),
:mod:`.profiles` (whole-profile features of a cohort), :mod:`.profile_columns` (the columns of
one donor x tissue unit), :mod:`.profile_effect` (per-gene donor effects),
:mod:`.profile_groups` (the donor's group by residual cross products), :mod:`.profile_cache`
(observed-profile storage, donor distances, the features cached per cohort),
:mod:`.cohort_cache` (the one-entry per-cohort cache), :mod:`.genes` (promoter CNN, static gene
features), :mod:`.encoder` (tissue transformer), :mod:`.masking` (patterns, training rows),
:mod:`.patterns` (per-pattern fit / predict), :mod:`.profile_model` (the whole-profile model:
fit, XGBoost chosen for prediction cost in large cohorts, chunked predict), :mod:`.stacking`
(reference + XGBoost), :mod:`.optim` (AdamW), :mod:`.distributed` (XGBoost on Dask),
:mod:`.persistence` (saved state), :mod:`.sequence` (one-hot DNA).
"""

from .masking import missing_patterns
from .model import HybridImputer

__all__ = ["HybridImputer", "missing_patterns"]
