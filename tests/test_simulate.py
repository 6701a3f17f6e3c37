from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import gex_impute as gi

COMP = str.maketrans("ACGTN", "TGCAN")


def revcomp(s: str) -> str:
    return s.translate(COMP)[::-1]


@pytest.fixture(scope="module")
def big():
    """Enough genes and samples for the statistical properties to be clear."""
    return gi.datasets.simulate(n_donors=12, n_tissues=8, n_genes=3000, random_state=7)


def log_truth(adata) -> np.ndarray:
    return np.log1p(np.asarray(adata.layers["truth"], dtype=np.float64))


def tissue_profiles(adata) -> np.ndarray:
    """Genes x tissues mean log truth, centred per gene."""
    y = log_truth(adata)
    codes = adata.obs["tissue"].cat.codes.to_numpy()
    prof = np.stack([y[codes == t].mean(0) for t in range(codes.max() + 1)], axis=1)
    return prof - prof.mean(1, keepdims=True)


def row_corr(prof: np.ndarray, i: np.ndarray, j: np.ndarray) -> float:
    a = prof[i] - prof[i].mean(1, keepdims=True)
    b = prof[j] - prof[j].mean(1, keepdims=True)
    den = np.sqrt((a**2).sum(1) * (b**2).sum(1))
    ok = den > 0
    return float(np.mean((a * b).sum(1)[ok] / den[ok]))


def test_conftest_fixture(sim):
    assert sim.shape == (30, 300)
    assert np.isnan(sim.X).any()


def test_shapes_and_annotation():
    adata = gi.datasets.simulate(n_donors=4, n_tissues=3, n_genes=120, n_chromosomes=2, random_state=1)
    assert adata.shape == (12, 120)
    assert adata.layers["truth"].shape == adata.shape
    assert isinstance(adata.obs["tissue"].dtype, pd.CategoricalDtype)
    assert isinstance(adata.obs["donor"].dtype, pd.CategoricalDtype)
    assert adata.obs["tissue"].nunique() == 3 and adata.obs["donor"].nunique() == 4
    # every donor x tissue combination exactly once
    assert not adata.obs[["donor", "tissue"]].duplicated().any()
    # GTEx convention: donor = first two dash-separated fields of SAMPID
    assert all(
        "-".join(s.split("-")[:2]) == d for s, d in zip(adata.obs_names, adata.obs["donor"], strict=True)
    )
    var = adata.var
    for col in ("chrom", "start", "end", "strand", "tss", "gene_type", "promoter"):
        assert col in var.columns
    assert set(var["chrom"]) <= {"chr1", "chr2"}
    assert set(var["strand"]) == {"+", "-"}
    assert (var["start"] >= 0).all() and (var["start"] < var["end"]).all()
    plus = var["strand"] == "+"
    assert (var.loc[plus, "tss"] == var.loc[plus, "start"]).all()
    assert (var.loc[~plus, "tss"] == var.loc[~plus, "end"] - 1).all()
    assert set(var["gene_type"]) <= {"protein_coding", "lncRNA"}
    assert var["promoter"].str.len().eq(1500).all()
    assert var["promoter"].str.fullmatch("[ACGT]+").all()
    assert var.index.is_unique and var["gene_id_version"].str.startswith(tuple(var.index)).all()
    params = adata.uns["simulate"]
    assert params["n_genes"] == 120 and params["random_state"] == 1
    assert list(params["chrom_names"]) == ["chr1", "chr2"]


def test_genome_layout_has_bidirectional_pairs_and_nested_genes(big):
    var = big.var
    chrom, tss, strand = var["chrom"].to_numpy(), var["tss"].to_numpy(), var["strand"].to_numpy()
    same = chrom[1:] == chrom[:-1]
    head_to_head = same & (strand[:-1] == "-") & (strand[1:] == "+") & (np.diff(tss) < 1000)
    assert head_to_head.sum() >= 50
    start, end = var["start"].to_numpy(), var["end"].to_numpy()
    n_nested = 0
    for c in np.unique(chrom):
        s, e = start[chrom == c], end[chrom == c]
        inside = (s[:, None] > s[None, :]) & (e[:, None] < e[None, :])
        n_nested += int(inside.any(axis=1).sum())
    assert n_nested >= 10
    # TSSs lie on their contigs, with room for the promoter windows
    lengths = dict(zip(big.uns["simulate"]["chrom_names"], big.uns["simulate"]["chrom_lengths"], strict=True))
    assert all(t + 1000 < lengths[c] and t - 1000 >= 0 for c, t in zip(chrom, tss, strict=True))


def test_deterministic_given_seed():
    kw = {"n_donors": 5, "n_tissues": 3, "n_genes": 200}
    a = gi.datasets.simulate(**kw, random_state=3)
    b = gi.datasets.simulate(**kw, random_state=3)
    c = gi.datasets.simulate(**kw, random_state=4)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.layers["truth"], b.layers["truth"])
    pd.testing.assert_frame_equal(a.var, b.var)
    pd.testing.assert_frame_equal(a.obs, c.obs)  # same design
    assert not np.allclose(a.layers["truth"], c.layers["truth"])
    assert (a.var["promoter"] != c.var["promoter"]).all()
    g = gi.datasets.simulate(**kw, random_state=np.random.default_rng(3))
    assert g.shape == a.shape and g.uns["simulate"]["random_state"] == -1


@pytest.mark.parametrize(
    ("genes", "samples", "entries"), [(0.05, 0.1, 0.02), (0.2, 0.3, 0.1), (0.0, 0.0, 0.0)]
)
def test_missingness_fractions(genes, samples, entries):
    adata = gi.datasets.simulate(
        n_donors=10,
        n_tissues=10,
        n_genes=1000,
        frac_missing_genes=genes,
        frac_missing_samples=samples,
        frac_missing_entries=entries,
        random_state=2,
    )
    missing = np.isnan(adata.X)
    whole_genes = missing.all(axis=0)
    whole_samples = missing.all(axis=1)
    assert whole_genes.sum() == round(genes * 1000)
    assert whole_samples.sum() == round(samples * 100)
    rest = missing[~whole_samples][:, ~whole_genes]
    assert rest.mean() == pytest.approx(entries, abs=0.005)
    # every tissue and every donor keeps at least one observed sample
    obs = adata.obs[~whole_samples]
    assert obs["tissue"].nunique() == 10 and obs["donor"].nunique() == 10


def test_truth_complete_and_consistent(sim):
    truth = np.asarray(sim.layers["truth"])
    X = np.asarray(sim.X)
    assert np.isfinite(truth).all()
    assert (truth >= 0).all()
    observed = ~np.isnan(X)
    assert observed.mean() > 0.5
    np.testing.assert_array_equal(X[observed], truth[observed])
    assert (X[observed] >= 0).all()
    # TPM-like: zeros exist but are a minority; a wide dynamic range
    assert 0 < (truth == 0).mean() < 0.2
    assert truth.max() > 100 * np.median(truth)


def test_coexpression_decays_with_distance_and_depends_on_orientation(big):
    prof = tissue_profiles(big)
    var = big.var
    chrom, tss, strand = var["chrom"].to_numpy(), var["tss"].to_numpy(), var["strand"].to_numpy()
    n = big.n_vars

    def lag(k):
        i = np.arange(n - k)
        same = chrom[i] == chrom[i + k]
        return i[same], i[same] + k

    r1 = row_corr(prof, *lag(1))
    r20 = row_corr(prof, *lag(20))
    rng = np.random.default_rng(0)
    i, j = rng.integers(0, n, 4000), rng.integers(0, n, 4000)
    far = chrom[i] != chrom[j]
    r_far = row_corr(prof, i[far], j[far])
    assert r1 > r20 + 0.1
    assert r1 > r_far + 0.15
    assert abs(r_far) < 0.05
    # neighbours: divergent (head-to-head) pairs share more than convergent (tail-to-tail) ones
    i = np.arange(n - 1)
    close = (chrom[i] == chrom[i + 1]) & (np.diff(tss) < 10_000)
    div = close & (strand[i] == "-") & (strand[i + 1] == "+")
    conv = close & (strand[i] == "+") & (strand[i + 1] == "-")
    assert div.sum() > 100 and conv.sum() > 100
    assert row_corr(prof, i[div], i[div] + 1) > row_corr(prof, i[conv], i[conv] + 1) + 0.1


def test_donor_effects_shared_across_tissues(big):
    y = log_truth(big)
    tissue = big.obs["tissue"].cat.codes.to_numpy()
    donor = big.obs["donor"].cat.codes.to_numpy()
    resid = y.copy()
    for t in np.unique(tissue):
        resid[tissue == t] -= y[tissue == t].mean(0)
    n_donors = donor.max() + 1

    def sample(d, t):
        return resid[np.flatnonzero((donor == d) & (tissue == t))[0]]

    same = [np.corrcoef(sample(d, 0), sample(d, 1))[0, 1] for d in range(n_donors)]
    other = [np.corrcoef(sample(d, 0), sample((d + 1) % n_donors, 1))[0, 1] for d in range(n_donors)]
    assert np.mean(same) > np.mean(other) + 0.15
    assert abs(np.mean(other)) < 0.1


def test_tissues_cluster_into_programmes(big):
    prof = tissue_profiles(big)
    corr = np.corrcoef(prof.T)
    prog = np.asarray(big.uns["simulate"]["tissue_programme"])
    same = prog[:, None] == prog[None, :]
    off = ~np.eye(len(prog), dtype=bool)
    assert corr[same & off].mean() > corr[~same].mean() + 0.3


def test_promoter_motifs_drive_expression(big):
    """Scan the promoters here, independently of the simulator's bookkeeping."""
    prom = big.var["promoter"].to_numpy()
    level = log_truth(big).mean(0)
    activator = np.array(["CACGTGAC" in s for s in prom])
    repressor = np.array(["TGTTTAAC" in s for s in prom])
    tata = np.array(["TATAAA" in s[960:985] for s in prom])
    cpg = np.array([s[750:1100].count("CG") for s in prom], dtype=float)
    assert 0.1 < activator.mean() < 0.3 and 0.1 < repressor.mean() < 0.3
    assert level[activator].mean() > level[~activator].mean() + 0.3
    assert level[repressor].mean() < level[~repressor].mean() - 0.3
    assert level[tata].mean() > level[~tata].mean() + 0.2
    assert np.corrcoef(cpg, level)[0, 1] > 0.1
    # sequence explains a real but partial share of the across-gene variance
    design = np.c_[np.ones(len(level)), activator, repressor, tata, cpg]
    coef, *_ = np.linalg.lstsq(design, level, rcond=None)
    r2 = 1 - np.sum((level - design @ coef) ** 2) / np.sum((level - level.mean()) ** 2)
    assert 0.15 < r2 < 0.5
    # a tissue motif raises its programme's tissues (programme 0: TGACTCAG)
    prof = tissue_profiles(big)
    prog = np.asarray(big.uns["simulate"]["tissue_programme"])
    tissue_motif = np.array(["TGACTCAG" in s for s in prom])
    in_prog = prof[:, prog == 0].mean(1)
    assert in_prog[tissue_motif].mean() > in_prog[~tissue_motif].mean() + 0.3


def test_fasta_reproduces_promoters(tmp_path):
    import pysam

    up, down = 300, 200
    adata = gi.datasets.simulate(
        n_donors=2, n_tissues=2, n_genes=400, gene_spacing=5000, upstream=up, downstream=down, random_state=5
    )
    paths = gi.datasets.write_dataset(tmp_path, adata, gtf=False, gct=False)
    assert paths["fai"].exists()
    with pysam.FastaFile(str(paths["fasta"])) as fa:
        lengths = dict(zip(fa.references, fa.lengths, strict=True))
        assert lengths == dict(
            zip(adata.uns["simulate"]["chrom_names"], adata.uns["simulate"]["chrom_lengths"], strict=True)
        )
        for g in adata.var.itertuples():
            if g.strand == "+":
                seq = fa.fetch(g.chrom, g.tss - up, g.tss + down)
            else:
                seq = revcomp(fa.fetch(g.chrom, g.tss - down + 1, g.tss + up + 1))
            assert seq == g.promoter, g.Index
        chrom = fa.fetch("chr1")
    gc = (chrom.count("G") + chrom.count("C")) / len(chrom)
    assert 0.38 < gc < 0.46
    # CpG depleted, as in mammalian genomes (random sequence at this GC would give ~0.044)
    assert chrom.count("CG") / len(chrom) < 0.02


def test_write_dataset_files(tmp_path):
    import anndata as ad

    paths = gi.datasets.write_dataset(tmp_path, n_donors=3, n_tissues=4, n_genes=60, random_state=0)
    assert set(paths) == {"h5ad", "fasta", "fai", "gtf", "gct", "sample_attributes"}
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind
    adata = ad.read_h5ad(paths["h5ad"])
    assert adata.shape == (12, 60)
    expected = gi.datasets.simulate(n_donors=3, n_tissues=4, n_genes=60, random_state=0)
    np.testing.assert_array_equal(adata.X, expected.X)
    assert list(adata.var["promoter"]) == list(expected.var["promoter"])

    # GCT v1.2: header, dimensions, versioned ids, observed samples only, values to 6 digits
    lines = paths["gct"].read_text().splitlines()
    assert lines[0] == "#1.2"
    n_rows, n_cols = map(int, lines[1].split("\t"))
    header = lines[2].split("\t")
    assert header[:2] == ["Name", "Description"]
    observed = ~np.isnan(adata.X).all(axis=1)
    assert header[2:] == list(adata.obs_names[observed])
    assert (n_rows, n_cols) == (60, observed.sum()) and len(lines) == 3 + n_rows
    table = pd.read_csv(paths["gct"], sep="\t", skiprows=2, index_col=0)
    assert list(table.index) == list(adata.var["gene_id_version"])
    assert list(table["Description"]) == list(adata.var["gene_name"])
    values = table.drop(columns="Description").to_numpy().T
    np.testing.assert_allclose(values, adata.X[observed], rtol=1e-5, equal_nan=True)

    attrs = pd.read_csv(paths["sample_attributes"], sep="\t")
    assert list(attrs.columns[:3]) == ["SAMPID", "SMTS", "SMTSD"]
    assert list(attrs["SAMPID"]) == list(adata.obs_names)
    assert list(attrs["SMTSD"]) == list(adata.obs["tissue"].astype(str))
    assert (attrs["SMAFRZE"] == "RNASEQ").sum() == observed.sum()

    # GTF gene records: 1-based inclusive coordinates of the 0-based half-open var
    gtf = pd.read_csv(paths["gtf"], sep="\t", comment="#", header=None)
    genes = gtf[gtf[2] == "gene"]
    assert len(genes) == 60
    ids = genes[8].str.extract(r'gene_id "([^"]+)"')[0]
    var = adata.var.set_index("gene_id_version").loc[ids]
    np.testing.assert_array_equal(genes[3].to_numpy(), var["start"].to_numpy() + 1)
    np.testing.assert_array_equal(genes[4].to_numpy(), var["end"].to_numpy())
    assert (genes[6].to_numpy() == var["strand"].astype(str).to_numpy()).all()
    assert genes[8].str.contains('gene_type "').all() and genes[8].str.contains('gene_name "').all()


def test_write_dataset_rejects_adata_with_options(tmp_path, sim):
    with pytest.raises(ValueError, match="one or the other"):
        gi.datasets.write_dataset(tmp_path, sim, n_genes=10)
    bare = sim.copy()
    bare.var = bare.var.drop(columns=["chrom", "tss"])
    with pytest.raises(ValueError, match="lacks"):
        gi.datasets.write_dataset(tmp_path / "bare", bare, gct=False)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_donors": 0}, "n_donors"),
        ({"n_genes": 2.5}, "n_genes"),
        ({"frac_missing_genes": 1.0}, "frac_missing_genes"),
        ({"frac_missing_entries": -0.1}, "frac_missing_entries"),
        ({"upstream": -1}, "upstream"),
    ],
)
def test_invalid_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        gi.datasets.simulate(**kwargs)


def test_edge_cases():
    # more tissues than GTEx names, more chromosomes than genes, no downstream bases
    adata = gi.datasets.simulate(
        n_donors=1, n_tissues=40, n_genes=2, n_chromosomes=3, downstream=0, upstream=50, random_state=0
    )
    assert adata.shape == (40, 2)
    assert "Tissue 40" in adata.obs["tissue"].cat.categories
    assert adata.var["promoter"].str.len().eq(50).all()
    assert np.isfinite(adata.layers["truth"]).all()


def test_test_data_is_what_the_script_writes(tmp_path, test_data):
    """test-data/ is committed; it must be exactly what scripts/make_test_data.py produces."""
    import anndata as ad

    script = Path(__file__).resolve().parent.parent / "scripts" / "make_test_data.py"
    spec = importlib.util.spec_from_file_location("make_test_data", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # the Galaxy workflow model goes to tmp_path too: the test must never rewrite a committed file
    model = tmp_path.with_name(tmp_path.name + "_model") / "model_hybrid.zip"
    module.main(["--out", str(tmp_path), "--hybrid-model", str(model)])
    assert model.stat().st_size > 0
    committed = Path(__file__).resolve().parent.parent / "galaxy" / "workflows" / "test-data"
    assert (committed / "model_additive.json").read_bytes() == model.with_name(
        "model_additive.json"
    ).read_bytes()
    text_files = [
        "README.md",
        "genome.fa",
        "genome.fa.fai",
        "genes.gtf",
        "genes.gff3",
        "genes.bed",
        "genes.tsv",
        "sample_attributes.tsv",
        "promoters.fa",
        "promoters.tsv",
    ]
    text_files += [
        f"gtex/{name}"
        for name in (
            "GTEx_Analysis_v8_Annotations_SampleAttributesDS.txt",
            "GTEx_Analysis_v8_Annotations_SubjectPhenotypesDS.txt",
            "gencode.v26.GRCh38.genes.gtf",
            "Homo_sapiens_assembly38_noALT_noHLA_noDecoy.fasta",
            "Homo_sapiens_assembly38_noALT_noHLA_noDecoy.fasta.fai",
        )
    ]
    for name in text_files:
        assert (tmp_path / name).read_bytes() == (test_data / name).read_bytes(), name
    # gzip files: reproducible bytes (no time stamp or name in the header)
    for name in ("expression.gct.gz", "gtex/GTEx_Analysis_2017-06-05_v8_RNASeQCv1.1.9_gene_tpm.gct.gz"):
        assert (tmp_path / name).read_bytes() == (test_data / name).read_bytes(), name
    for name in ("sim.h5ad", "sim_unannotated.h5ad", "gtex/truth.h5ad"):
        new, old = ad.read_h5ad(tmp_path / name), ad.read_h5ad(test_data / name)
        np.testing.assert_array_equal(new.X, old.X)
        pd.testing.assert_frame_equal(new.var, old.var)
        pd.testing.assert_frame_equal(new.obs, old.obs)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == sorted(
        p.relative_to(test_data) for p in test_data.rglob("*")
    )
    assert sum(p.stat().st_size for p in test_data.rglob("*") if p.is_file()) < 2_500_000
    bare = ad.read_h5ad(test_data / "sim_unannotated.h5ad")
    assert not {"chrom", "start", "end", "strand", "tss", "promoter"} & set(bare.var.columns)
