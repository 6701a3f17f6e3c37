from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gex_impute import genome
from gex_impute.genome import (
    ORIENTATIONS,
    GenomicNeighbours,
    add_genomic_context,
    genomic_context,
    genomic_neighbours,
    neighbour_values,
)
from gex_impute.genome._reference import _brute_force_neighbours

FIELDS = ("index", "distance", "abs_distance", "orientation", "overlap", "nested", "bidirectional")


def assert_same(got: GenomicNeighbours, want: GenomicNeighbours) -> None:
    for name in FIELDS:
        a, b = getattr(got, name), getattr(want, name)
        assert a.shape == b.shape, name
        np.testing.assert_array_equal(a, b, err_msg=name)
    assert got.index.dtype == np.int64
    assert got.distance.dtype == np.int64
    assert got.orientation.dtype == np.int8
    for name in ("overlap", "nested", "bidirectional"):
        assert getattr(got, name).dtype == bool


# ---------------------------------------------------------------------------------------------
# random genomes


@st.composite
def genomes(draw):
    """Small genomes: several chromosomes in mixed naming styles, both strands, many equal TSSs."""
    n = draw(st.integers(0, 40))
    chroms = draw(st.lists(st.sampled_from(["chr1", "1", "chrX", "2", "scaffold_7"]), min_size=1, max_size=3))
    span = draw(st.sampled_from([5, 50, 2_000]))  # small spans force duplicated TSSs
    rows = []
    for _ in range(n):
        chrom = draw(
            st.sampled_from([*chroms, None]) if draw(st.integers(0, 9)) == 0 else st.sampled_from(chroms)
        )
        tss = draw(
            st.one_of(st.integers(0, span), st.none()) if draw(st.booleans()) else st.integers(0, span)
        )
        strand = draw(st.sampled_from(["+", "-", "+", "-", "."]))
        length = draw(st.integers(0, span // 2 + 1))
        if tss is None or draw(st.integers(0, 9)) == 0:
            start = end = np.nan
        elif strand == "-":
            start, end = tss + 1 - length, tss + 1
        else:
            start, end = tss, tss + length
        rows.append((chrom, np.nan if tss is None else tss, strand, start, end))
    var = pd.DataFrame(rows, columns=["chrom", "tss", "strand", "start", "end"], dtype=object)
    var["tss"] = pd.to_numeric(var["tss"], errors="coerce").astype("float64")
    var["start"] = pd.to_numeric(var["start"], errors="coerce").astype("float64")
    var["end"] = pd.to_numeric(var["end"], errors="coerce").astype("float64")
    var.index = [f"g{i}" for i in range(n)]
    reference = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    k = draw(st.integers(1, 12))
    window = draw(st.sampled_from([None, 0, 1, 3, 10, 100, 1_000]))
    return var, reference, k, window


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(genomes())
def test_matches_brute_force(case):
    var, reference, k, window = case
    got = genomic_neighbours(var, reference=reference, k=k, window=window)
    want = _brute_force_neighbours(var, reference=reference, k=k, window=window)
    assert_same(got, want)


@settings(max_examples=100, deadline=None)
@given(genomes())
def test_invariants(case):
    var, reference, k, window = case
    nb = genomic_neighbours(var, reference=reference, k=k, window=window)
    n = len(var)
    rows = np.arange(n)[:, None]
    has = nb.index >= 0
    # never self, only references, only the same chromosome, within the window
    assert not np.any(has & (nb.index == rows))
    assert np.all(reference[nb.index[has]])
    chrom = var["chrom"].astype(object).to_numpy()
    assert np.all(chrom[np.broadcast_to(rows, nb.index.shape)[has]] == chrom[nb.index[has]])
    if window is not None:
        assert np.all(nb.abs_distance <= window)
    # filled slots come first, sorted by absolute distance; padding is canonical
    assert np.all(has[:, :-1] >= has[:, 1:])
    assert np.all(np.where(has[:, 1:], np.diff(nb.abs_distance, axis=1) >= 0, True))
    assert np.all(nb.distance[~has] == 0)
    assert np.all(nb.orientation[~has] == -1)
    for flag in (nb.overlap, nb.nested, nb.bidirectional):
        assert not np.any(flag[~has])
    assert np.all(nb.abs_distance == np.abs(nb.distance))
    assert not np.any(nb.nested & ~nb.overlap)
    assert np.all(nb.orientation[nb.bidirectional] == 1)
    # no duplicates within a row
    for row in nb.index:
        row = row[row >= 0]
        assert len(set(row.tolist())) == len(row)
    # the count is as large as possible: min(k, references in the window)
    placed = var["chrom"].notna().to_numpy() & var["tss"].notna().to_numpy()
    assert np.all(nb.n_neighbours[~placed] == 0)


@settings(max_examples=50, deadline=None)
@given(genomes(), st.randoms(use_true_random=False))
def test_row_order_does_not_change_the_neighbours(case, rnd):
    """Permuting the genes permutes the answer (up to ties: compare distances and neighbour ids)."""
    var, reference, k, window = case
    perm = np.array(rnd.sample(range(len(var)), len(var)), dtype=np.int64)
    nb = genomic_neighbours(var, reference=reference, k=k, window=window)
    nb_p = genomic_neighbours(var.iloc[perm], reference=reference[perm], k=k, window=window)
    # tied neighbours may swap (ties go to the lower position), but they share a TSS, hence a
    # distance; orientation and flags may differ between tied neighbours so are not compared
    np.testing.assert_array_equal(nb_p.distance, nb.distance[perm])
    np.testing.assert_array_equal(nb_p.n_neighbours, nb.n_neighbours[perm])


# ---------------------------------------------------------------------------------------------
# hand-made cases


def pair(strand_a, tss_a, strand_b, tss_b, body_a=None, body_b=None):
    var = pd.DataFrame(
        {
            "chrom": ["chr1", "chr1"],
            "tss": [tss_a, tss_b],
            "strand": [strand_a, strand_b],
            "start": [body_a[0] if body_a else np.nan, body_b[0] if body_b else np.nan],
            "end": [body_a[1] if body_a else np.nan, body_b[1] if body_b else np.nan],
        },
        index=["a", "b"],
    )
    return genomic_neighbours(var, k=1)


def test_tandem():
    nb = pair("+", 100, "+", 5_000)
    assert nb.orientation.tolist() == [[0], [0]]
    assert nb.distance.tolist() == [[4_900], [-4_900]]  # b downstream of a; a upstream of b


def test_minus_strand_distance_sign():
    # on "-", downstream means lower coordinates
    nb = pair("-", 5_000, "-", 100)
    assert nb.distance.tolist() == [[4_900], [-4_900]]
    assert nb.orientation.tolist() == [[0], [0]]


def test_divergent_head_to_head_and_bidirectional():
    # <--- a(-) TSS 1000 ... TSS 1600 b(+) --->
    nb = pair("-", 1_000, "+", 1_600, body_a=(0, 1_001), body_b=(1_600, 3_000))
    assert nb.orientation.tolist() == [[1], [1]]
    assert nb.bidirectional.tolist() == [[True], [True]]
    assert nb.overlap.tolist() == [[False], [False]]
    assert nb.distance.tolist() == [[-600], [-600]]  # each lies upstream of the other


def test_divergent_far_apart_is_not_bidirectional():
    nb = pair("-", 1_000, "+", 2_000)
    assert nb.orientation.tolist() == [[1], [1]]
    assert nb.bidirectional.tolist() == [[False], [False]]  # 1000 bp is not < 1 kb
    nb = pair("-", 1_000, "+", 1_999)
    assert nb.bidirectional.tolist() == [[True], [True]]


def test_divergent_shared_tss():
    nb = pair("+", 500, "-", 500)
    assert nb.orientation.tolist() == [[1], [1]]
    assert nb.bidirectional.tolist() == [[True], [True]]


def test_convergent_tail_to_tail():
    # a(+) TSS 1000 ---> ... <--- TSS 1500 b(-): close but convergent, never bidirectional
    nb = pair("+", 1_000, "-", 1_500, body_a=(1_000, 1_400), body_b=(1_450, 1_501))
    assert nb.orientation.tolist() == [[2], [2]]
    assert nb.bidirectional.tolist() == [[False], [False]]
    assert nb.overlap.tolist() == [[False], [False]]
    assert nb.distance.tolist() == [[500], [500]]  # each lies downstream of the other


def test_overlap_without_nesting():
    nb = pair("+", 1_000, "-", 2_999, body_a=(1_000, 2_500), body_b=(2_000, 3_000))
    assert nb.overlap.tolist() == [[True], [True]]
    assert nb.nested.tolist() == [[False], [False]]


def test_touching_bodies_do_not_overlap():
    nb = pair("+", 0, "+", 100, body_a=(0, 100), body_b=(100, 200))
    assert nb.overlap.tolist() == [[False], [False]]


def test_nested_both_directions():
    nb = pair("+", 1_000, "-", 4_999, body_a=(1_000, 10_000), body_b=(3_000, 5_000))
    assert nb.overlap.tolist() == [[True], [True]]
    assert nb.nested.tolist() == [[True], [True]]


def test_no_bodies_means_no_overlap_flags():
    var = pd.DataFrame({"chrom": ["1", "1"], "tss": [0, 10], "strand": ["+", "-"]})
    nb = genomic_neighbours(var, k=1)
    assert not nb.overlap.any()
    assert not nb.nested.any()
    assert nb.orientation.tolist() == [[2], [2]]


def test_unknown_strand():
    var = pd.DataFrame({"chrom": ["1", "1"], "tss": [0, 10]})
    nb = genomic_neighbours(var, k=1)
    assert nb.orientation.tolist() == [[-1], [-1]]
    assert nb.distance.tolist() == [[10], [-10]]
    assert nb.index.tolist() == [[1], [0]]


def test_chromosome_names_are_compared_as_given():
    var = pd.DataFrame({"chrom": ["chr1", "1", 1, "chr1"], "tss": [0, 5, 7, 9], "strand": ["+"] * 4})
    nb = genomic_neighbours(var, k=3)
    assert nb.index.tolist() == [[3, -1, -1], [2, -1, -1], [1, -1, -1], [0, -1, -1]]


def test_reference_mask_gene_ids_and_series():
    var = pd.DataFrame(
        {"chrom": ["c"] * 4, "tss": [0, 10, 20, 30], "strand": ["+"] * 4}, index=["A", "B", "C", "D"]
    )
    mask = np.array([True, False, True, False])
    by_mask = genomic_neighbours(var, reference=mask, k=2)
    by_ids = genomic_neighbours(var, reference=["A", "C"], k=2)
    by_series = genomic_neighbours(var, reference=pd.Series(mask[::-1], index=var.index[::-1]), k=2)
    assert by_mask.index.tolist() == [[2, -1], [0, 2], [0, -1], [2, 0]]
    np.testing.assert_array_equal(by_ids.index, by_mask.index)
    np.testing.assert_array_equal(by_series.index, by_mask.index)


def test_ties_go_to_lower_tss_then_position():
    var = pd.DataFrame({"chrom": ["c"] * 5, "tss": [100, 110, 90, 110, 90], "strand": ["+"] * 5})
    nb = genomic_neighbours(var, k=4)
    # gene 0 at 100: four genes at distance 10; lower TSS (90: genes 2, 4) first, then 110 (1, 3)
    assert nb.index[0].tolist() == [2, 4, 1, 3]


def test_window_is_inclusive():
    var = pd.DataFrame({"chrom": ["c"] * 3, "tss": [0, 1_000, 1_001]})
    nb = genomic_neighbours(var, k=2, window=1_000)
    assert nb.index.tolist() == [[1, -1], [2, 0], [1, -1]]
    nb = genomic_neighbours(var, k=2, window=None)
    assert nb.index.tolist() == [[1, 2], [2, 0], [1, 0]]


def test_many_duplicated_tss_beyond_k():
    """A run of equal TSSs longer than k on both sides still yields the lowest positions."""
    tss = [50] * 8 + [40] * 8 + [60] * 8 + [50]
    var = pd.DataFrame({"chrom": ["c"] * len(tss), "tss": tss, "strand": ["+"] * len(tss)})
    nb = genomic_neighbours(var, k=10)
    assert nb.index[24].tolist() == list(range(8)) + [8, 9]
    assert nb.index[3].tolist() == [0, 1, 2, 4, 5, 6, 7, 24, 8, 9]
    assert_same(nb, _brute_force_neighbours(var, k=10))


def test_errors():
    var = pd.DataFrame({"chrom": ["c"], "tss": [1]})
    with pytest.raises(KeyError, match="annotate_genes"):
        genomic_neighbours(var.drop(columns="tss"))
    with pytest.raises(ValueError, match="k=0"):
        genomic_neighbours(var, k=0)
    with pytest.raises(ValueError, match="window=-1"):
        genomic_neighbours(var, window=-1)
    with pytest.raises(ValueError, match="bool per gene"):
        genomic_neighbours(var, reference=[True, False])
    with pytest.raises(ValueError, match="not in var.index"):
        genomic_neighbours(var, reference=["nope"])
    with pytest.raises(ValueError, match="non-integer"):
        genomic_neighbours(pd.DataFrame({"chrom": ["c"], "tss": [1.5]}))
    with pytest.raises(TypeError, match="DataFrame"):
        genomic_neighbours(np.zeros((2, 2)))


@pytest.mark.parametrize(
    "missing",
    [np.nan, None, pd.NA],
    ids=["nan", "none", "pd.NA"],
)
def test_genes_without_coordinates_never_crash(missing):
    """Missing chromosome, TSS or strand (NaN, None, pandas NA, nullable dtypes): no neighbours, no error."""
    var = pd.DataFrame(
        {
            "chrom": pd.array(["chr1", "chr1", missing, "chr1", "chr1"], dtype="string"),
            "tss": pd.array([100, 500, 900, None, 2_000], dtype="Int64"),
            "strand": ["+", missing, "-", "+", "-"],
            "start": pd.array([100, 300, 700, None, 1_500], dtype="Int64"),
            "end": pd.array([400, 501, 901, None, 2_001], dtype="Int64"),
        },
        index=list("abcde"),
    )
    nb = genomic_neighbours(var, k=3)
    assert nb.n_neighbours.tolist() == [2, 2, 0, 0, 2]  # c has no chromosome, d no TSS
    assert not np.isin([2, 3], nb.index).any()
    # b's strand is unknown: no orientation towards it, distances keep the genomic sign
    assert nb.orientation[0, 0] == -1 and nb.distance[0, 0] == 400
    assert nb.orientation[0, 1] == genome.CONVERGENT
    plain = var.astype(object).where(var.notna(), None)
    assert_same(nb, _brute_force_neighbours(plain, k=3))


def test_read_only_inputs():
    """Arrays behind the columns may be read-only (pandas copy-on-write): they are never written."""
    var = pd.DataFrame({"chrom": ["1", "1", "2"], "tss": [10, 20, 30], "strand": ["+", "-", "+"]})
    for col in var.columns:
        arr = var[col].to_numpy()
        arr.flags.writeable = False
        var[col] = pd.Series(arr, copy=False)
    reference = pd.Series([True, True, False], index=var.index)
    nb = genomic_neighbours(var, k=1, reference=reference)
    assert nb.index[:, 0].tolist() == [1, 0, -1]


def test_empty_var():
    nb = genomic_neighbours(pd.DataFrame({"chrom": [], "tss": []}), k=3)
    assert nb.index.shape == (0, 3)
    assert len(nb.to_frame()) == 0


# ---------------------------------------------------------------------------------------------
# to_frame and neighbour_values


def test_to_frame_long_format():
    var = pd.DataFrame(
        {"chrom": ["c"] * 3, "tss": [0, 500, 90_000], "strand": ["-", "+", "+"]}, index=["x", "y", "z"]
    )
    nb = genomic_neighbours(var, k=2, window=10_000)
    frame = nb.to_frame()
    assert len(frame) == nb.mask.sum() == 2
    assert list(frame.columns[:4]) == ["gene", "rank", "neighbour", "neighbour_index"]
    assert frame[["gene", "neighbour"]].values.tolist() == [["x", "y"], ["y", "x"]]
    assert frame["rank"].tolist() == [1, 1]
    assert list(frame["orientation"].cat.categories) == list(ORIENTATIONS)
    assert frame["orientation"].tolist() == ["divergent", "divergent"]
    assert frame["bidirectional"].tolist() == [True, True]


@settings(max_examples=40, deadline=None)
@given(genomes(), st.integers(1, 4))
def test_neighbour_values_matches_loop(case, n_samples):
    var, reference, k, window = case
    nb = genomic_neighbours(var, reference=reference, k=k, window=window)
    rng = np.random.default_rng(len(var))
    values = rng.normal(size=(n_samples, len(var)))
    values[rng.random(values.shape) < 0.2] = np.nan
    out = neighbour_values(nb, values)
    assert out.shape == (n_samples, len(var), k)
    want = np.full(out.shape, np.nan)
    for i in range(len(var)):
        for j in range(k):
            if nb.index[i, j] >= 0:
                want[:, i, j] = values[:, nb.index[i, j]]
    np.testing.assert_array_equal(out, want)


def test_neighbour_values_dtypes_and_shape_check():
    index = np.array([[1, -1], [-1, -1]])
    out32 = neighbour_values(index, np.array([[1, 2]], dtype=np.float32))
    assert out32.dtype == np.float32
    out_int = neighbour_values(index, np.array([5, 6]))  # 1-D: one vector over genes
    assert out_int.dtype == np.float64
    np.testing.assert_array_equal(out_int, [[6.0, np.nan], [np.nan, np.nan]])
    with pytest.raises(ValueError, match="same gene order"):
        neighbour_values(index, np.zeros((2, 3)))


# ---------------------------------------------------------------------------------------------
# AnnData


def _adata():
    from anndata import AnnData

    var = pd.DataFrame(
        {
            "chrom": ["chr1", "chr1", "chr1", "chr2", "chr2"],
            "start": [0, 400, 2_000, 0, 300],
            "end": [101, 3_000, 2_500, 1_000, 800],
            "strand": ["-", "+", "+", "+", "-"],
            "tss": [100, 400, 2_000, 0, 799],
        },
        index=[f"G{i}" for i in range(5)],
    )
    x = np.array([[1.0, np.nan, 2.0, 3.0, 4.0], [1.0, np.nan, np.nan, 3.0, np.nan]])
    return AnnData(x, obs=pd.DataFrame(index=["s1", "s2"]), var=var)


def test_add_genomic_context_in_place_and_roundtrip(tmp_path):
    import anndata as ad

    adata = _adata()
    assert add_genomic_context(adata, k=3, reference="observed") is None
    want = genomic_neighbours(adata.var, reference=np.array([True, False, True, True, True]), k=3)
    got = genomic_context(adata)
    assert_same(got, want)
    assert adata.uns["genomic_context"]["n_reference"] == 4
    assert adata.uns["genomic_context"]["params"]["reference"] == "observed"
    path = tmp_path / "ctx.h5ad"
    # pandas 3 makes string indexes StringArrays, which anndata writes only when allowed
    from gex_impute.io.h5ad import nullable_strings_allowed

    with nullable_strings_allowed():
        adata.write_h5ad(path)
    back = ad.read_h5ad(path)
    assert_same(genomic_context(back), want)
    assert genomic_context(back).window == 1_000_000


def test_add_genomic_context_copy_sparse_and_key():
    from scipy import sparse

    adata = _adata()
    adata.X = sparse.csr_matrix(np.nan_to_num(adata.X, nan=0.0))  # structural zeros are observed
    out = add_genomic_context(adata, k=2, window=None, reference="observed", key_added="ctx", copy=True)
    assert "ctx_index" not in adata.varm
    assert out.uns["ctx"]["n_reference"] == 5
    assert out.varm["ctx_orientation"].dtype == np.int8
    x = sparse.csr_matrix(np.array([[np.nan, 1, 1, 1, 1], [np.nan, 0, 0, 0, 0]]))
    adata.X = x
    add_genomic_context(adata, k=2, reference="observed")
    assert adata.uns["genomic_context"]["n_reference"] == 4


def test_genomic_context_transposed_layout():
    adata = _adata().T.copy()  # genes in obs
    add_genomic_context(adata, k=2, reference="observed")
    assert adata.obsm["genomic_context_index"].shape == (5, 2)
    nb = genomic_context(adata)
    assert not np.any(nb.index == 1)  # G1 is never observed


def test_genomic_context_detects_changed_genes():
    adata = _adata()
    add_genomic_context(adata, k=2)
    with pytest.raises(ValueError, match="genes changed"):
        genomic_context(adata[:, [4, 3, 2, 1, 0]].copy())
    with pytest.raises(KeyError, match="add_genomic_context"):
        genomic_context(adata, key="other")
    with pytest.raises(ValueError, match="reference='nope'"):
        add_genomic_context(adata, reference="nope")


@pytest.mark.parametrize("module", ["neighbours", "search", "context"])
def test_docstring_examples(module):
    result = doctest.testmod(getattr(genome, module), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


def test_simulated_dataset(sim):
    """On the simulator's output: wholly unobserved genes are never neighbours but get some."""
    x = np.asarray(sim.X, dtype=np.float64)
    observed = ~np.all(np.isnan(x), axis=0)
    assert not observed.all(), "the fixture should hold some wholly missing genes"
    add_genomic_context(sim, k=5, reference="observed")
    nb = genomic_context(sim)
    assert not np.isin(np.flatnonzero(~observed), nb.index).any()
    assert (nb.n_neighbours[~observed] > 0).all()
    assert_same(nb, _brute_force_neighbours(sim.var, reference=observed, k=5, window=1_000_000))
    values = neighbour_values(nb, x)
    assert values.shape == (*x.shape, 5)


def test_reference_and_parameter_inputs_are_read_as_meant_or_refused():
    """Sweep L: masks not aligned on the genes, nullable masks, inf / NaN windows, sparse values."""
    from scipy import sparse

    var = pd.DataFrame({"chrom": ["1"] * 3, "tss": [100, 600, 5000]}, index=["a", "b", "c"])
    # a bool Series indexed 0..n-1 (from a numpy array) would have selected no reference gene
    with pytest.raises(ValueError, match=r"pass mask.to_numpy\(\)"):
        genomic_neighbours(var, k=1, reference=pd.Series([True, True, False]))
    aligned = genomic_neighbours(var, k=1, reference=pd.Series([True, True, False], index=var.index))
    nullable = genomic_neighbours(var, k=1, reference=pd.array([True, True, None], dtype="boolean"))
    np.testing.assert_array_equal(aligned.index, nullable.index)
    assert aligned.index[2, 0] == 1  # c's nearest reference gene is b
    # window: inf is no limit, NaN and fractions are refused by name
    np.testing.assert_array_equal(
        genomic_neighbours(var, k=1, window=np.inf).index, genomic_neighbours(var, k=1, window=None).index
    )
    for bad in (np.nan, 10.5):
        with pytest.raises(ValueError, match="window="):
            genomic_neighbours(var, k=1, window=bad)
    with pytest.raises(ValueError, match="k="):
        genomic_neighbours(var, k=np.nan)
    values = np.array([[1.0, 2.0, 3.0]])
    np.testing.assert_array_equal(
        neighbour_values(aligned, sparse.csr_matrix(values)), neighbour_values(aligned, values)
    )


def test_add_genomic_context_on_views_without_x_and_with_ids():
    import anndata as ad

    from gex_impute.errors import DataError, KeyNotFoundError

    var = pd.DataFrame({"chrom": ["1"] * 4, "tss": [100, 600, 5000, 9000]}, index=list("abcd"))
    adata = ad.AnnData(np.ones((2, 4)), var=var)
    view = adata[:, :3]
    add_genomic_context(view, k=1, reference=["a", "b"])  # a view is made actual, not copied per write
    assert not view.is_view and view.uns["genomic_context"]["params"]["reference"] == "ids"
    with pytest.raises(KeyNotFoundError, match="layer='nope'"):
        add_genomic_context(adata, k=1, reference="observed", layer="nope")
    no_x = ad.AnnData(X=None, var=var, obs=pd.DataFrame(index=["s1", "s2"]))
    with pytest.raises(DataError, match="no X"):
        add_genomic_context(no_x, k=1, reference="observed")


def test_an_incomplete_stored_context_is_named():
    import anndata as ad

    from gex_impute.errors import KeyNotFoundError

    var = pd.DataFrame({"chrom": ["1"] * 3, "tss": [100, 600, 5000]}, index=list("abc"))
    adata = ad.AnnData(np.ones((2, 3)), var=var)
    add_genomic_context(adata, k=1)
    del adata.varm["genomic_context_nested"]
    with pytest.raises(KeyNotFoundError, match=r"lacks \['genomic_context_nested'\].*again"):
        genomic_context(adata)
