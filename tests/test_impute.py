from __future__ import annotations

import inspect

import anndata as ad
import numpy as np
import pytest

import gex_impute as gi
from gex_impute._data import register_keys
from gex_impute.errors import ParameterError
from gex_impute.methods.baselines import MeanImputer


def test_signature_matches_contract():
    sig = inspect.signature(gi.tl.impute)
    params = sig.parameters
    assert next(iter(params)) == "adata"
    expected = {
        "method": "hybrid",
        "tissue_key": None,  # registered (register_keys), else "tissue"
        "donor_key": None,  # registered, else unknown
        "layer": None,  # registered, else X
        "key_added": "imputed",
        "model": None,
        "log_transform": "auto",
        "interval": None,
        "random_state": 0,
        "progress": True,
        "overwrite": False,
        "copy": False,
    }
    for name, default in expected.items():
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY
        assert params[name].default == default


def test_impute_in_place(sim, tmp_path):
    x_before = sim.X.copy()
    missing = np.isnan(sim.X)
    assert missing.any()
    assert gi.impute(sim, method="knn", donor_key="donor", progress=False) is None
    np.testing.assert_array_equal(sim.X, x_before)  # X never modified (NaN positions included)
    out = sim.layers["imputed"]
    assert out.dtype == x_before.dtype
    np.testing.assert_array_equal(out[~missing], x_before[~missing])  # observed unchanged, bitwise
    assert np.isfinite(out).all() and (out[missing] >= 0).all()  # TPM-like units
    np.testing.assert_array_equal(sim.layers["imputed_mask"], missing)
    info = sim.uns["imputed"]
    assert info["method"] == "knn"
    assert info["n_imputed"] == missing.sum()
    assert info["log1p"] is True
    assert info["version"] == gi.__version__
    assert info["params"]["n_neighbors"] == 20
    # h5ad-writable
    path = tmp_path / "imputed.h5ad"
    sim.write_h5ad(path)
    back = ad.read_h5ad(path)
    np.testing.assert_array_equal(back.layers["imputed"], out)
    assert back.uns["imputed"]["method"] == "knn"


def test_impute_values_are_plausible(sim):
    truth = sim.layers["truth"]
    missing = np.isnan(sim.X)
    gi.impute(sim, method="softimpute", progress=False)
    err_model = np.mean((np.log1p(sim.layers["imputed"][missing]) - np.log1p(truth[missing])) ** 2)
    err_zero = np.mean(np.log1p(truth[missing]) ** 2)
    assert err_model < 0.5 * err_zero


def test_copy_and_key_added(sim):
    result = gi.impute(sim, method="mean", key_added="filled", copy=True, progress=False)
    assert result is not sim
    assert "filled" not in sim.layers and "filled" not in sim.uns
    assert {"filled", "filled_mask"} <= set(result.layers)
    assert result.uns["filled"]["method"] == "mean"


def test_transposed_orientation(sim):
    expected = gi.impute(sim, method="mean", copy=True, progress=False).layers["imputed"]
    flipped = sim.T.copy()
    gi.impute(flipped, method="mean", progress=False)
    np.testing.assert_array_equal(flipped.layers["imputed"], expected.T)
    np.testing.assert_array_equal(flipped.layers["imputed_mask"], np.isnan(flipped.X))


def test_layer_and_log_transform(sim):
    sim.layers["logged"] = np.log1p(sim.X)
    gi.impute(sim, method="mean", layer="logged", key_added="a", progress=False)
    assert sim.uns["a"]["log1p"] is False  # already on a log scale: auto leaves it alone
    assert sim.uns["a"]["layer"] == "logged"
    gi.impute(sim, method="mean", log_transform=False, key_added="b", progress=False)
    gi.impute(sim, method="mean", log_transform=True, key_added="c", progress=False)
    missing = np.isnan(sim.X)
    # the arithmetic mean of TPM exceeds the back-transformed mean of log1p (Jensen)
    assert (sim.layers["b"][missing] >= sim.layers["c"][missing] - 1e-4).all()


def test_method_instance_and_pretrained_model(sim):
    method = gi.get_method("distance", k=5, window=500_000, power=1.0)
    gi.impute(sim, method=method, progress=False)
    assert sim.uns["imputed"]["params"]["k"] == 5
    assert hasattr(method, "k_")  # the instance itself was fitted
    # the seed recorded is the one the instance used, not the tool's unused default
    gi.impute(sim, method=gi.get_method("softimpute", random_state=7), key_added="soft", progress=False)
    assert sim.uns["soft"]["random_state"] == 7

    class Counting(MeanImputer):
        name = "counting"
        fits = 0

        def _fit(self, data):
            type(self).fits += 1

    model = Counting().fit(sim)
    gi.impute(sim, model=model, key_added="pre", progress=False)
    assert Counting.fits == 1  # model= is applied with predict only
    assert sim.uns["pre"]["pretrained"] is True
    assert sim.uns["pre"]["fit_seconds"] == 0.0
    with pytest.raises(ValueError, match="fitted"):
        gi.impute(sim, model=Counting(), key_added="x", progress=False)
    with pytest.raises(ValueError, match="conflicts"):
        gi.impute(sim, model=model, log_transform=False, key_added="x", progress=False)


def test_errors(sim):
    with pytest.raises(ValueError, match="unknown method"):
        gi.impute(sim, method="nope", progress=False)
    with pytest.raises(KeyError, match="tissue_key"):
        gi.impute(sim, method="mean", tissue_key="organ", progress=False)


def test_key_added_conflicts_and_registered_keys(sim, tmp_path):
    sim.layers["counts"] = sim.X.copy()
    with pytest.raises(ParameterError, match=r"overwrite the existing layers\['counts'\]"):
        gi.impute(sim, method="mean", layer="counts", key_added="counts", progress=False)
    np.testing.assert_array_equal(sim.layers["counts"], sim.X, strict=True)  # refused before any change
    for bad in (None, "", "imputed/knn"):
        with pytest.raises(ParameterError, match="key_added"):
            gi.impute(sim, method="mean", key_added=bad, progress=False)
    gi.impute(sim, method="mean", progress=False)
    with pytest.raises(ParameterError, match="imputed_mask"):
        gi.impute(sim, method="mean", progress=False)
    # keys registered once are used by every call that leaves them out
    renamed = sim.copy()
    renamed.obs = renamed.obs.rename(columns={"tissue": "organ", "donor": "individual"})
    register_keys(renamed, tissue_key="organ", donor_key="individual", layer="counts")
    gi.impute(renamed, method="additive", key_added="r", progress=False)
    info = renamed.uns["r"]
    assert (info["tissue_key"], info["donor_key"], info["layer"]) == ("organ", "individual", "counts")
    gi.impute(renamed, method="additive", donor_key=False, layer="X", key_added="s", progress=False)
    assert (renamed.uns["s"]["donor_key"], renamed.uns["s"]["layer"]) == (None, "X")  # not "None"
    renamed.write_h5ad(tmp_path / "r.h5ad")  # None is written (or, by anndata 0.10, left out)
    assert ad.read_h5ad(tmp_path / "r.h5ad").uns["s"].get("donor_key") is None


def test_results_of_others_and_of_earlier_runs_are_never_left_stale(sim):
    """uns[key_added] is a result too; overwrite drops old bounds; uns['gex_impute'] is reserved."""
    sim.uns["pca"] = {"variance_ratio": [0.5, 0.3]}  # scanpy's sc.tl.pca record
    with pytest.raises(ParameterError, match=r"uns\['pca'\]"):
        gi.impute(sim, method="mean", key_added="pca", progress=False)
    assert sim.uns["pca"] == {"variance_ratio": [0.5, 0.3]} and "pca" not in sim.layers
    with pytest.raises(ParameterError, match="registered keys"):
        gi.impute(sim, method="mean", key_added="gex_impute", progress=False)
    with pytest.raises(ParameterError, match="registered keys"):
        gi.tl.complete(sim, method="mean", key_added="gex_impute", progress=False)
    gi.impute(sim, method="mean", interval=0.9, progress=False)
    gi.impute(sim, method="knn", overwrite=True, progress=False)
    assert "imputed_lower" not in sim.layers and "imputed_upper" not in sim.layers
    assert sim.uns["imputed"]["method"] == "knn"


def test_intervals_from_a_method_of_its_own_or_calibrated(sim):
    class WithIntervals(MeanImputer):
        name = "with_intervals"

        def predict_interval(self, data, level):
            pred = self.predict(data)
            return pred - level, pred + level

    gi.impute(sim, method=WithIntervals(), interval=0.5, progress=False)
    mask = sim.layers["imputed_mask"]
    lower, value, upper = (sim.layers[k] for k in ("imputed_lower", "imputed", "imputed_upper"))
    assert (lower[mask] <= value[mask]).all() and (value[mask] <= upper[mask]).all()
    np.testing.assert_array_equal(lower[~mask], value[~mask])
    assert sim.uns["imputed"]["interval"] == 0.5
    # a registered method without its own intervals is calibrated (split conformal)
    gi.impute(sim, method="mean", interval=0.9, key_added="x", progress=False)
    mask = sim.layers["x_mask"]
    lower, value, upper = (sim.layers[k] for k in ("x_lower", "x", "x_upper"))
    assert (lower[mask] <= value[mask]).all() and (value[mask] < upper[mask]).all()  # lower clipped at 0 TPM
    np.testing.assert_array_equal(upper[~mask], value[~mask])
    with pytest.raises(ParameterError, match="interval=1.5"):
        gi.impute(sim, method=WithIntervals(), interval=1.5, key_added="x", progress=False)


def test_sparse_input_same_result_as_dense(sim):
    from scipy import sparse

    dense_result = gi.impute(sim, method="knn", copy=True, progress=False).layers["imputed"]
    sim.X = sparse.csr_matrix(sim.X)  # NaN stored (missing), zeros structural (observed zeros)
    result = gi.impute(sim, method="knn", copy=True, progress=False).layers["imputed"]
    assert isinstance(result, np.ndarray) and result.dtype == np.float32
    np.testing.assert_array_equal(result, dense_result)


def test_progress_switch_reaches_the_methods_own_bars():
    from gex_impute.tl._methods import resolve_method as _resolve_method

    assert _resolve_method("hybrid", 3, False).get_params()["progress"] is False
    assert _resolve_method("hybrid", 3, True).get_params()["progress"] is True
    assert _resolve_method("hybrid", 3, True).get_params()["random_state"] == 3


def test_float16_input_gets_float32_results_that_do_not_overflow(sim):
    """An estimate past float16's 65,504 would be written as inf: results are float32."""
    adata = sim.copy()
    adata.X = np.minimum(np.asarray(adata.X, dtype=float), 60_000).astype(np.float16)
    gi.impute(adata, method="pca_regression", donor_key="donor", interval=0.9, progress=False)
    for name in ("imputed", "imputed_lower", "imputed_upper"):
        assert adata.layers[name].dtype == np.float32
        assert np.isfinite(adata.layers[name]).all()
    observed = ~np.isnan(adata.X)
    np.testing.assert_array_equal(adata.layers["imputed"][observed], adata.X[observed])
    completed = gi.tl.complete(adata, method="mean", progress=False)
    assert completed.X.dtype == np.float32 and np.isfinite(completed.X).all()


def test_the_input_layer_is_never_written(sim):
    """key_added naming the input layer is refused even with overwrite=True (the input is kept)."""
    sim.layers["counts"] = sim.X.copy()
    sim.layers["run_mask"] = sim.X.copy()
    layers = {name: sim.layers[name].copy() for name in sim.layers}
    for layer, key in (("counts", "counts"), ("run_mask", "run")):
        with pytest.raises(ParameterError, match="holds the input values"):
            gi.tl.impute(sim, method="mean", layer=layer, key_added=key, overwrite=True, progress=False)
    assert set(sim.layers) == set(layers)
    for name, values in layers.items():
        np.testing.assert_array_equal(sim.layers[name], values)


def test_copy_of_a_backed_anndata_is_loaded_into_memory(sim, tmp_path):
    path = tmp_path / "sim.h5ad"
    gi.io.write_h5ad(sim, path)
    backed = ad.read_h5ad(path, backed="r")
    out = gi.tl.impute(backed, method="mean", copy=True, progress=False)
    assert out is not None and not out.isbacked
    assert np.isfinite(out.layers["imputed"]).all()
    assert "imputed" not in backed.layers


def test_a_backed_anndata_is_told_its_file_is_not_updated(sim, tmp_path, caplog):
    """Sweep P: the layers of a backed AnnData stay in memory (anndata), and nothing said so."""
    path = tmp_path / "sim.h5ad"
    gi.io.write_h5ad(sim, path)
    backed = ad.read_h5ad(path, backed="r")
    with caplog.at_level("WARNING", logger="gex_impute"):
        gi.tl.impute(backed, method="mean", progress=False)
    assert "file is not updated" in caplog.text and "write_h5ad" in caplog.text
    assert "imputed" in backed.layers


@pytest.mark.parametrize("key", ["tissue_key", "donor_key", "layer"])
def test_unknown_keys_raise_the_package_error_family(sim, key):
    from gex_impute.errors import DataError, GexImputeError, KeyNotFoundError

    with pytest.raises(KeyNotFoundError, match="'nope'") as info:
        gi.tl.impute(sim, method="mean", progress=False, **{key: "nope"})
    assert isinstance(info.value, GexImputeError | DataError | KeyError)
    assert str(info.value).startswith(key.split("_")[0])  # the message itself, not KeyError's repr


def test_a_saved_model_remembers_its_donor_column(sim, tmp_path):
    """fit(donor_key=...) then impute(model=...) without donor_key reads the same column."""
    sim.obs["individual"] = sim.obs.pop("donor")
    model = gi.get_method("knn_samples").fit(sim, donor_key="individual")
    assert model.fitted_donor_key == "individual"
    model.save(tmp_path / "m.zip")
    loaded = gi.load_model(tmp_path / "m.zip")
    assert loaded.fitted_donor_key == "individual"
    direct = model.predict(sim, donor_key="individual")
    np.testing.assert_array_equal(loaded.predict(sim), direct)
    lower, upper = loaded.predict_interval(sim, 0.9)  # intervals read the same column
    np.testing.assert_array_equal((lower, upper), model.predict_interval(sim, 0.9, donor_key="individual"))
    gi.tl.impute(sim, model=loaded, progress=False)
    assert sim.uns["imputed"]["donor_key"] == "individual"
    without = gi.get_method("mean").fit(sim)
    assert without.fitted_donor_key is None
    # an archive of an earlier version (no donor_key_) still loads; the column is then given
    import json

    model.save(tmp_path / "old")
    meta = json.loads((tmp_path / "old" / "params.json").read_text())
    del meta["fitted"]["donor_key_"]
    (tmp_path / "old" / "params.json").write_text(json.dumps(meta))
    old = gi.load_model(tmp_path / "old")
    assert old.fitted_donor_key is None
    np.testing.assert_array_equal(old.predict(sim, donor_key="individual"), direct)


def test_progress_off_silences_a_fitted_models_own_bars(sim, capsys):
    model = gi.HybridImputer(max_epochs=1, n_estimators=10, progress=True).fit(sim, donor_key="donor")
    capsys.readouterr()
    gi.tl.impute(sim, model=model, progress=False, interval=0.9, copy=True)  # (calibration refits)
    assert "hybrid" not in capsys.readouterr().err  # no bar of the model's own
    assert model.progress is True  # the caller's model is left as it is
    gi.tl.impute(sim, model=model, progress=True, interval=0.9, copy=True)
    assert "hybrid" in capsys.readouterr().err


def test_a_saved_model_that_mostly_falls_back_says_so(sim, caplog):
    """Galaxy sweep O: a saved hybrid served 100% of the entries by its fallback, with an info line only."""
    model = gi.get_method("knn").fit(sim, donor_key=False)  # donors unused: a sample layout, mostly fallback
    with caplog.at_level("WARNING", logger="gex_impute"):
        gi.impute(sim, method="knn", donor_key=False, progress=False)
        assert "fallback" not in caplog.text  # a method fitted here: its fallback is documented
        gi.impute(sim, model=model, key_added="saved", progress=False)
    info = sim.uns["saved"]
    assert info["n_fallback"] >= 0.5 * info["n_imputed"]
    assert f"{info['n_fallback']} of {info['n_imputed']} imputed entries" in caplog.text
    assert "saved knn model's fallback" in caplog.text


@pytest.mark.parametrize("method", ["knn", "hybrid"])
def test_nothing_missing_says_so_and_fits_nothing(sim, method, caplog, monkeypatch):
    """Galaxy sweep O: a GTEx matrix has no NaN (its holes are absent profiles); impute said only
    'imputed 0 entries' after fitting the whole method."""
    full = sim.copy()
    full.X = full.layers["truth"].copy()  # the simulated values, none hidden
    assert not np.isnan(full.X).any()
    cls = type(gi.get_method(method))

    def no_fit(*args, **kwargs):
        raise AssertionError("fitted with nothing to estimate")

    monkeypatch.setattr(cls, "fit", no_fit)
    with caplog.at_level("WARNING", logger="gex_impute"):
        gi.impute(full, method=method, donor_key="donor", interval=0.9, progress=False)
    assert "nothing is missing in X" in caplog.text
    assert "gi.tl.complete adds and estimates them" in caplog.text
    for name in ("imputed", "imputed_lower", "imputed_upper"):
        np.testing.assert_array_equal(full.layers[name], full.X)
    assert not full.layers["imputed_mask"].any()
    assert full.uns["imputed"]["n_imputed"] == 0
    assert full.uns["imputed"]["fit_seconds"] == 0.0


def test_the_donor_column_is_used_by_default(sim):
    """Sweep P: impute / fit / evaluate ignored obs['donor'] unless registered, while complete used it."""
    gi.impute(sim, method="mean", progress=False)
    assert sim.uns["imputed"]["donor_key"] == "donor"
    gi.impute(sim, method="mean", donor_key=False, key_added="none", progress=False)
    assert sim.uns["none"].get("donor_key") is None
    without = gi.get_method("mean").fit(sim, donor_key=False)  # a model fitted without donors
    gi.impute(sim, model=without, key_added="saved", progress=False)  # is applied without them
    assert sim.uns["saved"].get("donor_key") is None
    renamed = sim.copy()
    renamed.obs = renamed.obs.rename(columns={"donor": "individual"})  # no column of that name: none
    gi.impute(renamed, method="mean", overwrite=True, progress=False)
    assert renamed.uns["imputed"].get("donor_key") is None


def test_the_seed_used_is_recorded(sim):
    """Sweep P: random_state=None (seed 0) was recorded as None."""
    gi.impute(sim, method="knn", random_state=None, key_added="a", progress=False)
    gi.impute(sim, method="knn", random_state=0, key_added="b", progress=False)
    assert sim.uns["a"]["random_state"] == sim.uns["b"]["random_state"] == 0
    np.testing.assert_array_equal(sim.layers["a"], sim.layers["b"])
