"""Per-gene donor effects of absent profiles (:mod:`gex_impute.methods.hybrid.profile_effect`)."""

from __future__ import annotations

import numpy as np
import pytest

from gex_impute.methods.hybrid.masking import Layout
from gex_impute.methods.hybrid.profile_columns import similar_donors, weighted_reference
from gex_impute.methods.hybrid.profile_effect import DonorEffects
from gex_impute.methods.hybrid.profiles import ProfileFeatures

N_DONORS, N_TISSUES, N_GENES = 16, 4, 300


def _cohort(seed: int = 0) -> tuple[np.ndarray, Layout, np.ndarray]:
    """Donors x tissues profiles; the first half of the genes carry a donor effect shared by every tissue.

    Returns ``(values, layout, truth cube)``; the unit (donor 0, tissue 0) is absent from ``values``.
    """
    rng = np.random.default_rng(seed)
    mu = rng.normal(5, 1, (N_TISSUES, N_GENES))
    effect = rng.normal(0, 1, (N_DONORS, N_GENES))
    effect[:, N_GENES // 2 :] = 0
    cube = mu[None] + effect[:, None, :] + rng.normal(0, 0.3, (N_DONORS, N_TISSUES, N_GENES))
    donor = np.repeat(np.arange(N_DONORS), N_TISSUES)
    tissue = np.tile(np.arange(N_TISSUES), N_DONORS)
    values = cube.reshape(-1, N_GENES).copy()
    values[0] = np.nan  # donor 0, tissue 0 absent
    return values, Layout(tissue=tissue, n_tissues=N_TISSUES, donor=donor, n_donors=N_DONORS), cube


def test_coefficients_recover_planted_effect_genes():
    values, layout, _ = _cohort()
    pf = ProfileFeatures(values, layout)
    coef = pf.effects().coefficients(0)
    half = N_GENES // 2
    # effect genes: the deviation carries over (coefficient near 1); null genes: shrunk near 0
    assert coef[:half].mean() > 0.7
    assert abs(coef[half:].mean()) < 0.3
    assert coef[:half].mean() - coef[half:].mean() > 0.6


def test_effect_base_beats_similar_donors_on_absent_profile():
    values, layout, cube = _cohort()
    pf = ProfileFeatures(values, layout)
    x, names, bases = pf.unit_features(0, 0)
    assert {"donor_effect", "donor_effect_coef"} <= set(names)
    truth = cube[0, 0]
    err_effect = np.mean((bases["donor_effect"] - truth) ** 2)
    err_knn = np.mean((bases[f"knn_donors_k{pf.k_similar}"] - truth) ** 2)
    assert err_effect < 0.6 * err_knn
    col = names.index("donor_effect")
    np.testing.assert_allclose(x[:, col], bases["donor_effect"], rtol=1e-5)


def test_coefficients_of_a_donor_ignore_its_values():
    values, layout, _ = _cohort()
    pf = ProfileFeatures(values, layout)
    d = 5
    # the units that involve donor d (its own, those it is a similar donor of) are left out:
    # the same coefficients as from the sums over the other units alone
    eff = pf.effects()
    keep = np.setdiff1d(np.arange(len(eff.num)), eff.of_donor[d])
    sums = [a[keep].sum(0, dtype=np.float64) for a in (eff.num, eff.den, eff.rr, eff.cnt)]
    expected = eff.combine(*sums)
    np.testing.assert_allclose(eff.coefficients(d), expected, rtol=1e-6)
    # and no kept unit is donor d's or has d among its similar donors
    for e, t in eff.units[keep]:
        assert e != d
        assert d not in similar_donors(pf, pf.distances_without(int(e), int(t)), int(t))[: pf.k_similar]


@pytest.mark.parametrize("max_units", [10, 1000])
def test_unit_subset_and_no_units(max_units):
    values, layout, _ = _cohort()
    pf = ProfileFeatures(values, layout)
    eff = DonorEffects(pf, max_units=max_units)
    assert len(eff.num) == min(max_units, int(pf.unit_observed.sum()))
    assert np.isfinite(eff.coefficients(0)).all()


def test_weighted_reference_downweights_a_far_donor():
    values, layout, cube = _cohort()
    values = values.copy()
    far = 9
    values[far * N_TISSUES : (far + 1) * N_TISSUES] += 3.0  # another group: far in every tissue
    pf = ProfileFeatures(values, layout)
    dist = pf.distances_without(0, 0)
    similar = np.array([1, 2, far])
    ref = weighted_reference(pf, similar, dist, np.array([0]), slice(None))[0]
    plain = values[[1 * N_TISSUES, 2 * N_TISSUES, far * N_TISSUES]].mean(0)
    near = values[[1 * N_TISSUES, 2 * N_TISSUES]].mean(0)
    assert dist[far] > 5 * max(dist[1], dist[2])
    assert np.abs(ref - near).mean() < 0.25 * np.abs(plain - near).mean()
    # one similar donor: its own profile
    one = weighted_reference(pf, np.array([4]), dist, np.array([0, 1]), slice(None))
    np.testing.assert_allclose(one, values[[4 * N_TISSUES, 4 * N_TISSUES + 1]], rtol=1e-6)


def test_training_unit_features_do_not_see_its_own_profile():
    values, layout, _ = _cohort()
    pf = ProfileFeatures(values, layout)
    d, t = 5, 2
    row = d * N_TISSUES + t
    changed = values.copy()
    changed[row] += np.random.default_rng(1).normal(0, 0.01, N_GENES)  # keeps every donor ranking here
    x, names, bases = pf.unit_features(d, t)
    x2, _, bases2 = ProfileFeatures(changed, layout).unit_features(d, t)
    for name in ("donor_effect", "donor_effect_coef"):
        np.testing.assert_allclose(x2[:, names.index(name)], x[:, names.index(name)], rtol=1e-6)
    np.testing.assert_allclose(bases2["donor_effect"], bases["donor_effect"], rtol=1e-12)
