"""The gtex_v8 simulator preset, the GTEx-layout writer and its round trip through the readers."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

import gex_impute as gi
from gex_impute.datasets.gtex_v8 import GTEX_V8_TISSUES, draw_design
from gex_impute.errors import DataError, ParameterError

SAMPID = re.compile(r"^GTEX-[0-9A-Z]{4,5}-(\d{4}|0011-R\d{1,2}[ab])-SM-[0-9A-Z]{5}$")
LOW = ["Kidney - Medulla", "Fallopian Tube", "Cervix - Ectocervix", "Cervix - Endocervix", "Bladder"]
HIGH = ["Muscle - Skeletal", "Whole Blood", "Skin - Sun Exposed (Lower leg)"]


@pytest.fixture(scope="module")
def design():
    return draw_design(np.random.default_rng(0), 948)


@pytest.fixture(scope="module")
def gtex():
    return gi.datasets.simulate(preset="gtex_v8", n_donors=80, n_genes=400, random_state=3)


def test_tissue_table_is_gtex_v8():
    assert len(GTEX_V8_TISSUES) == 54
    assert sum(n for _, _, n, _, _ in GTEX_V8_TISSUES) == 17_382
    assert len({smtsd for smtsd, *_ in GTEX_V8_TISSUES}) == 54
    assert len({smts for _, smts, *_ in GTEX_V8_TISSUES}) == 30


def test_design_has_gtex_shape(design):
    present = design.present
    assert present.shape == (948, 54)
    assert abs(present.sum() - 17_382) < 0.03 * 17_382
    assert 0.6 < 1 - present.mean() < 0.72  # about two thirds of donor x tissue profiles absent
    rate = pd.Series(present.mean(axis=0), index=design.tissues.index)
    assert (rate[HIGH] > 0.7).all()
    assert (rate[LOW] < 0.03).all() and (rate[LOW] > 0).all()
    per_donor = present.sum(axis=1)
    assert per_donor.min() >= 1 and 25 <= per_donor.max() <= 54 and 12 <= np.median(per_donor) <= 24
    # sex-specific tissues from donors of that sex only; brain regions from the brain donors only
    female = design.donors["SEX"].to_numpy() == 2
    sex = design.tissues["sex"].to_numpy()
    assert not present[female][:, sex == "male"].any() and not present[~female][:, sex == "female"].any()
    brain = (design.tissues["SMTS"] == "Brain").to_numpy()
    assert 0.25 < present[:, brain].any(axis=1).mean() < 0.5
    assert set(design.donors["AGE"]) <= {"20-29", "30-39", "40-49", "50-59", "60-69", "70-79"}
    assert 0.55 < (design.donors["SEX"] == 1).mean() < 0.8
    ids = design.sample_ids.ravel()
    assert len(set(ids)) == ids.size and all(SAMPID.match(s) for s in ids)
    donors = np.array(["-".join(s.split("-")[:2]) for s in ids]).reshape(present.shape)
    assert (donors == np.asarray(design.donors.index)[:, None]).all()


def test_small_design_keeps_every_donor_and_tissue():
    d = draw_design(np.random.default_rng(1), 12)
    assert d.present.any(axis=1).all()
    # every tissue with an eligible donor has a sample (sex-specific ones may have none)
    assert d.present.sum() > 12


def test_preset_output(tmp_path, gtex):
    obs = gtex.obs
    assert gtex.X.dtype == np.float32 and not np.isnan(gtex.X).any()
    assert "truth" not in gtex.layers  # X is complete; a copy would double the memory
    assert list(obs.columns[:6]) == ["tissue", "donor", "tissue_group", "sex", "age", "DTHHRDY"]
    assert obs["tissue"].cat.categories.size == 54
    assert set(obs["sex"].cat.categories) == {"male", "female"}
    assert not obs[["donor", "tissue"]].duplicated().any()
    assert all(SAMPID.match(s) for s in gtex.obs_names)
    donor = gtex.obs_names.str.split("-").str[:2].str.join("-")
    assert donor.equals(pd.Index(obs["donor"].astype(str)))
    assert 0.55 < 1 - gtex.n_obs / (80 * 54) < 0.75
    assert (gtex.X == 0).mean() > 0.01  # lowly expressed genes
    params = gtex.uns["simulate"]
    assert params["preset"] == "gtex_v8" and params["n_missing_samples"] == 0
    gi.io.write_h5ad(gtex, tmp_path / "gtex.h5ad")  # every obs column is h5ad-writable
    assert gi.io.read_h5ad(tmp_path / "gtex.h5ad").obs["SMPTHNTS"].equals(obs["SMPTHNTS"])


def test_preset_structure_brain_regions_cluster(gtex):
    y = np.log1p(np.asarray(gtex.X, dtype=np.float64))
    tissue = gtex.obs["tissue"].astype(str).to_numpy()
    names = [t for t in pd.unique(tissue) if (tissue == t).sum() >= 3]
    prof = np.stack([y[tissue == t].mean(0) for t in names])
    prof -= prof.mean(0)
    corr = pd.DataFrame(np.corrcoef(prof), index=names, columns=names)
    brain = [t for t in names if t.startswith("Brain")]
    other = [t for t in names if not t.startswith("Brain")]
    assert len(brain) >= 3
    within = corr.loc[brain, brain].to_numpy()[~np.eye(len(brain), dtype=bool)].mean()
    assert within > corr.loc[brain, other].to_numpy().mean() + 0.3


def test_preset_sex_effects(gtex):
    """Some genes differ between female and male donors within a tissue; most do not."""
    y = np.log1p(np.asarray(gtex.X, dtype=np.float64))
    sel = (gtex.obs["tissue"] == "Muscle - Skeletal").to_numpy()
    female = (gtex.obs["sex"] == "female").to_numpy()
    diff = np.abs(y[sel & female].mean(0) - y[sel & ~female].mean(0))
    assert np.sum(diff > 0.6) >= 3
    assert np.median(diff) < 0.2


def test_preset_expression_is_on_gtex_scale():
    """Levels as in GTEx v8's tissue medians: zeros, low genes, tissue-enriched genes, TPM totals.

    GTEx v8 (29 tissue groups x 19,139 protein-coding genes, group medians): 13% at 0 TPM, 29%
    below 1 TPM, median 6 TPM, per-gene sd across groups (log1p) median 0.47, 10% of genes
    tissue-enriched (>= 1 TPM and 5x the next group). Before the preset was rescaled: 4% zeros,
    0.2% enriched genes, sd 0.86, values up to 3e10 TPM.
    """
    from gex_impute.datasets.gtex_v8 import TPM_PER_GENE

    gtex = gi.datasets.simulate(preset="gtex_v8", n_donors=60, n_genes=1000, random_state=1)
    x = np.asarray(gtex.X, dtype=np.float64)
    assert x.max() < np.expm1(13.5)  # the soft ceiling (13), then the sample's TPM total
    # TPM is a share: each sample's total over the simulated genes lies in the preset's band
    per_gene = x.sum(axis=1) / x.shape[1]
    assert np.all(per_gene >= 0.78 * TPM_PER_GENE - 1e-3) and np.all(per_gene <= TPM_PER_GENE + 1e-3)
    coding = (gtex.var["gene_type"] == "protein_coding").to_numpy()
    groups = gtex.obs["tissue_group"].astype(str).to_numpy()
    medians = pd.DataFrame(x[:, coding]).groupby(groups).median().to_numpy()
    assert 0.08 < (medians == 0).mean() < 0.22
    assert 0.2 < (medians < 1).mean() < 0.4
    assert 2.0 < np.median(medians) < 10.0
    assert 0.35 < np.median(np.log1p(medians).std(axis=0)) < 0.65
    top = np.sort(medians, axis=0)
    enriched = (top[-1] >= 1) & ((top[-1] + 0.01) / (top[-2] + 0.01) > 5)
    assert 0.05 < enriched.mean() < 0.16


def test_preset_default_is_unchanged_by_the_gtex_scale():
    """The default preset keeps the original simulator's draws (no scale, no ceiling)."""
    from gex_impute.datasets.sim_expression import soft_ceiling

    levels = np.array([0.0, 7.9, 8.0, 9.0, 20.0, 100.0])
    soft_ceiling(levels, 13.0)
    assert levels[:3].tolist() == [0.0, 7.9, 8.0]  # below the knee: unchanged
    assert 8.0 < levels[3] < 9.0 and np.all(np.diff(levels) >= 0) and levels.max() <= 13.0
    default = gi.datasets.simulate(n_donors=6, n_tissues=4, n_genes=300, random_state=0)
    assert default.layers["truth"].max() > np.expm1(13.0)  # the default preset has no ceiling


def test_absent_keep_and_drop_agree():
    kw = {"preset": "gtex_v8", "n_donors": 10, "n_tissues": 8, "n_genes": 60, "random_state": 4}
    drop = gi.datasets.simulate(**kw)
    keep = gi.datasets.simulate(**kw, absent="keep")
    assert keep.n_obs == 80 and keep.uns["simulate"]["n_missing_samples"] == 80 - drop.n_obs
    present = ~np.isnan(keep.X).all(axis=1)
    assert list(keep.obs_names[present]) == list(drop.obs_names)
    np.testing.assert_array_equal(keep.X[present], drop.X)
    np.testing.assert_array_equal(keep.layers["truth"][present], drop.X)
    assert np.isfinite(keep.layers["truth"]).all()
    again = gi.datasets.simulate(**kw)
    np.testing.assert_array_equal(again.X, drop.X)
    pd.testing.assert_frame_equal(again.obs, drop.obs)
    assert not np.array_equal(gi.datasets.simulate(**(kw | {"random_state": 5})).X[:2], drop.X[:2])


def test_absent_keep_has_only_possible_profiles_and_the_same_missing_entries():
    kw = {"preset": "gtex_v8", "n_donors": 20, "n_genes": 100, "random_state": 1}
    kw["frac_missing_entries"] = 0.05
    drop = gi.datasets.simulate(**kw)
    keep = gi.datasets.simulate(**kw, absent="keep")
    sex = keep.obs["sex"].astype(str).to_numpy()
    tissue = keep.obs["tissue"].astype(str).to_numpy()
    assert not np.any((sex == "female") & np.isin(tissue, ["Prostate", "Testis"]))
    assert not np.any((sex == "male") & np.isin(tissue, ["Ovary", "Uterus", "Vagina"]))
    assert keep.n_obs == drop.n_obs + keep.uns["simulate"]["n_missing_samples"]
    shared = keep[drop.obs_names]
    np.testing.assert_array_equal(np.isnan(shared.X), np.isnan(drop.X))  # the same entries missing
    assert 0.03 < np.isnan(drop.X).mean() < 0.07


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"preset": "gtex_v9"}, "preset='gtex_v9' is unknown"),
        ({"preset": "gtex_v8", "n_tissues": 55}, "n_tissues=55"),
        ({"preset": "gtex_v8", "frac_missing_samples": 0.1}, "does not apply to preset='gtex_v8'"),
        ({"absent": "hide"}, "absent='hide'"),
    ],
)
def test_preset_parameters_checked(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        gi.datasets.simulate(n_genes=20, **kwargs)


def test_default_preset_can_drop_absent_samples():
    keep = gi.datasets.simulate(n_donors=5, n_tissues=4, n_genes=50, random_state=1)
    drop = gi.datasets.simulate(n_donors=5, n_tissues=4, n_genes=50, random_state=1, absent="drop")
    whole = np.isnan(keep.X).all(axis=1)
    assert whole.sum() == 2 and drop.n_obs == 18
    np.testing.assert_array_equal(drop.X, keep.X[~whole])


# ---------------------------------------------------------------------------------------------
# GTEx files


def test_write_gtex_files_round_trip(tmp_path, gtex):
    paths = gi.datasets.write_gtex_files(gtex, tmp_path, fasta=False)
    assert {p.name for p in tmp_path.iterdir()} == {
        "GTEx_Analysis_2017-06-05_v8_RNASeQCv1.1.9_gene_tpm.gct.gz",
        "GTEx_Analysis_v8_Annotations_SampleAttributesDS.txt",
        "GTEx_Analysis_v8_Annotations_SubjectPhenotypesDS.txt",
        "gencode.v26.GRCh38.genes.gtf",
    }
    attrs = pd.read_csv(paths["sample_attributes"], sep="\t", quoting=3)
    assert list(attrs.columns) == [
        "SAMPID",
        "SMATSSCR",
        "SMCENTER",
        "SMPTHNTS",
        "SMRIN",
        "SMTS",
        "SMTSD",
        "SMTSISCH",
        "SMAFRZE",
    ]
    assert (attrs["SMAFRZE"] == "WGS").sum() == gtex.obs["donor"].nunique()
    pheno = pd.read_csv(paths["subject_phenotypes"], sep="\t")
    assert list(pheno.columns) == ["SUBJID", "SEX", "AGE", "DTHHRDY"] and set(pheno["SEX"]) <= {1, 2}
    back = gi.io.read_expression(
        paths["gct"],
        sample_attributes=paths["sample_attributes"],
        subject_phenotypes=paths["subject_phenotypes"],
    )
    assert list(back.obs_names) == list(gtex.obs_names)
    assert back.var_names.tolist() == gtex.var["gene_id_version"].tolist()
    np.testing.assert_allclose(back.X, gtex.X, rtol=1e-5, atol=1e-4)
    for col in ("tissue", "tissue_group", "donor", "sex", "age", "SMCENTER", "SMPTHNTS"):
        got = back.obs[col].astype(object).where(back.obs[col].notna(), "")
        want = gtex.obs[col].astype(object).where(gtex.obs[col].notna(), "")
        assert got.tolist() == want.tolist(), col
    for col in ("DTHHRDY", "SMRIN", "SMTSISCH", "SMATSSCR"):
        np.testing.assert_array_equal(back.obs[col].to_numpy(float), gtex.obs[col].to_numpy(float))
    # the same data give the same bytes (gzip header without time stamp); nothing left behind
    first = paths["gct"].read_bytes()
    gi.datasets.write_gtex_files(gtex, tmp_path, fasta=False)
    assert paths["gct"].read_bytes() == first
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    # and the back-read data are usable downstream
    gi.io.write_h5ad(back, tmp_path / "back.h5ad")
    gi.pp.annotate_genes(back, paths["gtf"])
    assert back.uns["annotate_genes"]["n_unplaced"] == 0


def test_write_gtex_files_needs_gtex_ids(tmp_path, gtex):
    bad = gtex[:4].copy()
    bad.obs_names = [f"sample{i}" for i in range(4)]
    with pytest.raises(DataError, match="do not start with their donor"):
        gi.datasets.write_gtex_files(bad, tmp_path, fasta=False, gtf=False)


def test_default_preset_writes_gtex_files(tmp_path):
    adata = gi.datasets.simulate(n_donors=4, n_tissues=3, n_genes=30, random_state=0)
    paths = gi.datasets.write_gtex_files(adata, tmp_path, fasta=False, gtf=False)
    back = gi.io.read_expression(paths["gct"], sample_attributes=paths["sample_attributes"])
    observed = ~np.isnan(adata.X).all(axis=1)
    assert list(back.obs_names) == list(adata.obs_names[observed])
    assert back.obs["tissue"].astype(str).tolist() == adata.obs["tissue"].astype(str)[observed].tolist()


def test_generated_gtex_test_data(test_data):
    folder = test_data / "gtex"
    gct = folder / gi.datasets.GTEX_FILE_NAMES["gct"]
    back = gi.io.read_expression(
        gct,
        sample_attributes=folder / gi.datasets.GTEX_FILE_NAMES["sample_attributes"],
        subject_phenotypes=folder / gi.datasets.GTEX_FILE_NAMES["subject_phenotypes"],
    )
    truth = gi.io.read_h5ad(folder / "truth.h5ad")
    assert back.obs["donor"].nunique() == 8 and back.obs["tissue"].nunique() == 6
    assert truth.n_obs == 48 and truth.obs["present"].sum() == back.n_obs < 48
    present = truth[truth.obs["present"].to_numpy()]
    assert list(present.obs_names) == list(back.obs_names)
    np.testing.assert_allclose(back.X, present.X, rtol=1e-5, atol=1e-4)
    assert {"tissue", "tissue_group", "donor", "sex", "age"} <= set(back.obs.columns)
    gi.pp.annotate_genes(back, folder / gi.datasets.GTEX_FILE_NAMES["gtf"])
    gi.pp.add_promoters(back, fasta=folder / gi.datasets.GTEX_FILE_NAMES["fasta"])
    assert (back.var["promoter"].str.len() == 1500).all()
