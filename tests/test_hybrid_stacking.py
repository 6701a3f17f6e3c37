"""The stacking step: a ridge stack of the bases as the reference, and the trees' gene summaries."""

from __future__ import annotations

import numpy as np

from gex_impute.methods.hybrid.row_models import _tree_features
from gex_impute.methods.hybrid.stacking import RIDGE_REFERENCE, apply_model, fit_pattern_model


def _two_noisy_bases(n: int = 4000, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.normal(size=n)
    bases = {
        "tissue_mean": np.zeros(n),
        "a": y + rng.normal(scale=0.5, size=n),
        "b": y + rng.normal(scale=0.5, size=n),
    }
    x = np.column_stack([bases["a"], bases["b"]]).astype(np.float32)
    return x, y, bases


def _fit(x, y, bases, **kwargs):
    return fit_pattern_model(
        x,
        y,
        bases,
        ["a", "b"],
        groups=np.arange(len(y)) % 50,
        n_groups=50,
        use_xgboost=False,
        params={"nthread": 1, "max_depth": 2, "eta": 0.3},
        n_estimators=20,
        rng=np.random.default_rng(0),
        **kwargs,
    )


def test_ridge_stack_wins_the_reference_when_it_beats_every_base():
    # two independent noisy copies of y: their average halves the error variance
    x, y, bases = _two_noisy_bases()
    model, _ = _fit(x, y, bases, use_ridge_reference=True)
    assert model["reference"] == RIDGE_REFERENCE
    assert model["scores"][RIDGE_REFERENCE] < 0.7 * min(model["scores"]["a"], model["scores"]["b"])
    # applied to new rows drawn the same way, the stack keeps its advantage
    x2, y2, bases2 = _two_noisy_bases(seed=1)
    pred = apply_model(model, None, x2, bases2, ["a", "b"], 1)
    assert np.mean((pred - y2) ** 2) < 0.7 * np.mean((bases2["a"] - y2) ** 2)


def test_ridge_reference_is_off_unless_asked():
    x, y, bases = _two_noisy_bases()
    model, _ = _fit(x, y, bases)
    assert model["reference"] in ("a", "b")
    assert RIDGE_REFERENCE not in model["scores"]


def test_tree_features_append_per_gene_summaries_of_the_other_rows():
    others = np.array([[1.0, np.nan, np.nan], [3.0, 2.0, np.nan], [5.0, 4.0, np.nan]])
    x = _tree_features(others)
    assert x.dtype == np.float32
    assert x.shape == (3, 3 + 5)
    np.testing.assert_array_equal(x[:, :3], others.T.astype(np.float32))
    mean, sd, high, low, n_missing = x[:, 3:].T
    np.testing.assert_allclose(mean[:2], [3.0, 3.0])
    np.testing.assert_allclose(sd[:2], [np.std([1.0, 3.0, 5.0]), 1.0], rtol=1e-6)
    np.testing.assert_array_equal(high[:2], [5.0, 4.0])
    np.testing.assert_array_equal(low[:2], [1.0, 2.0])
    np.testing.assert_array_equal(n_missing, [0, 1, 3])
    # a gene missing in every other row has no summaries (XGBoost routes the NaNs)
    assert np.isnan(x[2, 3:7]).all()


def test_whole_gene_trees_are_shallower_than_the_other_patterns():
    from gex_impute import HybridImputer
    from gex_impute.methods.hybrid.patterns import GENE_MAX_DEPTH, _pattern_params

    model = HybridImputer(max_depth=6)
    assert _pattern_params(model, "genes")["max_depth"] == GENE_MAX_DEPTH < 6
    assert _pattern_params(model, "entries")["max_depth"] == 6
    # a user's shallower setting is kept
    assert _pattern_params(HybridImputer(max_depth=2), "genes")["max_depth"] == 2


def test_infinite_features_are_missing_values_to_the_boosters():
    """A float32 feature that overflowed (values near 1e20, no log1p) reads as missing, not an error."""
    from gex_impute.methods.hybrid.stacking import booster_predict, train_booster

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3)).astype(np.float32)
    r = x[:, 0] + 0.1 * rng.normal(size=200)
    x[::7, 1] = np.inf
    params = {"max_depth": 2, "eta": 0.3, "nthread": 1, "tree_method": "hist"}
    booster, best, _ = train_booster(
        x, r, np.arange(200) % 5 == 0, ["a", "b", "c"], params=params, n_estimators=20, seed=0
    )
    pred = booster_predict(booster, x, ["a", "b", "c"], best, 1)
    assert np.isfinite(pred).all() and np.corrcoef(pred, r)[0, 1] > 0.8
