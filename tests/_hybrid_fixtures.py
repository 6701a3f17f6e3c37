"""Small simulated cohorts and helpers shared by test_hybrid.py and test_hybrid_profiles.py.

Cohorts are built once per session (``functools.cache``); tests that change one take a copy.
"""

from __future__ import annotations

import functools

import numpy as np

import gex_impute as gi
from gex_impute._data import from_anndata
from gex_impute.methods.hybrid.masking import Layout

#: hybrid settings that keep the tests fast (few trees and epochs, one masking round, one thread)
FAST = {"n_estimators": 40, "max_epochs": 2, "n_rounds": 1, "n_jobs": 1, "progress": False}
#: the same without the gene-level parts (whole-profile tests)
FAST_PROFILES = {**FAST, "n_estimators": 30, "use_sequence": False, "use_neighbours": False}


@functools.cache
def simulated(
    n_donors: int,
    n_tissues: int,
    n_genes: int,
    *,
    seed: int,
    frac_missing_genes: float | None = None,
    frac_missing_samples: float | None = None,
    frac_missing_entries: float | None = None,
    upstream: int = 60,
    downstream: int = 40,
):
    """A simulated cohort (short promoters by default; None: the simulator's default), built once."""
    return gi.datasets.simulate(
        n_donors=n_donors,
        n_tissues=n_tissues,
        n_genes=n_genes,
        upstream=upstream,
        downstream=downstream,
        frac_missing_genes=frac_missing_genes,
        frac_missing_samples=frac_missing_samples,
        frac_missing_entries=frac_missing_entries,
        random_state=seed,
    )


def model_data(adata, model):
    """``adata`` as the prepared data ``model`` predicts on (its log scale, donors from ``donor``)."""
    data, _ = from_anndata(adata, donor_key="donor", log_transform=model.log1p_)
    return data


def layout_of(data) -> Layout:
    """Tissue and donor codes of prepared data."""
    return Layout(
        np.asarray(data.tissue.codes, dtype=np.int64),
        len(data.tissue.categories),
        np.asarray(data.donor.codes, dtype=np.int64),
        len(data.donor.categories),
    )


def absent_rows(data) -> np.ndarray:
    """Rows with nothing observed (absent donor x tissue profiles)."""
    return np.flatnonzero(np.isnan(data.values).all(1))
