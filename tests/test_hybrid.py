from __future__ import annotations

import json
import logging
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from _hybrid_fixtures import FAST, model_data, simulated

import gex_impute as gi
from gex_impute.errors import DataError, ModelArchiveError, OutputPathError, ParameterError
from gex_impute.methods import get_method
from gex_impute.methods import hybrid as hy
from gex_impute.methods.hybrid.masking import entry_patterns


@pytest.fixture(scope="module")
def cohort():
    """12 donors x 4 tissues x 300 genes: whole genes, whole profiles and scattered entries missing."""
    return simulated(
        12, 4, 300, seed=0, frac_missing_genes=0.05, frac_missing_samples=0.15, frac_missing_entries=0.1
    )


@pytest.fixture(scope="module")
def small():
    """6 donors x 3 tissues x 150 genes, for the tests that refit."""
    return simulated(6, 3, 150, seed=1)


@pytest.fixture(scope="module")
def fitted(cohort):
    return gi.HybridImputer(**FAST).fit(cohort, donor_key="donor")


def _pattern_mse(adata, pred):
    x = np.asarray(adata.X)
    pat = entry_patterns(~np.isnan(x))
    err = (np.log1p(pred) - np.log1p(np.asarray(adata.layers["truth"]))) ** 2
    return {name: float(err[pat == i].mean()) for i, name in enumerate(("genes", "profiles", "entries"))}


def test_module_import_does_not_import_torch_or_xgboost():
    code = (
        "import sys, json, gex_impute.methods.hybrid; "
        "print(json.dumps([m in sys.modules for m in ('torch', 'xgboost', 'sklearn')]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == [False, False, False]


def test_missing_patterns_detects_each_kind():
    obs = np.ones((6, 10), dtype=bool)
    obs[:, 0] = False  # a whole gene: 6 entries
    obs[2, :] = False  # a whole sample: 9 more entries (gene 0 counted as gene)
    obs[4, 5] = False  # one scattered entry
    shares = hy.missing_patterns(obs)
    assert shares == pytest.approx({"genes": 6 / 16, "profiles": 9 / 16, "entries": 1 / 16})
    assert hy.missing_patterns(np.ones((3, 3), bool)) == {"genes": 0.0, "profiles": 0.0, "entries": 0.0}


def test_beats_mean_on_every_pattern_keeps_observed(cohort, fitted):
    assert isinstance(get_method("hybrid"), gi.HybridImputer)
    assert fitted.patterns_ == ["genes", "profiles", "entries"]
    pred = fitted.predict(cohort, donor_key="donor")
    x = np.asarray(cohort.X)
    assert np.isfinite(pred).all() and fitted.n_fallback_ == 0
    np.testing.assert_allclose(pred[~np.isnan(x)], x[~np.isnan(x)], rtol=1e-6)
    mean = get_method("mean").fit(cohort, donor_key="donor").predict(cohort, donor_key="donor")
    ours, theirs = _pattern_mse(cohort, pred), _pattern_mse(cohort, mean)
    for pattern in ("profiles", "entries"):
        assert ours[pattern] < 0.9 * theirs[pattern], (pattern, ours, theirs)
    # whole genes: 15 genes of a tiny cohort carry little signal; the gene-grouped CV must at
    # least keep the hybrid at the level of the mean (the sample's level is its reference)
    assert ours["genes"] < 1.02 * theirs["genes"], (ours, theirs)


def test_same_seed_same_numbers_other_seed_differs_input_untouched(small):
    before = np.asarray(small.X).copy()
    var_before = small.var.copy()
    a = gi.HybridImputer(**FAST).fit(small, donor_key="donor").predict(small, donor_key="donor")
    again = gi.HybridImputer(**FAST).fit(small, donor_key="donor").predict(small, donor_key="donor")
    np.testing.assert_array_equal(a, again)
    other = gi.HybridImputer(**FAST, random_state=1).fit(small, donor_key="donor")
    assert not np.allclose(a, other.predict(small, donor_key="donor"))
    np.testing.assert_array_equal(np.asarray(small.X), before)
    pd.testing.assert_frame_equal(small.var, var_before)


def test_fit_logs_one_readable_line_at_info_and_the_details_at_debug(small, caplog):
    caplog.set_level(logging.DEBUG, logger="gex_impute")
    model = gi.HybridImputer(**FAST).fit(small, donor_key="donor")
    fits = [r for r in caplog.records if r.getMessage().startswith("hybrid fit")]
    info = [r.getMessage() for r in fits if r.levelno == logging.INFO]
    debug = [r.getMessage() for r in fits if r.levelno == logging.DEBUG]
    assert len(info) == 1 and len(debug) == 1
    assert "{" not in info[0] and info[0].startswith("hybrid fitted in")
    for key, m in model.models_.items():  # every fitted pattern, its reference and its rows
        label = {"genes": "missing genes", "profiles": "absent profiles", "entries": "scattered entries"}[key]
        assert label in info[0] and f"{m['n_rows']:,} training rows" in info[0]
    assert "fit_seconds" in debug[0]


def test_predict_rows_equals_predict(cohort, fitted):
    data = model_data(cohort, fitted)
    full = fitted.predict(data)
    rows = np.array([0, 5, 17, 30, 47])
    rows = np.union1d(rows, np.flatnonzero(np.isnan(data.values).all(1))[:3])
    np.testing.assert_allclose(fitted.predict_rows(data, rows), full[rows], rtol=1e-6, atol=1e-9)


def test_without_donors_and_ablations():
    adata = simulated(6, 3, 150, seed=3, upstream=1000, downstream=500)
    for params in ({}, {"use_xgboost": False}, {"use_neighbours": False, "use_sequence": False}):
        model = gi.HybridImputer(**FAST, **params).fit(adata)  # no donor_key: profiles by masking
        pred = model.predict(adata)
        assert np.isfinite(pred).all()
    with pytest.raises(ParameterError, match="n_heads"):
        gi.HybridImputer(use_tissue_encoder=True, d_model=30, n_heads=4)


def test_tissue_encoder_option_fits_and_round_trips(tmp_path):
    adata = simulated(6, 3, 120, seed=4, upstream=1000, downstream=500)
    model = gi.HybridImputer(**FAST, use_tissue_encoder=True, d_model=8, n_heads=2, n_layers=1)
    model.fit(adata, donor_key="donor")
    assert "encoder" in model.entry_names_
    path = model.save(tmp_path / "enc.zip")
    loaded = gi.HybridImputer.load(path)
    np.testing.assert_array_equal(
        loaded.predict(adata, donor_key="donor"), model.predict(adata, donor_key="donor")
    )


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


def test_genes_without_coordinates_are_estimated(small):
    adata = _drop_coordinates(small.copy(), np.arange(0, 150, 7))
    x = np.asarray(adata.X)
    model = gi.HybridImputer(**FAST).fit(adata, donor_key="donor")
    pred = model.predict(adata, donor_key="donor")
    assert np.isfinite(pred).all()
    assert model.n_fallback_ == 0
    np.testing.assert_allclose(pred[~np.isnan(x)], x[~np.isnan(x)], rtol=1e-6)
    bare = small.copy()
    bare.var = bare.var[[]]  # no annotation at all: still fits
    assert np.isfinite(
        gi.HybridImputer(**FAST).fit(bare, donor_key="donor").predict(bare, donor_key="donor")
    ).all()


def test_unseen_genes_with_nothing_of_their_own_are_counted_as_fallback():
    """Sweep S: a never-measured gene without place, length or promoter got the same estimate as
    every other such gene while n_fallback said 0; it is the shared fallback now, and counted."""
    adata = simulated(8, 4, 200, seed=0)
    x = np.asarray(adata.X)
    x[:, :20] = np.nan  # 20 genes never measured
    adata.X = x
    names = adata.var_names[:8]  # 8 of them with nothing of their own
    adata.var["chrom"] = adata.var["chrom"].astype(object)
    adata.var.loc[names, ["chrom", "strand"]] = None
    adata.var.loc[names, ["tss", "start", "end"]] = np.nan
    adata.var["promoter"] = adata.var["promoter"].astype(str)
    adata.var.loc[names, "promoter"] = ""
    model = gi.HybridImputer(**FAST)
    given = adata.copy()
    gi.tl.impute(adata, method=model, donor_key="donor", progress=False)
    assert model.n_fallback_ == 8 * adata.n_obs == adata.uns["imputed"]["n_fallback"]
    mask = model.fallback_mask_
    assert mask[:, :8].all() and not mask[:, 8:].any()
    # the documented fallback, computed for the rows that need it only
    from gex_impute._data import from_anndata
    from gex_impute.methods._fallback import fallback_values

    data, _ = from_anndata(given, tissue_key="tissue", donor_key="donor", log_transform=True)
    pred = model.predict_rows(data, np.arange(data.n_samples))
    np.testing.assert_allclose(pred[:, :8], fallback_values(data)[:, :8], rtol=1e-12)


def test_save_load_roundtrip_and_checks(cohort, fitted, tmp_path):
    path = fitted.save(tmp_path / "model")
    assert sorted(p.name for p in path.iterdir()) == ["arrays", "params.json", "xgboost.json"]
    meta = json.loads((path / "params.json").read_text())
    assert meta["method"] == "hybrid"
    assert meta["fitted"]["gene_ids_"] == list(map(str, cohort.var_names))
    loaded = gi.HybridImputer.load(path)
    np.testing.assert_array_equal(
        loaded.predict(cohort, donor_key="donor"), fitted.predict(cohort, donor_key="donor")
    )
    with pytest.raises(OutputPathError, match="overwrite=True"):
        fitted.save(path)
    # the torch device "auto" became is recorded, saved and reported in uns (sweep N: 'auto' only)
    from gex_impute._utils import resolve_device

    assert fitted.diagnostics_["cnn_device"] == resolve_device("auto")
    assert loaded.diagnostics_["cnn_device"] == fitted.diagnostics_["cnn_device"]
    result = gi.tl.impute(cohort, model=loaded, donor_key="donor", copy=True, progress=False)
    assert result.uns["imputed"]["params"]["fitted"]["cnn_device"] == resolve_device("auto")
    other = cohort.copy()
    other.obs["tissue"] = other.obs["tissue"].astype(str).str.upper()
    with pytest.raises(DataError, match="not seen when the model was fitted"):
        loaded.predict(other, donor_key="donor")
    # the donor column of the fit is the default; without donors the model cannot apply
    np.testing.assert_array_equal(loaded.predict(cohort), fitted.predict(cohort, donor_key="donor"))
    with pytest.raises(DataError, match="fitted with donors"):
        loaded.predict(cohort, donor_key=False)
    boosters = json.loads((path / "xgboost.json").read_text())
    del boosters["boosters"]["entries"]
    (path / "xgboost.json").write_text(json.dumps(boosters))
    with pytest.raises(ModelArchiveError, match="boosters"):
        gi.HybridImputer.load(path)


def _with_var(adata, var):
    out = adata.copy()
    out.var = var
    return out


def test_data_without_the_fits_annotation_are_reported(cohort, fitted, caplog):
    """A model fitted with coordinates and promoters, applied to bare data (a GCT never annotated)."""
    bare = cohort.copy()
    bare.var = bare.var.drop(
        columns=[c for c in ("chrom", "tss", "start", "end", "promoter") if c in bare.var]
    )
    with caplog.at_level("WARNING", logger="gex_impute"):
        fitted.predict(cohort, donor_key="donor")
    assert "lack annotation" not in caplog.text
    with caplog.at_level("WARNING", logger="gex_impute"):
        fitted.predict(bare, donor_key="donor")
    assert "lack annotation the model was fitted with" in caplog.text
    assert "gex_impute.pp.annotate_genes" in caplog.text and "var['chrom']" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="gex_impute"):  # strands alone missing
        fitted.predict(_with_var(cohort, cohort.var.drop(columns="strand")), donor_key="donor")
    assert "var['strand']" in caplog.text


def test_complete_predicts_absent_profiles(small):
    """A cohort with absent donor x tissue rows (no row at all): complete() asks for those rows."""
    observed_rows = ~np.isnan(np.asarray(small.X)).all(1)
    assert not observed_rows.all()
    adata = small[observed_rows].copy()
    model = gi.HybridImputer(**FAST).fit(adata, donor_key="donor")
    assert "profiles" in model.patterns_
    done = gi.tl.complete(adata, method=model, donor_key="donor", tissue_key="tissue", progress=False)
    assert done.n_obs == small.n_obs
