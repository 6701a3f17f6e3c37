"""Which profiles complete() leaves out: those a donor's sex rules out (gex_impute/tl/_sex.py), and
a cell line's (GTEx's K-562; gex_impute/tl/_grid.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import gex_impute as gi
from gex_impute.errors import DataError


@pytest.fixture(scope="module")
def _gtex():
    adata = gi.datasets.simulate(preset="gtex_v8", n_donors=120, n_genes=30, random_state=0)
    return adata[~np.isnan(adata.X).all(axis=1)].copy()  # absent profiles are absent, as in GTEx


@pytest.fixture
def gtex(_gtex):
    return _gtex.copy()


def _pairs(adata) -> set[tuple[str, str, str]]:
    obs = adata.obs
    return set(zip(obs["donor"].astype(str), obs["tissue"].astype(str), obs["sex"].astype(str), strict=True))


def test_no_female_prostate_and_no_male_uterus(gtex):
    full = gi.tl.complete(gtex, method="mean", progress=False)
    info = full.uns["completed"]
    found = info["sex_specific_tissues"]
    assert found["Prostate"] == "male" and found["Uterus"] == "female"
    assert "Breast - Mammary Tissue" not in found and "Whole Blood" not in found  # both sexes give these
    by_tissue = pd.crosstab(full.obs["tissue"].astype(str), full.obs["sex"].astype(str))
    for tissue, sex in found.items():
        other = "female" if sex == "male" else "male"
        assert by_tissue.loc[tissue, other] == 0
        assert by_tissue.loc[tissue, sex] == (gtex.obs.drop_duplicates("donor")["sex"] == sex).sum()
    n_donors, n_tissues = gtex.obs["donor"].nunique(), gtex.obs["tissue"].nunique()
    assert info["n_profiles"] + info["n_ruled_out_profiles"] == n_donors * n_tissues
    every = gi.tl.complete(gtex, method="mean", sex_key=None, progress=False)  # every profile, as before
    assert every.n_obs == n_donors * n_tissues
    assert every.uns["completed"]["n_ruled_out_profiles"] == 0
    assert _pairs(full) < _pairs(every)
    np.testing.assert_array_equal(every[full.obs_names].X, full.X)  # the kept rows are not changed


def test_estimated_profiles_take_their_tissue_group(gtex):
    """tissue_group (SMTS) was NaN on every estimated row (sweep N)."""
    full = gi.tl.complete(gtex, method="mean", progress=False)
    assert full.obs["tissue_group"].notna().all()
    groups = gtex.obs.groupby("tissue", observed=True)["tissue_group"].first().astype(str)
    np.testing.assert_array_equal(
        full.obs["tissue_group"].astype(str), groups.loc[full.obs["tissue"].astype(str)].to_numpy()
    )
    assert full.obs.loc[full.obs["imputed_profile"], "SMRIN"].isna().all()  # a sample attribute: never


def test_a_tissue_of_few_donors_of_one_sex_is_not_taken_as_sex_specific(gtex):
    blood = gtex.obs["tissue"] == "Whole Blood"
    males = gtex.obs["sex"] == "male"
    keep = ~blood | (males & (gtex.obs.groupby("donor", observed=True).ngroup() < 20))
    few = gtex[keep.to_numpy()].copy()  # blood from a few men only: could be chance
    assert few[few.obs["tissue"] == "Whole Blood"].obs["sex"].nunique() == 1
    full = gi.tl.complete(few, method="mean", progress=False)
    assert "Whole Blood" not in full.uns["completed"]["sex_specific_tissues"]
    assert (full.obs["tissue"] == "Whole Blood").sum() == full.obs["donor"].nunique()


def test_gtex_sex_specific_tissues_are_known_by_name_in_a_small_cohort():
    """30 donors: too few prostates to tell from chance, but GTEx's names say it (sweep N)."""
    adata = gi.datasets.simulate(preset="gtex_v8", n_donors=30, n_genes=20, random_state=0)
    adata = adata[~np.isnan(adata.X).all(axis=1)].copy()
    adata.obs["sex"] = adata.obs["sex"].map({"male": "M", "female": "F"}).astype("category")
    full = gi.tl.complete(adata, method="mean", progress=False)
    found = full.uns["completed"]["sex_specific_tissues"]
    expected = {"Prostate": "M", "Testis": "M", "Uterus": "F", "Ovary": "F", "Vagina": "F"}
    assert {t: found[t] for t in expected if t in found} == expected
    assert not {"Whole Blood", "Lung", "Breast - Mammary Tissue"} & set(found)
    by_tissue = pd.crosstab(full.obs["tissue"].astype(str), full.obs["sex"].astype(str))
    assert by_tissue.loc["Prostate", "F"] == 0 and by_tissue.loc["Uterus", "M"] == 0
    renamed = adata.copy()  # the same tissues under other names: chance alone decides, and cannot
    renamed.obs["tissue"] = renamed.obs["tissue"].cat.rename_categories(lambda t: f"t_{t}")
    assert (
        "t_Prostate"
        not in gi.tl.complete(renamed, method="mean", progress=False).uns["completed"]["sex_specific_tissues"]
    )


def test_unknown_sex_and_other_columns(gtex):
    donor = gtex.obs["donor"].astype(str).iloc[0]
    sex = gtex.obs["sex"].astype(object)
    sex[gtex.obs["donor"].astype(str) == donor] = np.nan  # this donor's sex is not known
    gtex.obs["sex"] = sex
    full = gi.tl.complete(gtex, method="mean", progress=False)
    assert (full.obs["donor"].astype(str) == donor).sum() == gtex.obs["tissue"].nunique()  # every tissue
    gtex.obs["gender"] = gtex.obs.pop("sex")
    assert gi.tl.complete(gtex, method="mean", progress=False).uns["completed"]["sex_key"] is None
    named = gi.tl.complete(gtex, method="mean", sex_key="gender", progress=False)
    assert "Prostate" in named.uns["completed"]["sex_specific_tissues"]
    with pytest.raises(DataError, match="sex_key='SEX' is not a column"):
        gi.tl.complete(gtex, method="mean", sex_key="SEX", progress=False)


def test_a_cell_line_gets_no_organs_and_no_donor_gets_the_cell_line(gtex):
    """GTEx's K-562 samples: one 'donor' in one 'tissue' of its own (sweep N: 54 invented profiles)."""
    import anndata as ad

    cells = gtex[:3].copy()
    cells.obs_names = [f"K-562-SM-{i}" for i in range(3)]
    cells.obs["donor"] = "K-562"
    cells.obs["tissue"] = "Cells - Leukemia cell line (CML)"
    cells.obs["sex"] = np.nan
    both = ad.concat([gtex, cells])
    for col in ("donor", "tissue", "sex"):
        both.obs[col] = both.obs[col].astype("category")
    full = gi.tl.complete(both, method="mean", progress=False)
    info = full.uns["completed"]
    n_donors, n_tissues = gtex.obs["donor"].nunique(), gtex.obs["tissue"].nunique()
    assert info["n_cell_line_profiles"] == n_tissues + n_donors  # K-562's organs, everyone's CML
    k562 = full.obs[full.obs["donor"].astype(str) == "K-562"]
    assert len(k562) == 3 and not k562["imputed_profile"].any()  # its three samples, kept as they are
    cml = full.obs[full.obs["tissue"].astype(str) == "Cells - Leukemia cell line (CML)"]
    assert set(cml["donor"].astype(str)) == {"K-562"}
    alone = gi.tl.complete(gtex, method="mean", progress=False)
    assert info["n_estimated_profiles"] == alone.uns["completed"]["n_estimated_profiles"]
    assert alone.uns["completed"]["n_cell_line_profiles"] == 0


def test_without_a_sex_column_the_sex_specific_tissues_a_donor_gave_tell_its_sex(gtex, caplog):
    """Galaxy sweep O: no subject phenotypes -> every donor got a prostate, with no warning."""
    truth = gtex.obs.drop_duplicates("donor").set_index("donor")["sex"].astype(str)
    gtex.obs = gtex.obs.drop(columns="sex")
    with caplog.at_level("WARNING", logger="gex_impute"):
        full = gi.tl.complete(gtex, method="mean", progress=False)
    info = full.uns["completed"]
    assert info["sex_specific_tissues"]["Prostate"] == "male"
    assert 0 < info["n_donors_sex_from_tissues"] < len(truth)
    assert (
        info["n_ruled_out_profiles"] > 0
        and "the other" in caplog.text
        and "subject phenotypes" in caplog.text
    )
    prostate = full.obs.loc[full.obs["tissue"].astype(str) == "Prostate", "donor"].astype(str)
    gave = set(
        gtex.obs.loc[gtex.obs["tissue"].astype(str).isin(["Uterus", "Ovary", "Vagina"]), "donor"].astype(str)
    )
    assert gave and not gave & set(prostate)  # a donor who gave a uterus gets no prostate
    assert set(truth[list(gave)]) == {"female"}


def test_the_log_names_only_the_tissues_completed(gtex, caplog):
    """Galaxy sweep O: with tissues=['Prostate', 'Uterus'] the line listed all 8 sex-specific tissues."""
    with caplog.at_level("INFO", logger="gex_impute"):
        part = gi.tl.complete(gtex, method="mean", tissues=["Prostate", "Uterus"], progress=False)
    (line,) = [r.getMessage() for r in caplog.records if "sex rules them out" in r.getMessage()]
    assert "Prostate: male only" in line and "Uterus: female only" in line
    assert "Testis" not in line and "Ovary" not in line
    assert set(part.obs["tissue"].astype(str)) == {"Prostate", "Uterus"}
