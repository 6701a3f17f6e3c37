"""Whole-profile model at scale: per-tissue component scores, kept donor contexts, the booster choice."""

from __future__ import annotations

import numpy as np
import pytest
from _hybrid_fixtures import FAST_PROFILES, absent_rows, layout_of, model_data, simulated

import gex_impute as gi
from gex_impute.methods.hybrid import profile_cache, profile_model
from gex_impute.methods.hybrid.profiles import ProfileFeatures


@pytest.fixture(scope="module")
def cohort():
    """24 donors x 5 tissues x 200 genes, a third of the profiles absent, some entries missing."""
    return simulated(24, 5, 200, seed=3, frac_missing_samples=0.3, frac_missing_entries=0.05)


@pytest.fixture(scope="module")
def approx(cohort):
    """The cohort's features on the large-cohort path (shared components, a gene subsample)."""
    from gex_impute._data import from_anndata

    data, _ = from_anndata(cohort, donor_key="donor", log_transform=True)
    return ProfileFeatures(data.values, layout_of(data), exact_max_donors=10, max_genes=150)


def test_scores_per_tissue_equal_the_whole_cube(approx):
    scores, vecs, means = approx._shared_components()
    for d in (0, 7, 23):
        ctx = approx.context(d)
        xc = np.where(ctx.obs, ctx.yd - approx.tm_all_f, 0.0) - means[d]
        cube = scores - (xc[:, :, None] * vecs[d][None, None, :]).astype(np.float32)
        genes = np.array([3, 50, 199])
        for t in range(approx.n_tissues):
            np.testing.assert_array_equal(ctx.scores.tissue(t), cube[t])
            np.testing.assert_array_equal(ctx.scores.tissue(t, genes), cube[t][genes])
            np.testing.assert_array_equal(ctx.scores.tissue(t, ctx.obs[t]), cube[t][ctx.obs[t]])
        np.testing.assert_array_equal(ctx.scores.observed(), cube[ctx.obs])


def test_last_donor_context_kept_features_unchanged(approx):
    tissues = np.arange(approx.n_tissues)
    first, _, _ = approx.donor_features(4, tissues)
    ctx = approx.context(4)
    assert approx.context(4) is ctx  # the same donor again: prepared once
    approx.donor_features(5, tissues)
    assert approx.context(5) is not ctx
    again, _, _ = approx.donor_features(4, tissues)  # rebuilt: the same features
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)


def test_exact_scores_equal_the_whole_cube_and_are_kept(cohort, monkeypatch):
    from gex_impute._data import from_anndata
    from gex_impute.methods.hybrid import profiles

    data, _ = from_anndata(cohort, donor_key="donor", log_transform=True)
    pf = ProfileFeatures(data.values, layout_of(data))
    assert pf.exact
    dense = pf.units.prof[pf.units.row_of]
    for d in (0, 11, 23):
        tm_f = pf.context(d).tm_f
        # the whole cube at once (the computation before the one-donor-at-a-time residuals)
        resid = (dense - tm_f[None]).astype(np.float32)
        r0 = np.where(np.isnan(resid), np.float32(0), resid)
        x = r0[np.arange(pf.n_donors) != d].reshape(pf.n_donors - 1, -1)
        xc = x - x.mean(1, keepdims=True)
        _, vecs = np.linalg.eigh(xc @ xc.T)
        expected = xc.T @ vecs[:, ::-1][:, : max(pf.pca_ranks)]
        kept = pf._exact_scores(d, tm_f)
        np.testing.assert_array_equal(kept, expected)
        assert pf._exact_scores(d, tm_f) is kept  # prepared again (predict after fit): kept
    monkeypatch.setattr(profiles, "EXACT_SCORES_CACHE_BYTES", 0)
    small = ProfileFeatures(data.values, layout_of(data))
    small._exact_scores(3, small.context(3).tm_f)
    assert not small._scores_kept  # over the budget: not kept
    # the donor's regression sums and donor-effect coefficients: kept, the same when prepared again
    first = pf.context(5)
    assert pf.context(6) is not first and 5 in pf._donor_kept
    again = pf.context(5)
    assert again is not first and again.coef is first.coef and again.gram is first.gram
    monkeypatch.setattr(profiles, "DONOR_CACHE_BYTES", 0)
    small = ProfileFeatures(data.values, layout_of(data))
    built = small.context(5)
    assert not small._donor_kept  # over the budget: not kept, computed again
    for a, b in ((built.coef, first.coef), (built.gram, first.gram), (built.rhs, first.rhs)):
        np.testing.assert_array_equal(a, b)


def test_choice_rows_whole_donors_at_most_the_limit():
    groups = np.repeat(np.arange(10), [5, 7, 3, 9, 4, 6, 8, 2, 5, 1])
    assert profile_model._choice_rows(groups, len(groups), 0) is None
    rows = profile_model._choice_rows(groups, 20, 0)
    assert rows is not None and 0 < len(rows) <= 20
    assert np.all(np.diff(rows) > 0)
    kept = np.unique(groups[rows])
    np.testing.assert_array_equal(np.flatnonzero(np.isin(groups, kept)), rows)  # whole donors
    np.testing.assert_array_equal(profile_model._choice_rows(groups, 20, 0), rows)  # seeded
    assert profile_model._choice_rows(np.zeros(30, dtype=np.int64), 20, 0) is None  # one donor too big


def test_booster_choice_on_a_donor_subset_trains_the_kept_setting_on_all_rows(cohort, monkeypatch):
    monkeypatch.setattr(profile_model, "PROFILE_SEARCH_ENTRIES", 0)  # as in a GTEx-sized cohort
    monkeypatch.setattr(profile_model, "PROFILE_BOOSTERS", ())  # only the model's own settings
    params = {**FAST_PROFILES, "n_estimators": 40}
    whole = gi.HybridImputer(**params, cv_max_donors=0).fit(cohort, donor_key="donor")
    n_rows = whole.models_["profiles"]["n_rows"]
    assert "compared on" not in whole.diagnostics_["profile_boosters"]
    data = model_data(cohort, whole)
    rows = absent_rows(data)
    expected = whole.predict_rows(data, rows)
    monkeypatch.setattr(profile_model, "PROFILE_CHOICE_ROWS", n_rows // 2)
    sampled = gi.HybridImputer(**params, cv_max_donors=0).fit(cohort, donor_key="donor")
    log = sampled.diagnostics_["profile_boosters"]
    assert log.startswith("compared on ") and f"of {n_rows} rows" in log
    assert sampled.models_["profiles"]["n_rows"] == n_rows  # the kept setting on every row
    # one candidate: the same setting, seed and held-out donors on all rows -> the same model
    np.testing.assert_array_equal(sampled.predict_rows(data, rows), expected)
    profile_cache.clear_profile_cache()
