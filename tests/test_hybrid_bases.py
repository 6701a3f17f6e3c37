"""Base estimators of the hybrid (:mod:`gex_impute.methods.hybrid.bases`, :mod:`.completion`)."""

from __future__ import annotations

import numpy as np
import pytest

from gex_impute.methods.hybrid import completion
from gex_impute.methods.hybrid.bases import low_rank


@pytest.mark.parametrize("shape", [(450, 900), (600, 420)])
def test_randomized_vectors_project_as_sklearn_randomized_svd(shape):
    from sklearn.utils.extmath import randomized_svd

    rng = np.random.default_rng(0)
    zc = rng.normal(size=(shape[0], 8)) @ rng.normal(size=(8, shape[1])) + 0.1 * rng.normal(size=shape)
    zc -= zc.mean(0)
    gauss: dict = {}
    u = completion._randomized_left_vectors(zc, 6, 3, gauss)
    ref, _, _ = randomized_svd(zc, 6, n_oversamples=10, n_iter=2, random_state=3)
    # the same vectors up to their signs: the same projection
    np.testing.assert_allclose(u @ (u.T @ zc), ref @ (ref.T @ zc), rtol=0, atol=1e-10)
    again = completion._randomized_left_vectors(zc, 6, 3, gauss)  # the kept random start
    np.testing.assert_array_equal(again, u)
    assert len(gauss) == 1


@pytest.mark.parametrize("shape", [(60, 500), (500, 60), (450, 420)])
def test_low_rank_recovers_a_low_rank_matrix(shape):
    rng = np.random.default_rng(1)
    truth = rng.normal(size=(shape[0], 3)) @ rng.normal(size=(3, shape[1])) + rng.normal(size=shape[1])
    v = truth.copy()
    v[rng.random(shape) < 0.1] = np.nan
    v[2] = np.nan  # a row without data stays NaN
    est = low_rank(v, [1, 3], n_iter=30)
    assert np.isnan(est[3][2]).all()
    miss = np.isnan(v)
    miss[2] = False
    assert np.abs(est[3] - truth)[miss].max() < 1e-3
    assert np.abs(est[1] - truth)[miss].mean() > 10 * np.abs(est[3] - truth)[miss].mean()


@pytest.mark.parametrize("shape", [(60, 500), (500, 60), (450, 420)])
def test_low_rank_at_entries_equals_the_full_reconstruction_there(shape):
    rng = np.random.default_rng(3)
    v = rng.normal(size=(shape[0], 4)) @ rng.normal(size=(4, shape[1])) + 0.3 * rng.normal(size=shape)
    v[rng.random(shape) < 0.2] = np.nan
    v[1] = np.nan  # a row and a column without data: NaN there
    v[:, 3] = np.nan
    rows = rng.integers(0, shape[0], 3000)
    cols = rng.integers(0, shape[1], 3000)
    rows[:5], cols[5:10] = 1, 3
    full = low_rank(v, [2, 5])
    at = low_rank(v, [2, 5], at=(rows, cols))
    for r in (2, 5):  # bitwise: the same products, read at the entries
        np.testing.assert_array_equal(at[r], full[r][rows, cols])
    np.testing.assert_array_equal(np.isnan(at[2]), (rows == 1) | (cols == 3))


def test_gene_knn_as_a_full_eigendecomposition_rows_without_data_ignored():
    from gex_impute.methods.hybrid.bases import gene_knn

    rng = np.random.default_rng(2)
    v = rng.normal(size=(80, 5)) @ rng.normal(size=(5, 300)) + 0.5 * rng.normal(size=(80, 300))
    v[rng.random(v.shape) < 0.2] = np.nan
    v[:, :2] = np.nan  # genes never observed: -1
    got = gene_knn(v, k=10)
    assert (got[:2] == -1).all()
    # reference: every row, all eigenvectors, the top 32 kept
    z = np.where(np.isnan(v), np.nanmean(v, axis=1, keepdims=True), v)[:, 2:]
    z = np.linalg.eigh((z - z.mean(1, keepdims=True)) @ (z - z.mean(1, keepdims=True)).T)[1][:, -32:].T @ (
        z - z.mean(1, keepdims=True)
    )
    d = ((z[:, :, None] - z[:, None, :]) ** 2).sum(0)
    np.fill_diagonal(d, np.inf)
    ref = np.argsort(d, axis=1)[:, :10] + 2
    assert all(set(a) == set(b) for a, b in zip(got[2:], ref, strict=True))
    padded = np.vstack([np.full((7, 300), np.nan), v])  # samples without data change nothing
    np.testing.assert_array_equal(gene_knn(padded, k=10), got)


@pytest.mark.parametrize("ks", [(1, 2, 4, 8, 16), (1, 3, 10), (40,)])
def test_knn_at_equals_knn_rows_at_the_entries(ks):
    from gex_impute.methods.hybrid.bases import knn_at, knn_rows, nan_euclidean

    rng = np.random.default_rng(4)
    v = rng.normal(size=(60, 80))
    v[rng.random(v.shape) < 0.6] = np.nan  # often fewer than k neighbours observed
    v[5] = np.nan  # a row without data: NaN
    dist = nan_euclidean(v)
    rows, cols = rng.integers(0, 60, 400), rng.integers(0, 80, 400)
    at = knn_at(v, ks, rows, cols, dist=dist, chunk=64)
    full = knn_rows(v, ks, dist=dist, rows=np.unique(rows))
    for k in ks:
        np.testing.assert_array_equal(at[k], full[k][rows, cols])  # bitwise: the same order of sums
        assert np.isnan(at[k][rows == 5]).all()


def test_group_sums_as_add_at():
    from gex_impute.methods.hybrid.bases import group_sums

    rng = np.random.default_rng(6)
    v = rng.normal(size=(300, 40))
    v[rng.random(v.shape) < 0.3] = np.nan
    codes = rng.integers(-1, 7, 300)
    sums, counts = group_sums(v, codes, 8)
    ref_s, ref_c = np.zeros((8, 40)), np.zeros((8, 40))
    ok = codes >= 0
    np.add.at(ref_s, codes[ok], np.nan_to_num(v[ok]))
    np.add.at(ref_c, codes[ok], ~np.isnan(v[ok]))
    np.testing.assert_array_equal(sums, ref_s)
    np.testing.assert_array_equal(counts, ref_c)
    assert counts.dtype == np.float64 and (counts[7] == 0).all()


def test_group_sums_and_means_of_filled_values_equal_those_of_the_values():
    from gex_impute.methods._fallback import filled_mean, nanmean_axis
    from gex_impute.methods.hybrid.bases import group_sums

    rng = np.random.default_rng(4)
    v = rng.normal(size=(90, 70))
    v[rng.random(v.shape) < 0.3] = np.nan
    v[:, 5] = np.nan
    codes = rng.integers(-1, 6, 90)
    obs = ~np.isnan(v)
    x0 = np.where(obs, v, 0.0)
    for a, b in zip(group_sums(v, codes, 6), group_sums(x0, codes, 6, observed=obs), strict=True):
        np.testing.assert_array_equal(a, b)  # bitwise
    for axis in (0, 1):
        np.testing.assert_array_equal(filled_mean(x0, obs, axis), nanmean_axis(v, axis))
    np.testing.assert_array_equal(filled_mean(x0, obs, 0), nanmean_axis(v.T, 1))


def test_tree_features_fill_the_other_rows_from_those_rows_alone():
    from gex_impute.methods.hybrid.row_models import _tree_features

    rng = np.random.default_rng(0)
    truth = rng.normal(size=(20, 2)) @ rng.normal(size=(2, 300)) + 0.05 * rng.normal(size=(20, 300))
    hidden = rng.random(truth.shape) < 0.2
    others = np.delete(np.where(hidden, np.nan, truth), 0, axis=0)  # the rows other than row 0
    k = len(others)
    x, raw = _tree_features(others), _tree_features(others, fill_rank=0)
    observed = ~np.isnan(others.T)
    np.testing.assert_array_equal(x[:, :k][observed], others.T[observed].astype(np.float32))
    assert np.isnan(raw[:, :k][~observed]).all()  # without a fill: NaN (XGBoost routes them)
    np.testing.assert_array_equal(x[:, k:], raw[:, k:])  # the summaries are of the values as observed
    # the fill recovers the hidden values of a low-rank matrix better than the gene means
    fill_err = np.abs(x[:, :k][~observed] - np.delete(truth, 0, axis=0).T[~observed])
    mean_err = np.abs(raw[:, k][:, None].repeat(k, 1)[~observed] - np.delete(truth, 0, axis=0).T[~observed])
    assert fill_err.mean() < 0.85 * mean_err.mean()
