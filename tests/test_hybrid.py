from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import gex_impute as gi
from gex_impute._data import from_anndata
from gex_impute._errors import DataError, ModelArchiveError, OutputPathError, ParameterError
from gex_impute.methods import get_method
from gex_impute.methods import hybrid as hy

FAST = {"max_epochs": 1, "n_estimators": 15, "n_jobs": 1, "progress": False, "max_items_per_epoch": 256}


@pytest.fixture(scope="module")
def tiny():
    return gi.datasets.simulate(
        n_donors=4, n_tissues=3, n_genes=150, upstream=60, downstream=40, random_state=0
    )


@pytest.fixture(scope="module")
def fitted(tiny):
    return gi.HybridImputer(**FAST).fit(tiny, donor_key="donor")


def test_module_import_does_not_import_torch_or_xgboost():
    code = (
        "import sys, gex_impute.methods.hybrid; "
        "print(json.dumps(['torch' in sys.modules, 'xgboost' in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", "import json; " + code], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) == [False, False]


def test_missing_patterns_detects_each_kind():
    obs = np.ones((6, 10), dtype=bool)
    obs[:, 0] = False  # a whole gene: 6 entries
    obs[2, :] = False  # a whole sample: 9 more entries (gene 0 counted as gene)
    obs[4, 5] = False  # one scattered entry
    shares = hy.missing_patterns(obs)
    assert shares == pytest.approx({"genes": 6 / 16, "samples": 9 / 16, "entries": 1 / 16})
    assert hy.missing_patterns(np.ones((3, 3), bool)) == {"genes": 0.0, "samples": 0.0, "entries": 0.0}


def test_registered_and_fills_every_entry(tiny, fitted):
    assert isinstance(get_method("hybrid"), gi.HybridImputer)
    pred = fitted.predict(tiny, donor_key="donor")
    x = np.asarray(tiny.X)
    assert pred.shape == x.shape
    assert np.isfinite(pred).all()
    obs = ~np.isnan(x)
    np.testing.assert_allclose(pred[obs], x[obs], rtol=1e-6)  # observed values are kept
    assert fitted.n_fallback_ == 0
    assert fitted.diagnostics_["n_training_entries"] > 0


def test_same_seed_same_numbers_other_seed_differs(tiny, fitted):
    a = fitted.predict(tiny, donor_key="donor")
    again = gi.HybridImputer(**FAST).fit(tiny, donor_key="donor").predict(tiny, donor_key="donor")
    np.testing.assert_array_equal(a, again)
    other = (
        gi.HybridImputer(**FAST, random_state=1).fit(tiny, donor_key="donor").predict(tiny, donor_key="donor")
    )
    assert not np.allclose(a, other)


def test_out_of_fold_networks_never_embed_their_training_genes(tiny, monkeypatch):
    from gex_impute.methods.hybrid import design, training

    trained, embedded = [], []
    real_train, real_designs = training.train_net, design.designs

    def spy_train(net, nd, train_items, val_items, *args, **kw):
        trained.append((id(net), set(nd.gene[train_items]) | set(nd.gene[val_items])))
        return real_train(net, nd, train_items, val_items, *args, **kw)

    def spy_designs(model, values, genes, inputs, nets):
        embedded.extend((id(net), set(genes.tolist())) for net in nets if net is not None)
        return real_designs(model, values, genes, inputs, nets)

    monkeypatch.setattr(training, "train_net", spy_train)
    monkeypatch.setattr(design, "designs", spy_designs)  # the masking rounds of fit
    gi.HybridImputer(**FAST).fit(tiny, donor_key="donor")
    seen = dict(trained)
    assert len(seen) == 3 and embedded
    for net_id, genes in embedded:
        assert not genes & seen[net_id]


def test_hybrid_beats_baselines_on_hidden_genes():
    adata = gi.datasets.simulate(n_donors=5, n_tissues=4, n_genes=600, random_state=3)
    data, _ = from_anndata(adata, donor_key="donor")
    rng = np.random.default_rng(0)
    held = rng.choice(np.flatnonzero(data.observed.any(0)), size=120, replace=False)
    values = data.values.copy()
    values[:, held] = np.nan
    masked = data.with_values(values)
    truth = data.values[:, held]
    ok = ~np.isnan(truth)

    def scores(method):
        pred = method.fit(masked).predict(masked)[:, held][ok]
        return np.mean((pred - truth[ok]) ** 2), np.corrcoef(pred, truth[ok])[0, 1]

    mse, r = scores(gi.HybridImputer(**{**FAST, "n_estimators": 80, "max_epochs": 2}))
    mse_mean, _ = scores(get_method("mean"))
    mse_distance, r_distance = scores(get_method("distance"))
    assert mse < mse_mean and mse < mse_distance
    assert r > 0.15


@pytest.mark.parametrize(
    "params",
    [
        {"use_sequence": False},
        {"use_tissue_encoder": False},
        {"use_neighbours": False},
        {"use_xgboost": False},
        {"use_sequence": False, "use_tissue_encoder": False},
    ],
)
def test_ablations_run(tiny, params):
    model = gi.HybridImputer(**FAST, **params).fit(tiny, donor_key="donor")
    pred = model.predict(tiny, donor_key="donor")
    assert np.isfinite(pred).all()
    names = model.design_names_
    assert any(n.startswith("cnn_") for n in names) == (params.get("use_sequence", True))
    assert ("transformer_prediction" in names) == params.get("use_tissue_encoder", True)
    assert any(n.startswith("nb0_") for n in names) == params.get("use_neighbours", True)
    assert (model.booster_ is not None) == params.get("use_xgboost", True)


def test_invalid_combination_and_missing_coordinates(tiny):
    with pytest.raises(ParameterError, match="use_tissue_encoder"):
        gi.HybridImputer(**FAST, use_xgboost=False, use_tissue_encoder=False)
    bare = tiny.copy()
    bare.var = bare.var.drop(columns=["tss"])
    with pytest.raises(DataError, match="annotate_genes"):
        gi.HybridImputer(**FAST).fit(bare, donor_key="donor")


def _drop_coordinates(adata, genes):
    """Genes without coordinates: NaN / pandas NA chromosome, TSS, strand and body."""
    adata.var["chrom"] = adata.var["chrom"].astype("string")
    adata.var["strand"] = adata.var["strand"].astype(object)
    for col in ("tss", "start", "end"):
        adata.var[col] = adata.var[col].astype("Int64")
    names = adata.var_names[genes]
    adata.var.loc[names[::2], ["chrom", "tss", "strand", "start", "end"]] = pd.NA
    adata.var.loc[names[1::2], "strand"] = np.nan
    adata.var.loc[names[1::2], "tss"] = pd.NA
    return adata


def test_genes_without_coordinates_are_estimated(tiny):
    adata = _drop_coordinates(tiny.copy(), np.arange(0, 150, 10))
    x = np.asarray(adata.X)
    model = gi.HybridImputer(**FAST).fit(adata, donor_key="donor")
    pred = model.predict(adata, donor_key="donor")
    assert np.isfinite(pred).all()
    assert model.n_fallback_ == 0
    np.testing.assert_allclose(pred[~np.isnan(x)], x[~np.isnan(x)], rtol=1e-6)


def test_save_load_roundtrip_and_checks(tiny, fitted, tmp_path):
    path = fitted.save(tmp_path / "model")
    assert sorted(p.name for p in path.iterdir()) == ["arrays", "nets.pt", "params.json", "xgboost.json"]
    meta = json.loads((path / "params.json").read_text())
    assert meta["method"] == "hybrid"
    assert meta["fitted"]["gene_ids_"] == list(map(str, tiny.var_names))
    assert meta["gex_impute_version"] == gi.__version__
    loaded = gi.HybridImputer.load(path)
    np.testing.assert_array_equal(
        loaded.predict(tiny, donor_key="donor"), fitted.predict(tiny, donor_key="donor")
    )
    with pytest.raises(OutputPathError, match="overwrite=True"):
        fitted.save(path)
    fitted.save(path, overwrite=True)
    # tissues the model has never seen
    other = tiny.copy()
    other.obs["tissue"] = other.obs["tissue"].astype(str).str.upper()
    with pytest.raises(DataError, match="not seen when the model was fitted"):
        loaded.predict(other, donor_key="donor")
    with pytest.raises(DataError, match="fitted with donors"):
        loaded.predict(tiny)
    # fitted with promoters, applied to data without them
    no_promoter = tiny.copy()
    no_promoter.var = no_promoter.var.drop(columns=["promoter"])
    with pytest.raises(DataError, match=r"'promoter' column.*add_promoters"):
        loaded.predict(no_promoter, donor_key="donor")
    meta["format_version"] = 99
    (path / "params.json").write_text(json.dumps(meta))
    with pytest.raises(ModelArchiveError, match="Refit"):
        gi.HybridImputer.load(path)
    with pytest.raises(FileNotFoundError):
        gi.HybridImputer.load(tmp_path / "nowhere")


def test_impute_with_a_model_fitted_on_other_data(tiny, fitted, caplog):
    other = gi.datasets.simulate(
        n_donors=3, n_tissues=3, n_genes=150, upstream=60, downstream=40, random_state=5
    )
    other.obs["tissue"] = other.obs["tissue"].cat.rename_categories(
        dict(zip(other.obs["tissue"].cat.categories, tiny.obs["tissue"].cat.categories, strict=True))
    )
    out = gi.impute(other, model=fitted, donor_key="donor", copy=True, progress=False)
    assert np.isfinite(out.layers["imputed"]).all()
    x = np.asarray(other.X)
    np.testing.assert_array_equal(out.layers["imputed_mask"], np.isnan(x))


@pytest.mark.gpu
def test_fit_on_gpu_matches_the_cpu_shape(tiny):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    model = gi.HybridImputer(**FAST, device="cuda").fit(tiny, donor_key="donor")
    assert np.isfinite(model.predict(tiny, donor_key="donor")).all()


@pytest.mark.slow
@pytest.mark.realdata
def test_p1_gtex_beats_distance_by_thirty_percent(shared_data):
    from gex_impute.tl import evaluate

    adata = gi.datasets.gtex_tissues(shared_data)
    adata = adata[:, adata.var["tss"].notna().to_numpy()].copy()
    table = evaluate(
        adata,
        protocol="genes",
        fraction=0.2,
        methods=[("distance", get_method("distance")), ("hybrid", gi.HybridImputer(progress=False))],
        random_state=0,
        progress=False,
    )
    assert table.loc["hybrid", "pearson"] >= 1.3 * table.loc["distance", "pearson"]


def test_masking_mixture_counts_absent_profiles():
    """A cohort whose donors lack tissues trains on whole-sample masking (what complete() asks for)."""
    from gex_impute.methods.hybrid.masking import absent_profiles, mixture

    observed = np.ones((6, 10), dtype=bool)
    observed[:, 0] = False  # one gene never measured
    tissue = np.array([0, 1, 2, 0, 1, 0])
    donor = np.array([0, 0, 0, 1, 1, 2])  # donor 1 lacks tissue 2, donor 2 lacks tissues 1 and 2
    assert absent_profiles(tissue, donor) == 3
    assert absent_profiles(tissue, None) == 0
    without = mixture(observed)
    with_absent = mixture(observed, n_absent_profiles=3)
    assert without["samples"] < 0.1 < 0.5 < with_absent["samples"]
    assert abs(sum(with_absent.values()) - 1) < 1e-12
