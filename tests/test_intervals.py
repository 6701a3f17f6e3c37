"""Prediction intervals of every method (``gex_impute.methods.intervals``): coverage, shape, persistence."""

from __future__ import annotations

import anndata
import numpy as np
import pytest

import gex_impute as gi
from gex_impute._data import from_anndata
from gex_impute.cli import main
from gex_impute.errors import ModelArchiveError, ParameterError
from gex_impute.methods.intervals import (
    MIN_UNITS,
    Calibration,
    _hide_rounds,
    _profile_units,
    calibrate,
    entry_patterns,
)


@pytest.fixture(scope="module")
def cohort():
    """20 donors x 5 tissues x 300 genes: enough units for a stable coverage estimate."""
    return gi.datasets.simulate(n_donors=20, n_tissues=5, n_genes=300, random_state=1)


@pytest.fixture(scope="module")
def data(cohort):
    return from_anndata(cohort, donor_key="donor")[0]


@pytest.mark.parametrize(
    ("protocol", "methods"), [("entries", ["mean", "knn_samples"]), ("samples", ["mean"])]
)
def test_coverage_near_nominal(cohort, protocol, methods):
    table = gi.tl.evaluate(
        cohort, protocol=protocol, methods=methods, donor_key="donor", interval=0.9, progress=False
    )
    for name in methods:
        # nominal 0.9: a broken calibration (no interval, unscaled scores, residuals of the
        # fitted entries) lands far outside; the split's own noise stays inside
        assert 0.84 <= table.loc[name, "coverage"] <= 0.96, table
        assert table.loc[name, "interval"] == 0.9
    wider = gi.tl.evaluate(
        cohort, protocol=protocol, methods=methods[:1], donor_key="donor", interval=0.5, progress=False
    )
    assert wider.loc[methods[0], "mean_width"] < table.loc[methods[0], "mean_width"]
    assert wider.loc[methods[0], "coverage"] < table.loc[methods[0], "coverage"]


def test_bounds_around_the_prediction_and_observed_have_zero_width(data):
    model = gi.get_method("knn_samples").fit(data)
    pred = model.predict(data)
    lower, upper = model.predict_interval(data, 0.9)
    missing = np.isnan(data.values)
    assert (lower[missing] <= pred[missing]).all() and (pred[missing] <= upper[missing]).all()
    assert (lower[missing] < upper[missing]).all()
    # within the observed range (an estimate's own value aside): a wider bound says nothing more
    lo, hi = np.nanmin(data.values), np.nanmax(data.values)
    assert (lower >= np.minimum(lo, pred)).all() and (upper <= np.maximum(hi, pred)).all()
    np.testing.assert_array_equal(lower[~missing], data.values[~missing])
    np.testing.assert_array_equal(upper[~missing], data.values[~missing])
    # every missingness pattern of the data was calibrated, each from its own refit
    assert set(model.calibration_.patterns) == {"genes", "profiles", "entries"}
    # rows= gives those rows of the whole answer; a higher level gives wider intervals
    rows = np.array([3, 0, 7])
    lo_rows, hi_rows = model.predict_interval(data, 0.9, rows=rows)
    np.testing.assert_array_equal(lo_rows, lower[rows])
    np.testing.assert_array_equal(hi_rows, upper[rows])
    lo95, hi95 = model.predict_interval(data, 0.95)
    assert (hi95 - lo95)[missing].mean() > (upper - lower)[missing].mean()


def test_anndata_in_input_units_and_orientation(cohort):
    model = gi.get_method("mean").fit(cohort)
    lower, upper = model.predict_interval(cohort.T.copy(), 0.8, tissue_key="tissue")
    assert lower.shape == (cohort.n_vars, cohort.n_obs)
    observed = ~np.isnan(cohort.X.T)
    np.testing.assert_allclose(lower[observed], cohort.X.T[observed], rtol=1e-6)
    assert (lower >= 0).all() and (upper >= lower).all()


def test_save_load_keeps_the_calibration(data, tmp_path):
    model = gi.get_method("pca_regression").fit(data)
    lower, upper = model.predict_interval(data, 0.9)
    model.save(tmp_path / "m.zip")
    again = gi.load_model(tmp_path / "m.zip")
    assert again.is_calibrated and again.calibration_.patterns == model.calibration_.patterns
    lo2, hi2 = again.predict_interval(data, 0.9)  # no recalibration: identical bounds
    np.testing.assert_array_equal(lo2, lower)
    np.testing.assert_array_equal(hi2, upper)
    # an uncalibrated model saves and loads as before
    plain = gi.get_method("mean").fit(data)
    plain.save(tmp_path / "plain")
    assert not gi.load_model(tmp_path / "plain").is_calibrated


def test_tampered_calibration_is_refused(data, tmp_path):
    import json

    model = gi.get_method("mean").fit(data).calibrate(data, patterns=("entries",))
    model.save(tmp_path / "m")
    params = json.loads((tmp_path / "m" / "params.json").read_text())
    params["fitted"]["calibration_"]["tables"]["entries"]["counts"][0] += 5
    (tmp_path / "m" / "params.json").write_text(json.dumps(params))
    with pytest.raises(ModelArchiveError, match="calibration"):
        gi.load_model(tmp_path / "m")


@pytest.mark.parametrize("bad", ["nan", "negative", "unsorted"])
def test_calibration_scores_are_checked_on_load(data, tmp_path, bad):
    """Scores of a saved calibration (absolute residuals, sorted per bin) are checked, not trusted."""
    model = gi.get_method("mean").fit(data).calibrate(data, patterns=("entries",))
    model.save(tmp_path / "m")
    path = tmp_path / "m" / "arrays" / "calibration_scores.npy"
    scores = np.load(path)
    assert len(scores) > 2 and (scores >= 0).all()
    if bad == "nan":
        scores[1] = np.nan
    elif bad == "negative":
        scores = scores - scores.max() - 1.0
    else:
        scores[[0, -1]] = scores[[-1, 0]]
    np.save(path, scores)
    with pytest.raises(ModelArchiveError, match="finite, non-negative and sorted"):
        gi.load_model(tmp_path / "m")


def test_calibration_scores_sorted_per_bin_even_after_empty_bins():
    """Bins concatenated: a bin may start below the last one, never drop inside (an empty first bin too)."""
    state = {"tables": {"entries": {"edges": [1.0, 2.0], "counts": [0, 2, 2]}}, "settings": {}}
    Calibration.from_state(state, np.array([0.2, 0.5, 0.1, 0.4]))
    with pytest.raises(ValueError, match="sorted within each bin"):
        Calibration.from_state(state, np.array([0.2, 0.5, 0.4, 0.1]))
    with pytest.raises(ValueError, match="sorted within each bin"):
        Calibration.from_state(state, np.array([0.5, 0.2, 0.1, 0.4]))


def test_deterministic_and_refit_recalibrates(data):
    def bounds(seed):
        model = gi.get_method("knn_samples", random_state=seed).fit(data)
        return model.predict_interval(data, 0.9)

    first, second = bounds(0), bounds(0)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    model = gi.get_method("mean").fit(data).calibrate(data)
    assert model.is_calibrated
    model.fit(data)
    assert not model.is_calibrated  # a refit drops the old calibration


@pytest.mark.parametrize("level", [0, 1, 1.5, -0.1, "0.9", True])
def test_bad_level(data, level):
    model = gi.get_method("mean").fit(data)
    with pytest.raises(ParameterError, match=r"level=.* strictly between 0 and 1"):
        model.predict_interval(data, level)


def test_bad_calibration_settings(data):
    model = gi.get_method("mean").fit(data)
    with pytest.raises(ParameterError, match="unknown missingness patterns"):
        model.calibrate(data, patterns=("rows",))
    with pytest.raises(ParameterError, match="fraction"):
        model.calibrate(data, fraction=0.9)
    with pytest.raises(ParameterError, match="n_rounds"):
        calibrate(model, data, n_rounds=0)


def test_patterns_and_calibration_state():
    observed = np.array([[True, False, True], [False, False, False], [True, False, False]])
    np.testing.assert_array_equal(entry_patterns(observed), [[-1, 0, -1], [1, 0, 1], [-1, 0, 2]])
    cal = Calibration()
    rng = np.random.default_rng(0)
    cal.add("entries", np.abs(rng.normal(size=1000)), rng.normal(size=1000), 1000)
    state, scores = cal.to_state()
    again = Calibration.from_state(state, scores)
    half = again.half_width(np.ones(4), np.array([2, 2, 0, 1]), np.zeros(4), 0.9)
    # the standard normal's |z| 90% quantile is 1.645: in the prediction bin of 0 (pattern 2,
    # "entries") and, for the patterns not calibrated, from all scores pooled
    assert half[0] == half[1] == pytest.approx(1.645, abs=0.2)
    assert half[2] == half[3] == pytest.approx(1.645, abs=0.1)
    with pytest.raises(ValueError, match="does not match"):
        Calibration.from_state(state, scores[:-1])


def test_cli_interval_writes_the_layers(sim, tmp_path):
    path = tmp_path / "sim.h5ad"
    gi.io.write_h5ad(sim, path)
    out = tmp_path / "imputed.h5ad"
    assert main(["impute", str(path), "-o", str(out), "--method", "mean", "--interval", "0.9", "-q"]) == 0
    after = anndata.read_h5ad(out)
    missing = after.layers["imputed_mask"]
    lower, value, upper = (after.layers[k] for k in ("imputed_lower", "imputed", "imputed_upper"))
    assert (lower <= value).all() and (value <= upper).all()
    assert (upper[missing] > lower[missing]).all()
    np.testing.assert_array_equal(lower[~missing], value[~missing])
    assert after.uns["imputed"]["interval"] == 0.9
    assert set(after.uns["imputed"]["interval_calibration"]) == {"genes", "profiles", "entries"}
    # a model saved calibrated gives the same intervals without refitting
    model = tmp_path / "model.zip"
    assert main(["fit", str(path), "-o", str(model), "--method", "mean", "--calibrate", "-q"]) == 0
    assert gi.load_model(model).is_calibrated
    again = tmp_path / "again.h5ad"
    assert (
        main(["impute", str(path), "-o", str(again), "--model", str(model), "--interval", "0.9", "-q"]) == 0
    )
    np.testing.assert_allclose(anndata.read_h5ad(again).layers["imputed_upper"], upper)


def test_patterns_of_the_data_as_given(data):
    # absent profiles (all-NaN rows) are left out of the refits, but still calibrated for
    model = gi.get_method("mean").fit(data).calibrate(data)
    assert set(model.calibration_.patterns) == {"genes", "profiles", "entries"}


def test_nothing_missing_and_rows_of_knn_samples(data):
    complete = data.with_values(np.nan_to_num(data.values, nan=1.0))
    model = gi.get_method("mean").fit(complete)
    lower, upper = model.predict_interval(complete, 0.9)
    np.testing.assert_array_equal(lower, complete.values)
    np.testing.assert_array_equal(upper, complete.values)
    assert not model.is_calibrated  # nothing to calibrate for
    knn = gi.get_method("knn_samples", n_neighbors=3).fit(data)
    rows = np.array([5, 1, 30])
    np.testing.assert_allclose(knn.predict_rows(data, rows), knn.predict(data)[rows])


@pytest.mark.parametrize(("n_donors", "n_tissues"), [(12, 4), (130, 4)])
def test_profile_rounds_hide_a_small_share_each(n_donors, n_tissues):
    """A small cohort gets several refits of 5% of its profiles (enough for 25), a large one a single one."""
    adata = gi.datasets.simulate(
        n_donors=n_donors, n_tissues=n_tissues, n_genes=20, frac_missing_samples=0.0, random_state=0
    )
    data = from_anndata(adata, donor_key="donor")[0]
    unit, _ = _profile_units(data, data.observed)
    n_units = len(np.unique(unit[unit >= 0]))
    masks = _hide_rounds(data, "profiles", 0.05, "auto", np.random.default_rng(0))
    hidden = [np.unique(unit[m.any(axis=1)]) for m in masks]
    per_round = int(np.ceil(0.05 * n_units))
    assert all(len(h) == per_round for h in hidden)  # never more than 5% of the profiles in a refit
    assert len(np.unique(np.concatenate(hidden))) == sum(len(h) for h in hidden)  # rounds are disjoint
    assert len(masks) == max(1, int(np.ceil(MIN_UNITS / per_round)))  # 48 profiles: 9 refits of 3
    for m in masks:  # every donor keeps a profile in every refit
        kept = data.donor_codes[~m.any(axis=1)]
        assert len(np.unique(kept)) == n_donors


def _observed_only(donors, tissues, genes_, seed, *, genes, entries):
    """A simulated cohort without absent profiles: ``genes`` / ``entries`` the missing shares."""
    return gi.datasets.simulate(
        n_donors=donors, n_tissues=tissues, n_genes=genes_, random_state=seed, absent="drop",
        frac_missing_genes=genes, frac_missing_samples=0.0, frac_missing_entries=entries,
    )  # fmt: skip


def test_bounds_stay_finite_and_within_the_observed_range():
    # genes of almost no spread give huge scores (error / scale): times a wide gene's scale, the
    # half-widths reached hundreds of log1p units, 1e13 TPM here and inf in float32 at x 1e6
    adata = _observed_only(6, 9, 198, 14, genes=0.05, entries=0.2)
    adata.X = (adata.X * 1e6).astype(np.float32)
    result = gi.tl.impute(
        adata, method="nearest_gene", donor_key="donor", interval=0.9, progress=False, copy=True
    )
    upper, lower = result.layers["imputed_upper"], result.layers["imputed_lower"]
    assert np.isfinite(upper).all() and np.isfinite(lower).all()
    assert upper.max() <= np.nanmax(adata.X) * (1 + 1e-6) and lower.min() >= 0


def test_too_few_scores_for_the_level_are_reported(caplog):
    import logging

    adata = _observed_only(4, 2, 20, 1, genes=0.0, entries=0.1)
    model = gi.get_method("mean").fit(adata).calibrate(adata)
    # scattered entries: as many refits as 25 hidden entries need (one refit hid 5%, 8 entries)
    assert len(model.calibration_.scores) >= 25
    with caplog.at_level(logging.WARNING, logger="gex_impute"):
        model.predict_interval(adata, 0.9)
    assert "calibration scores" not in caplog.text
    with caplog.at_level(logging.WARNING, logger="gex_impute"):
        model.predict_interval(adata, 0.99)
    assert "fewer than the 99 that level needs" in caplog.text


def test_calibration_refits_of_a_gpu_model_run_where_there_is_no_gpu():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is present: the refits use it")
    from gex_impute.methods.intervals import _clone

    clone = _clone(gi.HybridImputer(device="cuda", progress=True))  # as loaded from a GPU machine
    assert clone.device == "auto" and clone.progress is False
    assert _clone(gi.HybridImputer(device="cpu")).device == "cpu"


def test_tools_calibrate_a_copy_never_the_callers_model():
    """impute(model=m) / complete(method=m) with intervals leave ``m`` as it was (sweep, session 17).

    They used to calibrate ``m`` itself, so the next call with ``m`` on other data reused the
    first data's calibration (other intervals for identical data), depending on ``progress``.
    """
    import pickle

    def cohort(seed):
        return gi.datasets.simulate(n_donors=8, n_tissues=4, n_genes=120, random_state=seed)

    model = gi.get_method("knn").fit(cohort(0), donor_key="donor")
    model.calibrate(cohort(0), patterns=("entries",))
    before = pickle.dumps(model.calibration_)
    first = cohort(1)
    first.X = first.X * np.random.default_rng(0).lognormal(0, 1.5, first.X.shape).astype(np.float32)
    gi.tl.impute(first, model=model, interval=0.9, progress=False)
    gi.tl.complete(cohort(3), method=model, interval=0.9, progress=False)
    assert pickle.dumps(model.calibration_) == before  # nothing added to the caller's model
    again, fresh = cohort(2), cohort(2)
    gi.tl.impute(again, model=model, interval=0.9, progress=False)
    other = gi.get_method("knn").fit(cohort(0), donor_key="donor")
    other.calibrate(cohort(0), patterns=("entries",))
    gi.tl.impute(fresh, model=other, interval=0.9, progress=False)
    np.testing.assert_array_equal(again.layers["imputed_lower"], fresh.layers["imputed_lower"])
    np.testing.assert_array_equal(again.layers["imputed_upper"], fresh.layers["imputed_upper"])
