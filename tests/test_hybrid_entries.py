"""The hybrid's scattered-entry (P2) parts: the per-sample tree regression base."""

from __future__ import annotations

import numpy as np
import pytest

from gex_impute.methods.hybrid.bases import knn_at, knn_rows, nan_euclidean, ridge_rows, tree_rows
from gex_impute.methods.hybrid.entries import EntryFeatures, tissue_correlation
from gex_impute.methods.hybrid.masking import Layout


def _tissues_with_switches(seed=0, n=8, p=1500):
    """Tissue means where a gene's level in tissue 0 switches on with its level in tissue 1."""
    rng = np.random.default_rng(seed)
    level = rng.normal(size=p)
    values = level[None, :] + 0.2 * rng.normal(size=(n, p))
    values[0] = np.where(values[1] > 0.5, 3.0, -1.0) + 0.1 * rng.normal(size=p)
    return values


def test_tree_rows_predicts_only_hidden_entries_and_catches_a_switch():
    values = _tissues_with_switches()
    truth = values.copy()
    hidden = np.random.default_rng(1).random(values.shape) < 0.2
    masked = np.where(hidden, np.nan, values)
    est = tree_rows(masked, n_estimators=60)
    assert np.isnan(est[~hidden]).all() and np.isfinite(est[hidden]).all()
    # the switch is nonlinear: trees get it, the linear regression of one row on the others not
    sel = hidden[0]
    start = np.where(hidden, np.nanmean(masked, axis=1, keepdims=True), masked)
    lin = ridge_rows(masked, start)
    mse_tree = np.mean((est[0, sel] - truth[0, sel]) ** 2)
    mse_lin = np.mean((lin[0, sel] - truth[0, sel]) ** 2)
    assert mse_tree < 0.5 * mse_lin, (mse_tree, mse_lin)
    # deterministic, and the input is not modified
    before = masked.copy()
    np.testing.assert_array_equal(tree_rows(masked, n_estimators=60), est)
    np.testing.assert_array_equal(np.isnan(masked), np.isnan(before))
    # rows fitted in parallel on several threads: the same estimates
    np.testing.assert_array_equal(tree_rows(masked, n_estimators=60, nthread=3), est)


def test_tree_rows_skips_rows_with_too_few_observed_values():
    values = _tissues_with_switches(p=200)
    values[2, 10:] = np.nan  # 10 observed values < min_observed
    values[3, :5] = np.nan
    est = tree_rows(values, min_observed=50, n_estimators=10)
    assert np.isnan(est[2]).all() and np.isfinite(est[3, :5]).all()


def test_entry_features_stack_the_tree_base_for_scattered_entries_only(monkeypatch):
    from gex_impute.methods.hybrid import entries

    monkeypatch.setattr(entries, "MIN_TREE_GENES", 600)  # (a small table, for speed)
    values = _tissues_with_switches(p=600)
    layout = Layout(np.arange(8), 8, None, 0)
    masked = values.copy()
    masked[0, :40] = np.nan
    fb = EntryFeatures(n_similar=0, rank_samples=(2,), knn_k=(1,))
    rows, cols = np.zeros(40, int), np.arange(40)
    x, names, bases = fb.build(masked, layout, rows, cols)
    assert "trees_samples" in bases and "trees_samples" in names
    assert np.isfinite(bases["trees_samples"]).all()
    masked[:, 50] = np.nan  # only a whole gene asked for: the tree base is not computed
    _, names, bases = fb.build(masked, layout, np.arange(8), np.full(8, 50))
    assert "trees_samples" not in bases
    _, names, bases = EntryFeatures(n_similar=0, tree_samples=False).build(masked, layout, rows, cols)
    assert "trees_samples" not in names


@pytest.mark.parametrize("tissue_rows", [True, False])
def test_entry_features_leave_the_tree_base_out_above_its_row_limit_or_below_its_genes(
    monkeypatch, tissue_rows
):
    # one booster per sample on the others: more rows than its limit, no tree base; the limit is
    # MAX_TREE_TISSUES when each tissue holds one sample, MAX_TREE_SAMPLES otherwise
    from gex_impute.methods.hybrid import entries

    values = _tissues_with_switches(p=600)
    if tissue_rows:
        layout, own, other = Layout(np.arange(8), 8, None, 0), "MAX_TREE_TISSUES", "MAX_TREE_SAMPLES"
    else:
        layout = Layout(np.arange(8) % 2, 2, np.arange(8) // 2, 4)
        own, other = "MAX_TREE_SAMPLES", "MAX_TREE_TISSUES"
    values[0, :40] = np.nan
    fb = EntryFeatures(n_similar=0, rank_samples=(2,), knn_k=(1,))
    rows, cols = np.zeros(40, int), np.arange(40)
    monkeypatch.setattr(entries, "MIN_TREE_GENES", 600)
    monkeypatch.setattr(entries, own, 8)
    monkeypatch.setattr(entries, other, 7)
    assert "trees_samples" in fb.build(values, layout, rows, cols)[1]
    monkeypatch.setattr(entries, own, 7)
    monkeypatch.setattr(entries, other, 8)
    _, names, bases = fb.build(values, layout, rows, cols)
    assert "trees_samples" not in names and "trees_samples" not in bases
    assert "ridge_samples" in bases  # the other bases of few samples stay
    # and no tree base in a table of fewer genes than MIN_TREE_GENES
    monkeypatch.setattr(entries, own, 8)
    assert "trees_samples" in fb.build(values, layout, rows, cols)[1]
    monkeypatch.setattr(entries, "MIN_TREE_GENES", 601)
    assert "trees_samples" not in fb.build(values, layout, rows, cols)[1]


@pytest.mark.parametrize("donors", [True, False])
def test_entry_features_skip_bases_nan_at_genes_without_data(donors):
    # whole-gene rounds ask only for genes without data: the skipped bases give the same design
    rng = np.random.default_rng(0)
    n_d, n_t, p = (31, 4, 300) if donors else (1, 10, 300)  # rows above / below MAX_RIDGE_SAMPLES
    n = n_d * n_t
    values = rng.normal(size=(n, p)) + rng.normal(size=p)
    values[rng.random((n, p)) < 0.05] = np.nan
    values[:, :30] = np.nan  # genes without data
    tissue = np.arange(n) % n_t
    layout = Layout(tissue, n_t, np.arange(n) // n_t, n_d) if donors else Layout(tissue, n_t, None, 0)
    rows, cols = np.nonzero(np.isnan(values[:, :30]))
    kw = {"n_similar": 3, "tree_samples": False, "tss_key": None}
    x_fast, names_fast, bases_fast = EntryFeatures(**kw).build(values, layout, rows, cols)
    x_full, names_full, bases_full = EntryFeatures(**kw, skip_unused=False).build(values, layout, rows, cols)
    assert names_fast == names_full
    np.testing.assert_array_equal(x_fast, x_full)
    assert bases_fast.keys() == bases_full.keys()
    for key, full in bases_full.items():
        np.testing.assert_array_equal(bases_fast[key], full, err_msg=key)
    assert any(n.startswith("knn_donors") for n in names_full) == donors
    assert ("ridge_samples" in names_full) == (not donors)


def test_knn_at_equals_knn_rows_at_the_asked_entries():
    rng = np.random.default_rng(1)
    values = rng.normal(size=(120, 300))
    values[rng.random(values.shape) < 0.3] = np.nan
    values[:3] = np.nan  # rows with nothing observed
    rows, cols = np.nonzero(np.isnan(values) & (rng.random(values.shape) < 0.1))
    rows, cols = np.r_[rows, 0, 5, 6], np.r_[cols, 1, 2, 3]  # rows asked for one column only
    dist = nan_euclidean(values)
    ks = (1, 3, 8)
    full = knn_rows(values, ks, dist=dist, rows=np.unique(rows))
    at = knn_at(values, ks, rows, cols, dist=dist)
    for k in ks:
        np.testing.assert_array_equal(at[k], full[k][rows, cols])  # bitwise
    assert np.isnan(at[1][rows < 3]).all() and np.isfinite(at[8][rows >= 3]).mean() > 0.9
    where = cols % 2 == 0  # only these entries computed, the others NaN
    some = knn_at(values, ks, rows, cols, dist=dist, where=where)
    np.testing.assert_array_equal(some[3], np.where(where, at[3], np.nan))


def test_tissue_correlation_equals_the_loop_over_pairs():
    rng = np.random.default_rng(2)
    cube = rng.normal(size=(20, 6, 200)) + rng.normal(size=(1, 6, 200))
    cube[rng.random(cube.shape) < 0.3] = np.nan
    cube[:, 3] = np.nan  # a tissue never observed
    cube[:19, 4] = np.nan  # one with too few pairs
    expected = np.full((6, 6), np.nan)
    for a in range(6):
        for b in range(6):
            ok = ~np.isnan(cube[:, a]) & ~np.isnan(cube[:, b])
            if a != b and ok.sum() >= 20:
                expected[a, b] = np.corrcoef(cube[:, a][ok], cube[:, b][ok])[0, 1]
    np.testing.assert_allclose(tissue_correlation(cube), expected, rtol=0, atol=1e-12)
    obs = ~np.isnan(cube)  # zero-filled values and their mask: the same sums, bitwise
    filled = tissue_correlation(np.where(obs, cube, 0.0), observed=obs)
    np.testing.assert_array_equal(filled, tissue_correlation(cube))


def test_small_cohorts_get_masked_rounds_until_enough_entry_rows(monkeypatch):
    # few samples x few genes yield few scattered-entry rows a round: rounds go on (at most
    # MAX_ROUNDS) until MIN_ENTRY_ROWS, where n_rounds alone would stop
    import gex_impute as gi
    from gex_impute.methods.hybrid import patterns

    adata = gi.datasets.simulate(
        n_donors=4, n_tissues=3, n_genes=60, frac_missing_genes=0, frac_missing_samples=0,
        frac_missing_entries=0.1, random_state=0,
    )  # fmt: skip
    kw = {"n_estimators": 10, "n_rounds": 2, "use_sequence": False, "n_jobs": 1, "progress": False}
    model = gi.HybridImputer(**kw).fit(adata)
    assert model.patterns_ == ["entries"]
    rounds, rows = model.diagnostics_["n_masked_rounds"], model.diagnostics_["n_entry_rows"]
    assert 2 < rounds <= patterns.MAX_ROUNDS
    assert rows >= patterns.MIN_ENTRY_ROWS or rounds == patterns.MAX_ROUNDS
    monkeypatch.setattr(patterns, "MIN_ENTRY_ROWS", 0)
    assert gi.HybridImputer(**kw).fit(adata).diagnostics_["n_masked_rounds"] == 2
