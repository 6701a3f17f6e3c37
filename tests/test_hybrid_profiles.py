"""Whole-profile features of the hybrid: the per-cohort cache and the large-cohort path."""

from __future__ import annotations

import gc

import numpy as np
import pytest
from _hybrid_fixtures import FAST_PROFILES, absent_rows, layout_of, model_data, simulated

import gex_impute as gi
from gex_impute._data import from_anndata
from gex_impute.methods.hybrid import profile_cache
from gex_impute.methods.hybrid.cohort_cache import observed_scan
from gex_impute.methods.hybrid.masking import Layout
from gex_impute.methods.hybrid.profiles import ProfileFeatures


@pytest.fixture(scope="module")
def cohort():
    """25 donors x 5 tissues x 200 genes, a third of the profiles absent, some entries missing.

    125 samples: just above the entry model's per-sample ridge / XGBoost bases (at most 120
    samples, ``entries.MAX_RIDGE_SAMPLES``), which these whole-profile tests do not need and
    which would take most of each fit's time.
    """
    return simulated(25, 5, 200, seed=3, frac_missing_samples=0.3, frac_missing_entries=0.05)


@pytest.fixture(scope="module")
def fitted(cohort):
    return gi.HybridImputer(**FAST_PROFILES).fit(cohort, donor_key="donor")


def test_cache_reused_across_blocks_not_acrossmodel_data(cohort, fitted):
    data = model_data(cohort, fitted)
    absent = absent_rows(data)
    assert len(absent) >= 4
    fitted.predict_rows(data, absent[:2])
    first = profile_cache.cached_profile_features()
    fitted.predict_rows(data, absent[2:4])
    assert profile_cache.cached_profile_features() is first  # same data: built once

    # same observed rows padded with absent ones (as complete() does): still the same cohort
    padded = np.vstack([data.values, np.full((3, data.values.shape[1]), np.nan)])
    layout = layout_of(data)
    wide = Layout(
        np.r_[layout.tissue, [0, 1, 2]], layout.n_tissues, np.r_[layout.donor, [0, 1, 2]], layout.n_donors
    )
    kw = {"exact_max_donors": 60, "max_genes": 2000}
    base = profile_cache.profile_features(padded[: len(data.values)], layout, **kw)
    assert profile_cache.profile_features(padded, wide, **kw) is base

    # other values, in another array or changed in place: new features
    other = data.values.copy()
    other[~np.isnan(other)] += 1.0
    assert profile_cache.profile_features(other, layout, **kw) is not base
    again = profile_cache.profile_features(padded, wide, **kw)
    assert again is not base
    padded[0, 0] = np.nan if not np.isnan(padded[0, 0]) else 1.0
    assert profile_cache.profile_features(padded, wide, **kw) is not again

    # a freed array frees its features
    del padded, again
    gc.collect()
    assert profile_cache.cached_profile_features() is None
    profile_cache.clear_profile_cache()


def test_gene_subsets_equal_full_features(cohort, fitted):
    data = model_data(cohort, fitted)
    pf = ProfileFeatures(data.values, layout_of(data))
    tissues = np.arange(pf.n_tissues)
    full, names, full_bases = pf.donor_features(2, tissues)
    genes = [np.array([5, 0, 17, 199]), np.array([], dtype=np.int64), *[np.arange(0, 200, 7)] * 3]
    part, names_p, part_bases = pf.donor_features(2, tissues, genes)
    assert names == names_p
    for x, xp, b, bp, g in zip(full, part, full_bases, part_bases, genes, strict=True):
        assert xp.shape == (len(g), len(names))
        np.testing.assert_array_equal(xp, x[g])
        for k in b:
            np.testing.assert_array_equal(bp[k], b[k][g])


def test_deviation_of_many_genes_of_an_absent_unit_equals_the_direct_sums(cohort, fitted):
    from gex_impute.methods.hybrid import profile_columns as pc
    from gex_impute.methods.hybrid.arrays import nanmean

    data = model_data(cohort, fitted)
    pf = ProfileFeatures(data.values, layout_of(data))
    d, t = (int(a) for a in np.argwhere(~pf.unit_observed & pf.unit_observed.any(1, keepdims=True))[0])
    ctx = pf.context(d)
    similar = pc.similar_donors(pf, pf.distances_without(d, t), t)[: pf.k_similar]
    other = np.flatnonzero(pf.unit_observed[d])
    for g in (np.arange(3, 200, 2), np.arange(200)):  # from the deviations kept for the donor
        direct = nanmean(ctx.yd[np.ix_(other, g)] - pc._similar_mean(pf, similar, other, g), axis=0)
        np.testing.assert_array_equal(pc._deviation(pf, ctx, t, similar, g), direct)
    assert len(ctx.deviations) == 1


def test_knn_over_donors_the_same_from_more_candidates_than_needed(cohort, fitted):
    data = model_data(cohort, fitted)
    pf = ProfileFeatures(data.values, layout_of(data))
    tissues = np.arange(pf.n_tissues)
    genes = [np.arange(0, 200, 3)] * pf.n_tissues
    few, _, few_bases = pf.donor_features(4, tissues, genes)
    pf.neighbour_rows = 10_000  # every candidate read: the same values (bitwise)
    many, _, many_bases = pf.donor_features(4, tissues, genes)
    for a, b, ba, bb in zip(few, many, few_bases, many_bases, strict=True):
        np.testing.assert_array_equal(a, b)
        for k in ba:
            np.testing.assert_array_equal(ba[k], bb[k])


def test_predict_rows_equals_predict(cohort, fitted):
    data = model_data(cohort, fitted)
    full = fitted.predict(data)
    rows = np.union1d([0, 3, 9], absent_rows(data)[::3])
    np.testing.assert_allclose(fitted.predict_rows(data, rows), full[rows], rtol=1e-6, atol=1e-9)
    block = absent_rows(data)[1::4]
    np.testing.assert_allclose(fitted.predict_rows(data, block), full[block], rtol=1e-6, atol=1e-9)


def test_fit_clears_the_cache(cohort, fitted):
    data = model_data(cohort, fitted)
    kept = data.values.copy()  # alive for the whole test: only the fit can drop its features
    held = profile_cache.profile_features(kept, layout_of(data), exact_max_donors=60, max_genes=2000)
    assert profile_cache.cached_profile_features() is held
    small = simulated(8, 3, 60, seed=0, frac_missing_samples=0.3, upstream=1000, downstream=500)
    model = gi.HybridImputer(**FAST_PROFILES).fit(small, donor_key="donor")
    assert profile_cache.cached_profile_features() is not held
    assert model.diagnostics_["profile_features"]["donors"] == 8


def test_large_cohort_path_close_to_exact(cohort, fitted):
    data = model_data(cohort, fitted)
    layout = layout_of(data)
    exact = ProfileFeatures(data.values, layout, exact_max_donors=100)
    approx = ProfileFeatures(data.values, layout, exact_max_donors=20, max_genes=150)
    assert exact.exact and not approx.exact
    pca = [i for i, n in enumerate(exact.names()) if n.startswith("pca_regression")]
    assert pca
    diffs, spreads = [], []
    for d in range(0, layout.n_donors, 3):
        tissues = np.arange(layout.n_tissues)
        xe_list, names, _ = exact.donor_features(d, tissues)
        xa_list, names_a, _ = approx.donor_features(d, tissues)
        xe, xa = np.stack(xe_list), np.stack(xa_list)
        assert names == names_a
        both = np.isfinite(xe[..., pca]) & np.isfinite(xa[..., pca])
        assert (np.isfinite(xe[..., pca]) == np.isfinite(xa[..., pca])).all()
        diffs.append((xe[..., pca] - xa[..., pca])[both])
        spreads.append(xe[..., pca][both] - xe[..., 0][..., None].repeat(len(pca), -1)[both])
    diff, spread = np.concatenate(diffs), np.concatenate(spreads)
    # the components' correction to the tissue mean agrees between the two paths (25 donors:
    # one donor moves the shared components more than it would above the default 60)
    assert np.sqrt(np.mean(diff**2)) < 0.5 * np.sqrt(np.mean(spread**2))

    # end to end: finite estimates close to the exact path's
    model = gi.HybridImputer(**FAST_PROFILES)
    model._profile_exact_max_donors = 20
    model._profile_max_genes = 150
    model.fit(cohort, donor_key="donor")
    assert model.diagnostics_["profile_features"]["exact_components"] is False
    rows = absent_rows(data)
    pred_a = model.predict_rows(data, rows)
    pred_e = fitted.predict_rows(data, rows)
    assert np.isfinite(pred_a).all()
    truth = np.log1p(np.asarray(cohort.layers["truth"]))[rows]
    mse_a, mse_e = np.mean((pred_a - truth) ** 2), np.mean((pred_e - truth) ** 2)
    assert mse_a < 1.15 * mse_e
    profile_cache.clear_profile_cache()


def test_cohort_cache_one_entry_per_array_and_key():
    from gex_impute.methods.hybrid.cohort_cache import CohortCache

    cache, calls = CohortCache(), []

    def build(v):
        calls.append(v)
        return v

    x = np.zeros((4, 3))
    assert cache.get(x, "a", lambda: build(1)) == 1
    assert cache.get(x[1:], "a", lambda: build(2)) == 1  # a view of the same array: kept
    assert cache.get(x, "b", lambda: build(3)) == 3  # another key: rebuilt
    assert cache.get(x.copy(), "b", lambda: build(4)) == 4  # another array: rebuilt
    assert calls == [1, 3, 4]
    y = np.ones(2)
    cache.get(y, "c", lambda: build(5))
    del y
    gc.collect()
    assert cache.value is None  # the freed array frees its value
    cache.get(x, "a", lambda: build(6))
    cache.clear()
    assert cache.value is None


def test_absent_scan_kept_for_the_rows_seen_rescanned_past_them():
    from gex_impute.methods._conformal import scan_observed

    values = np.full((10, 4), np.nan)
    values[:6, :2] = 1.0
    values[9, 3] = 2.0  # past the first view: must be found when a longer view comes
    for n in (8, 10, 7, 8):
        gene_absent, row_absent, value_range = observed_scan(values[:n])
        want = scan_observed(values[:n])
        np.testing.assert_array_equal(gene_absent, want[0])
        np.testing.assert_array_equal(row_absent, want[1])
        assert value_range == want[2] == ((1.0, 2.0) if n == 10 else (1.0, 1.0))
    assert not observed_scan(values)[0][3]


def test_profile_booster_cheapest_within_tolerance_and_round_trips(cohort, tmp_path, monkeypatch):
    from gex_impute.methods.hybrid import profile_model

    model = gi.HybridImputer(**{**FAST_PROFILES, "n_estimators": 60}, cv_max_donors=0)
    model.fit(cohort, donor_key="donor")  # few absent entries: the model's own settings only
    assert "profile_boosters" not in model.diagnostics_
    assert "booster_params" not in model.models_["profiles"]
    monkeypatch.setattr(profile_model, "PROFILE_SEARCH_ENTRIES", 0)  # as in a GTEx-sized cohort
    model.fit(cohort, donor_key="donor")
    fitted = model.models_["profiles"]
    assert fitted["choice"] == "xgboost"
    tried = model.diagnostics_["profile_boosters"].split("; ")
    assert len(tried) == 1 + len(profile_model.PROFILE_BOOSTERS)  # the model's own + the cheaper ones
    mses = [float(t.rsplit(" ", 1)[1]) for t in tried]
    levels = [int(t.split(": ")[1].split(" ")[0]) * int(t.split(" ")[1]) for t in tried]
    near = [i for i, m in enumerate(mses) if m <= (1 + profile_model.PROFILE_TOLERANCE) * min(mses)]
    chosen = fitted["booster_params"]
    assert (fitted["best_iteration"] + 1) * chosen["max_depth"] == min(levels[i] for i in near)
    assert model.boosters_["profiles"].num_boosted_rounds() >= fitted["best_iteration"] + 1
    data = model_data(cohort, model)
    rows = absent_rows(data)
    loaded = gi.HybridImputer.load(model.save(tmp_path / "m.zip"))
    np.testing.assert_array_equal(loaded.predict_rows(data, rows), model.predict_rows(data, rows))
    profile_cache.clear_profile_cache()


def test_chunked_predictions_in_a_worker_equal_one_chunk(cohort, fitted, monkeypatch):
    data = model_data(cohort, fitted)
    rows = absent_rows(data)
    whole = fitted.predict_rows(data, rows)
    monkeypatch.setattr(profile_cache, "PREDICT_CHUNK", 300)  # many chunks, one in flight at a time
    np.testing.assert_array_equal(fitted.predict_rows(data, rows), whole)


def test_a_units_features_never_read_its_own_values_in_a_sparse_cohort():
    """Change one observed profile: its own features and bases stay the same (training rows = absent ones).

    Sparse and small (15 donors x 6 tissues, two thirds of the profiles absent), so that some
    tissue pairs are never observed together and their correlation is unknown: a tissue then
    ranked beside itself among the donor's most correlated tissues, and a training row read its
    own target (the hybrid lost to the tissue mean there). Two cohort summaries are held fixed,
    since the test is about reading the unit's values, not about them: the pooled tissue
    correlation (T x T, which ranks and weighs the donor's other tissues) and the donor-effect
    sums (:class:`~gex_impute.methods.hybrid.profile_effect.DonorEffects`: donor ``d``'s
    coefficients leave out every unit involving ``d``, but which donors are similar to the
    others' units depends on ``d``'s values).
    """
    from gex_impute.methods.hybrid.profile_model import _unit_features

    adata = simulated(15, 6, 120, seed=4, frac_missing_samples=0.65)
    data, _ = from_anndata(adata, donor_key="donor", log_transform=True)
    layout = layout_of(data)
    values = data.values
    pf = ProfileFeatures(values, layout)
    assert np.isnan(pf.corr).sum() > pf.n_tissues  # unknown correlations beside the diagonal
    assert not (pf.top == np.arange(pf.n_tissues)[:, None]).any()  # bases.top_correlated
    observed_rows = np.flatnonzero(~np.isnan(values).all(1))
    rng = np.random.default_rng(0)
    # two observed profiles of every tissue
    for row in np.concatenate([observed_rows[layout.tissue[observed_rows] == t][:2] for t in range(6)]):
        d, t = int(layout.donor[row]), int(layout.tissue[row])
        changed = values.copy()
        changed[row] += rng.normal(0.0, 1.0, values.shape[1])
        before = _unit_features(ProfileFeatures(values, layout), d, np.array([t]), None, fitting=True)
        other = ProfileFeatures(changed, layout)
        other.corr, other.weights, other.top = pf.corr, pf.weights, pf.top
        other.tissue_corr = pf.tissue_corr  # (without d, but on residuals from all-donor means)
        other._effects = pf.effects()
        after = _unit_features(other, d, np.array([t]), None, fitting=True)
        for j, name in enumerate(before[1]):
            # exact up to rounding: leave-one-out sums subtract the unit's values from totals
            np.testing.assert_allclose(
                after[0][0][:, j], before[0][0][:, j], rtol=1e-6, atol=1e-9, err_msg=name
            )
        for key, base in before[2][0].items():
            np.testing.assert_allclose(after[2][0][key], base, rtol=1e-6, atol=1e-9, err_msg=key)


def test_tissue_correlation_without_a_donor_equals_the_others_pooled():
    """``correlation_without(d)``: the other donors' pooled correlation (same reference), ranks, weights."""
    import copy

    from gex_impute.methods.hybrid.bases import top_correlated
    from gex_impute.methods.hybrid.profile_cache import TissueCorrelation

    adata = simulated(15, 6, 120, seed=4, frac_missing_samples=0.65)
    data, _ = from_anndata(adata, donor_key="donor", log_transform=True)
    pf = ProfileFeatures(data.values, layout_of(data))
    several = np.flatnonzero(pf.unit_observed.sum(1) >= 3)  # donors in some tissue pair
    assert len(several) >= 3
    for d in several[:3]:
        corr, weights, top = pf.correlation_without(d)
        others = copy.copy(pf.units)
        others.row_of = pf.units.row_of.copy()
        others.row_of[d] = pf.units.n_units  # the all-NaN row: donor d absent
        expected = TissueCorrelation(others, pf.tm_all, pf.genes).pooled
        np.testing.assert_allclose(corr, expected, rtol=1e-9, atol=1e-12)
        np.testing.assert_array_equal(top, top_correlated(corr, pf.n_top))
        assert (np.diag(weights) == 0).all() and (weights >= 0).all()
        assert not np.allclose(np.nan_to_num(corr), np.nan_to_num(pf.corr))  # one of 15 donors weighs


def test_two_donors_absent_profile_uses_the_masked_rounds_model():
    """With 2 donors the profile model is not fitted (leave-one-donor-out needs 3): absent profiles
    go to the masked rounds' model at predict time too (they crashed on a feature-count mismatch)."""
    adata = gi.datasets.simulate(
        n_donors=2, n_tissues=2, n_genes=10, random_state=0,
        frac_missing_genes=0.0, frac_missing_samples=0.0, frac_missing_entries=0.0,
    )  # fmt: skip
    values = np.asarray(adata.X, dtype=np.float64)
    values[0] = np.nan
    adata.X = values
    model = gi.HybridImputer(**FAST_PROFILES).fit(adata, donor_key="donor")
    assert "profiles" in model.models_ and not model.profile_names_
    pred = model.predict(adata, donor_key="donor")
    assert np.isfinite(pred).all()
    table = gi.tl.evaluate(adata, protocol="samples", methods={"hybrid": gi.HybridImputer(**FAST_PROFILES)},
                           donor_key="donor", progress=False)  # fmt: skip
    assert np.isfinite(table.loc["hybrid", "mse"])


def test_estimates_never_leave_the_observed_range(cohort, fitted, monkeypatch):
    """A stack extrapolating from drifting bases (seen: 1.9e7 TPM on data up to 600) is clipped."""
    from gex_impute.methods.hybrid import model as model_module

    data = model_data(cohort, fitted)
    rows = absent_rows(data)[:2]
    monkeypatch.setattr(model_module, "predict_profiles", lambda m, v, lay, r, c, **k: np.full(len(r), 1e6))
    out = fitted.predict_rows(data, rows)
    observed = data.values[~np.isnan(data.values)]
    assert out.max() == observed.max()
