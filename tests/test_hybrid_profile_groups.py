"""Group-aware columns of absent profiles (:mod:`gex_impute.methods.hybrid.profile_groups`)."""

from __future__ import annotations

import numpy as np

from gex_impute.methods.hybrid.masking import Layout
from gex_impute.methods.hybrid.profile_columns import similar_donors
from gex_impute.methods.hybrid.profile_groups import GROUP_NAMES, group_columns
from gex_impute.methods.hybrid.profiles import ProfileFeatures

N_DONORS, N_TISSUES, N_GENES = 16, 4, 400


def _cohort(
    seed: int = 0, *, quiet: float = 0.2, noisy: float = 1.0, offset: float = 0.7
) -> tuple[np.ndarray, Layout, np.ndarray]:
    """Two groups of 8 donors; group 1 differs by a per-gene offset shared by every tissue.

    Donors of group 0 vary little around their group (sd ``quiet``), donors of group 1 much
    (``noisy``), so a donor of group 1 is nearer (squared distance) to group 0 than to its own
    group. Returns ``(values, layout, group of each donor)``; unit (donor 8, tissue 0) is absent.
    """
    rng = np.random.default_rng(seed)
    group = np.repeat([0, 1], N_DONORS // 2)
    mu = rng.normal(5, 1, (N_TISSUES, N_GENES))
    delta = rng.normal(0, offset, N_GENES)
    sd = np.where(group == 1, noisy, quiet)
    cube = mu[None] + (group[:, None] * delta)[:, None, :]
    cube = cube + sd[:, None, None] * rng.normal(0, 1, (N_DONORS, N_TISSUES, N_GENES))
    donor = np.repeat(np.arange(N_DONORS), N_TISSUES)
    tissue = np.tile(np.arange(N_TISSUES), N_DONORS)
    values = cube.reshape(-1, N_GENES).copy()
    values[8 * N_TISSUES] = np.nan
    return values, Layout(tissue=tissue, n_tissues=N_TISSUES, donor=donor, n_donors=N_DONORS), group


def test_groups_by_cross_product_where_distance_fails():
    values, layout, group = _cohort()
    pf = ProfileFeatures(values, layout)
    d, t = 8, 0
    nearest = similar_donors(pf, pf.distances_without(d, t), t)[: pf.k_similar]
    members = pf.groups().members(pf, d, t)
    assert (group[nearest] == 0).all()  # the quiet group is nearer by distance
    assert len(members) == pf.k_similar
    assert (group[members] == 1).all()  # the cross product finds the donor's own group


def test_transfer_exact_when_group_offsets_are_shared_by_tissues():
    values, layout, group = _cohort(quiet=0.0, noisy=0.0)
    pf = ProfileFeatures(values, layout)
    d, t = 8, 0
    truth = values[9 * N_TISSUES + t] if group[9] == group[d] else None  # no donor noise: the group's profile
    assert truth is not None
    cols, bases = group_columns(pf, d, t, slice(None))
    np.testing.assert_allclose(bases["group_transfer"], truth, atol=1e-5)  # float32 profiles
    np.testing.assert_allclose(bases["group_mean"], truth, atol=1e-5)  # float32 profiles
    genes = np.array([3, 10, 200])
    sub, _ = group_columns(pf, d, t, genes)
    for full, part in zip(cols, sub, strict=True):
        np.testing.assert_allclose(part, np.asarray(full)[genes], rtol=1e-12)


def test_training_unit_group_columns_do_not_see_its_own_profile():
    values, layout, _ = _cohort()
    d, t = 5, 2
    cols, _ = group_columns(ProfileFeatures(values, layout), d, t, slice(None))
    for scale, names in ((0.01, GROUP_NAMES), (1.0, ["group_mean", "group_transfer"])):
        # a large change may change which units involve d in the donor-effect coefficients
        # (its ranking as another unit's similar donor): group_effect only at a small one
        changed = values.copy()
        changed[d * N_TISSUES + t] += np.random.default_rng(1).normal(0, scale, N_GENES)
        cols2, _ = group_columns(ProfileFeatures(changed, layout), d, t, slice(None))
        for name, a, b in zip(GROUP_NAMES, cols, cols2, strict=True):
            if name in names:
                np.testing.assert_allclose(b, a, rtol=1e-9, err_msg=name)


def test_unit_features_of_the_profile_model_carry_the_group_columns():
    from gex_impute.methods.hybrid.profile_model import _unit_features

    values, layout, _ = _cohort()
    pf = ProfileFeatures(values, layout)
    xs, names, bases = _unit_features(pf, 8, np.array([0, 1]), None, fitting=True)
    assert names[-len(GROUP_NAMES) :] == GROUP_NAMES
    assert xs[0].shape == (N_GENES, len(names))
    for name in GROUP_NAMES:
        np.testing.assert_allclose(xs[1][:, names.index(name)], bases[1][name], rtol=1e-6)
    # every kNN estimate is a feature; only k_similar's is a base (the stack's input)
    knn = [f"knn_donors_k{k}" for k in pf.ks]
    assert set(knn) <= set(names)
    assert {k for k in bases[0] if k.startswith("knn_donors_k")} == {f"knn_donors_k{pf.k_similar}"}
    # at prediction every kNN base is given: a model saved with another reference finds it
    _, _, given = _unit_features(pf, 8, np.array([0, 1]), None, fitting=False)
    assert {k for k in given[0] if k.startswith("knn_donors_k")} == set(knn)


def test_cross_products_without_a_tissue_match_a_direct_sum():
    values, layout, _ = _cohort()
    values[3 * N_TISSUES + 1, :50] = np.nan  # a gene subset missing in one unit
    pf = ProfileFeatures(values, layout)
    d, t = 3, 2
    cube = values.reshape(N_DONORS, N_TISSUES, N_GENES).astype(np.float32)  # (stored as float32)
    r = cube[:, :, pf.genes] - pf.tm_all[None, :, pf.genes]
    others = [s for s in range(N_TISSUES) if s != t]
    prod = r[d, others][None] * r[:, others]  # (D, T-1, genes)
    ok = ~np.isnan(prod)
    direct = np.where(ok, prod, 0).sum((1, 2)) / ok.sum((1, 2))
    got = pf.dist.cross_without(d, t)
    assert got[d] == -np.inf
    keep = np.arange(N_DONORS) != d
    np.testing.assert_allclose(got[keep], direct[keep], rtol=1e-9)
