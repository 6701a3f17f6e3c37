"""The GTEx v8 study design: 54 tissues, 948 donors, 17,382 RNA-seq samples.

:data:`GTEX_V8_TISSUES` lists every v8 tissue with its GTEx names (``SMTSD``, ``SMTS``) and its
number of v8 RNA-seq samples (the GTEx portal's tissue sample counts; they sum to 17,382). The
design draws which donor gave which tissue with GTEx's skew: a few tissues from ~80% of donors
(Muscle - Skeletal, Whole Blood, skin), some from under 3% (Kidney - Medulla, Fallopian Tube,
Cervix, Bladder), brain regions only from the donors whose brain was collected, sex-specific
tissues only from donors of that sex, and a donor propensity (logit scale, sd 1) so that donors
give 1 to ~45 tissues (5th-95th percentile about 6 to 34, median 18). Donor phenotypes follow
the v8 SubjectPhenotypesDS table (SEX 1 = male / 2 = female, ten-year AGE bands, Hardy scale
DTHHRDY); their frequencies are approximations of v8's, not copied from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "GTEX_V8_TISSUES",
    "ENRICHED_FRACTION",
    "ENRICHED_GROUP_WEIGHT",
    "LOG_CEILING",
    "TISSUE_SCALE",
    "TPM_PER_GENE",
    "GtexDesign",
    "draw_design",
    "draw_sample_qc",
    "gtex_obs",
]

# SMTSD, SMTS, v8 RNA-seq samples, programme (a coarse hand-made grouping by tissue biology:
# 0 brain, 1 blood / immune, 2 striated muscle, 3 smooth muscle / vessel, 4 squamous epithelium,
# 5 glandular / digestive epithelium, 6 stroma / adipose / lung, 7 metabolic / endocrine,
# 8 reproductive), sex ("" both, "male", "female")
GTEX_V8_TISSUES: tuple[tuple[str, str, int, int, str], ...] = (
    ("Adipose - Subcutaneous", "Adipose Tissue", 663, 6, ""),
    ("Adipose - Visceral (Omentum)", "Adipose Tissue", 541, 6, ""),
    ("Adrenal Gland", "Adrenal Gland", 258, 7, ""),
    ("Artery - Aorta", "Blood Vessel", 432, 3, ""),
    ("Artery - Coronary", "Blood Vessel", 240, 3, ""),
    ("Artery - Tibial", "Blood Vessel", 663, 3, ""),
    ("Bladder", "Bladder", 21, 3, ""),
    ("Brain - Amygdala", "Brain", 152, 0, ""),
    ("Brain - Anterior cingulate cortex (BA24)", "Brain", 176, 0, ""),
    ("Brain - Caudate (basal ganglia)", "Brain", 246, 0, ""),
    ("Brain - Cerebellar Hemisphere", "Brain", 215, 0, ""),
    ("Brain - Cerebellum", "Brain", 241, 0, ""),
    ("Brain - Cortex", "Brain", 255, 0, ""),
    ("Brain - Frontal Cortex (BA9)", "Brain", 209, 0, ""),
    ("Brain - Hippocampus", "Brain", 197, 0, ""),
    ("Brain - Hypothalamus", "Brain", 202, 0, ""),
    ("Brain - Nucleus accumbens (basal ganglia)", "Brain", 246, 0, ""),
    ("Brain - Putamen (basal ganglia)", "Brain", 205, 0, ""),
    ("Brain - Spinal cord (cervical c-1)", "Brain", 159, 0, ""),
    ("Brain - Substantia nigra", "Brain", 139, 0, ""),
    ("Breast - Mammary Tissue", "Breast", 459, 6, ""),
    ("Cells - Cultured fibroblasts", "Skin", 504, 6, ""),
    ("Cells - EBV-transformed lymphocytes", "Blood", 174, 1, ""),
    ("Cervix - Ectocervix", "Cervix Uteri", 9, 4, "female"),
    ("Cervix - Endocervix", "Cervix Uteri", 10, 3, "female"),
    ("Colon - Sigmoid", "Colon", 373, 3, ""),
    ("Colon - Transverse", "Colon", 406, 5, ""),
    ("Esophagus - Gastroesophageal Junction", "Esophagus", 375, 3, ""),
    ("Esophagus - Mucosa", "Esophagus", 555, 4, ""),
    ("Esophagus - Muscularis", "Esophagus", 515, 3, ""),
    ("Fallopian Tube", "Fallopian Tube", 9, 8, "female"),
    ("Heart - Atrial Appendage", "Heart", 429, 2, ""),
    ("Heart - Left Ventricle", "Heart", 432, 2, ""),
    ("Kidney - Cortex", "Kidney", 85, 7, ""),
    ("Kidney - Medulla", "Kidney", 4, 7, ""),
    ("Liver", "Liver", 226, 7, ""),
    ("Lung", "Lung", 578, 6, ""),
    ("Minor Salivary Gland", "Salivary Gland", 162, 5, ""),
    ("Muscle - Skeletal", "Muscle", 803, 2, ""),
    ("Nerve - Tibial", "Nerve", 619, 6, ""),
    ("Ovary", "Ovary", 180, 8, "female"),
    ("Pancreas", "Pancreas", 328, 5, ""),
    ("Pituitary", "Pituitary", 283, 7, ""),
    ("Prostate", "Prostate", 245, 8, "male"),
    ("Skin - Not Sun Exposed (Suprapubic)", "Skin", 604, 4, ""),
    ("Skin - Sun Exposed (Lower leg)", "Skin", 701, 4, ""),
    ("Small Intestine - Terminal Ileum", "Small Intestine", 187, 5, ""),
    ("Spleen", "Spleen", 241, 1, ""),
    ("Stomach", "Stomach", 359, 5, ""),
    ("Testis", "Testis", 361, 8, "male"),
    ("Thyroid", "Thyroid", 653, 7, ""),
    ("Uterus", "Uterus", 142, 3, "female"),
    ("Vagina", "Vagina", 156, 4, "female"),
    ("Whole Blood", "Blood", 755, 1, ""),
)
GTEX_V8_DONORS = 948
#: expression scale of the preset, set once against GTEx v8's per-tissue medians (the 29 tissue
#: groups x 19,139 protein-coding genes that ``gtex_tissues`` reads from the shared data), not
#: against any method. Compared on group medians of the protein-coding genes of a 100-donor x
#: 2,000-gene cohort (seeds 0 / 1; GTEx in brackets): medians at 0 TPM 15% (13%), below 1 TPM
#: 28-32% (29%), quantiles 0.25 / 0.5 / 0.9 / 0.999 0.5-0.7 / 3.5-4.9 / 55-74 / 2,500-5,700 TPM
#: (0.6 / 6 / 51 / 3,000), per-gene sd across groups (log1p) median 0.49-0.50 (0.47), 90th
#: percentile 0.89 (0.95), tissue-enriched genes (>= 1 TPM and 5x the next group) 10.5% (10%),
#: genes at 0 in some group 32% (29%). Before these settings (session 17) the preset had 4%
#: zeros, 0.2% enriched genes, an sd of 0.86, values up to 3e10 TPM and per-sample totals from 3e4
#: to 3e11.
#:
#: - ``TISSUE_SCALE`` multiplies each gene's deviations between tissues;
#: - ``BASELINE_SPREAD`` widens the spread of gene levels around their mean;
#: - ``LOG_CEILING``: sample levels bend softly towards log1p TPM 13 (4.4e5 TPM);
#: - ``ENRICHED_FRACTION`` of the genes are on in one tissue group and off elsewhere, testis and
#:   brain ``ENRICHED_GROUP_WEIGHT`` times likelier to hold one than another group (GTEx v8:
#:   about a third of its tissue-enriched genes are in testis or brain);
#: - ``TPM_PER_GENE``: TPM is a share, so each sample's total over the simulated genes is fixed,
#:   between 0.78 and 1 times ``n_genes`` x 45 (GTEx v8: 19,139 protein-coding genes hold
#:   0.69-0.90 million TPM per tissue).
TISSUE_SCALE = 0.65
BASELINE_SPREAD = 1.5
LOG_CEILING = 13.0
ENRICHED_FRACTION = 0.12
ENRICHED_GROUP_WEIGHT = {"Testis": 6.0, "Brain": 6.0}
TPM_PER_GENE = 45.0
AGE_BANDS = ("20-29", "30-39", "40-49", "50-59", "60-69", "70-79")
_AGE_P = (0.08, 0.08, 0.16, 0.33, 0.31, 0.04)
_FEMALE_P = 0.32
_HARDY = (0.0, 1.0, 2.0, 3.0, 4.0, np.nan)
_HARDY_P = (0.38, 0.03, 0.43, 0.03, 0.12, 0.01)
_BRAIN_DONOR_P = 0.4  # donors whose brain was collected
_PROPENSITY_SD = 1.0  # spread (logit scale) of how many tissues a donor gives
_ALPHANUM = np.array(list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
# brain samples are "<donor>-0011-R<region><a|b>-SM-<id>"; other tissues "<donor>-<site>-SM-<id>"
_BRAIN_REGIONS = (
    "R1b",
    "R2a",
    "R3a",
    "R4a",
    "R5a",
    "R6a",
    "R7a",
    "R8a",
    "R9a",
    "R10a",
    "R10b",
    "R11a",
    "R11b",
)


@dataclass(frozen=True)
class GtexDesign:
    """Donors, tissues and which donor gave which tissue."""

    tissues: pd.DataFrame  # SMTSD (index), SMTS, n_v8, programme, group (SMTS code), site
    donors: pd.DataFrame  # SUBJID (index), SEX, AGE, DTHHRDY
    present: np.ndarray  # (donors, tissues) bool
    sample_ids: np.ndarray  # (donors, tissues) str, GTEx-style SAMPID of every combination
    possible: np.ndarray  # (donors, tissues) bool: the donor's sex has the tissue


def _codes(rng: np.random.Generator, n: int, length: int, taken: set[str]) -> list[str]:
    """``n`` distinct random alphanumeric codes of ``length`` characters, none in ``taken``."""
    out: list[str] = []
    while len(out) < n:
        chars = _ALPHANUM[rng.integers(0, _ALPHANUM.size, size=(n - len(out), length))]
        for code in ("".join(row) for row in chars):
            if code not in taken:
                taken.add(code)
                out.append(code)
    return out


def _tissue_table(n_tissues: int | None) -> pd.DataFrame:
    table = pd.DataFrame(GTEX_V8_TISSUES, columns=["SMTSD", "SMTS", "n_v8", "programme", "sex"]).set_index(
        "SMTSD"
    )
    table["group"] = pd.Categorical(table["SMTS"]).codes.astype(np.int64)
    codes, b, o = [], 0, 0
    for is_brain in table["SMTS"] == "Brain":
        if is_brain:
            codes.append(f"0011-{_BRAIN_REGIONS[b]}")
            b += 1
        else:
            codes.append(f"{2 + o:02d}26")
            o += 1
    table["site"] = codes
    if n_tissues is not None and n_tissues < len(table):
        # the most sampled tissues, in GTEx's (alphabetical) order
        keep = table["n_v8"].sort_values(ascending=False, kind="stable").index[:n_tissues]
        table = table.loc[table.index.isin(keep)]
    return table


def _calibrate(propensity: np.ndarray, rate: float) -> float:
    """Intercept ``c`` with ``mean(sigmoid(c + propensity)) == rate`` (bisection)."""
    lo, hi = -30.0, 30.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if np.mean(1 / (1 + np.exp(-(mid + propensity)))) < rate:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def draw_design(rng: np.random.Generator, n_donors: int, n_tissues: int | None = None) -> GtexDesign:
    """Draw donors, their phenotypes and which tissues each gave, GTEx v8-style.

    Every donor gives at least one tissue and every tissue comes from at least one donor (of the
    right sex, when there is one).
    """
    tissues = _tissue_table(n_tissues)
    female = rng.random(n_donors) < _FEMALE_P
    age = rng.choice(len(AGE_BANDS), size=n_donors, p=_AGE_P)
    hardy = np.asarray(_HARDY)[rng.choice(len(_HARDY), size=n_donors, p=_HARDY_P)]
    brain_donor = rng.random(n_donors) < _BRAIN_DONOR_P
    propensity = _PROPENSITY_SD * rng.standard_normal(n_donors)
    present = np.zeros((n_donors, len(tissues)), dtype=bool)
    eligible_all = np.zeros_like(present)
    possible = np.ones_like(present)
    draws = rng.random(present.shape)
    for t, row in enumerate(tissues.itertuples()):
        eligible = np.ones(n_donors, dtype=bool)
        if row.sex:
            eligible &= female if row.sex == "female" else ~female
            possible[:, t] = eligible
        if row.SMTS == "Brain":
            eligible &= brain_donor
        eligible_all[:, t] = eligible
        if not eligible.any():
            continue
        share = {"female": _FEMALE_P, "male": 1 - _FEMALE_P, "": 1.0}[row.sex]
        share *= _BRAIN_DONOR_P if row.SMTS == "Brain" else 1.0
        rate = min(0.98, row.n_v8 / GTEX_V8_DONORS / share)
        c = _calibrate(propensity[eligible], rate)
        p = 1 / (1 + np.exp(-(c + propensity)))
        present[:, t] = eligible & (draws[:, t] < p)
    # every tissue from at least one eligible donor, every donor at least one tissue
    for empty in np.flatnonzero(~present.any(axis=0)):
        candidates = np.flatnonzero(eligible_all[:, empty])
        if candidates.size:
            present[rng.choice(candidates), empty] = True
    rates = tissues["n_v8"].to_numpy(dtype=float)
    for d in np.flatnonzero(~present.any(axis=1)):
        ok = eligible_all[d] & (rates > 0)
        if ok.any():
            present[d, rng.choice(np.flatnonzero(ok), p=rates[ok] / rates[ok].sum())] = True
    taken: set[str] = set()
    n_short = int((rng.random(n_donors) < 0.3).sum())  # GTEx donor codes have 4 or 5 characters
    codes = _codes(rng, n_short, 4, taken) + _codes(rng, n_donors - n_short, 5, taken)
    subjid = [f"GTEX-{code}" for code in np.asarray(codes)[rng.permutation(n_donors)]]
    sm = np.array(_codes(rng, present.size, 5, set())).reshape(present.shape)
    sites = tissues["site"].to_numpy()
    sample_ids = np.array(
        [[f"{subjid[d]}-{sites[t]}-SM-{sm[d, t]}" for t in range(len(tissues))] for d in range(n_donors)],
        dtype=object,
    )
    donors = pd.DataFrame(
        {
            "SEX": np.where(female, 2, 1).astype(np.int64),
            "AGE": np.asarray(AGE_BANDS, dtype=object)[age],
            "DTHHRDY": hardy,
        },
        index=pd.Index(subjid, name="SUBJID"),
    )
    return GtexDesign(
        tissues=tissues, donors=donors, present=present, sample_ids=sample_ids, possible=possible
    )


_CENTERS = ("B1", "C1", "D1", "B1, A1", "C1, A1")
_CENTER_P = (0.45, 0.3, 0.1, 0.1, 0.05)
_NOTES = (
    "",
    "2 pieces, no abnormalities",
    "6 pieces, minimal mucosal autolysis",
    'clean specimens; ~10% "fat" trimmed',
    "2 pieces, mild congestion, rep delineated",
)
_NOTES_P = (0.55, 0.2, 0.1, 0.05, 0.1)


def draw_sample_qc(rng: np.random.Generator, design: GtexDesign) -> pd.DataFrame:
    """Sample attributes of every donor x tissue combination (donor-major order), GTEx-like.

    ``SMATSSCR`` (autolysis score 0-3, empty for blood and cell lines), ``SMCENTER`` (collection
    centre codes, some "B1, A1"), ``SMPTHNTS`` (pathology notes, free text with commas, semicolons
    and quotes, often empty), ``SMRIN`` (RNA integrity, one decimal) and ``SMTSISCH`` (ischemic time
    in minutes). Their frequencies are plausible, not GTEx's; expression does not depend on them.
    """
    n_donors, n_tissues = design.present.shape
    n = n_donors * n_tissues
    tissue_of = np.tile(np.arange(n_tissues), n_donors)
    names = design.tissues.index.to_numpy()[tissue_of]
    no_autolysis = pd.Index(names).isin(
        ["Whole Blood", "Cells - Cultured fibroblasts", "Cells - EBV-transformed lymphocytes"]
    )
    score = rng.choice(4, size=n, p=(0.35, 0.5, 0.12, 0.03)).astype(float)
    score[no_autolysis] = np.nan
    rin = np.clip(rng.normal(7.0, 1.0, size=n), 3.0, 10.0)
    rin[no_autolysis] = np.clip(rng.normal(9.0, 0.6, size=int(no_autolysis.sum())), 3.0, 10.0)
    ischemic = np.rint(rng.lognormal(np.log(500.0), 0.6, size=n))
    return pd.DataFrame(
        {
            "SMATSSCR": score,
            "SMCENTER": np.asarray(_CENTERS, dtype=object)[rng.choice(len(_CENTERS), size=n, p=_CENTER_P)],
            "SMPTHNTS": np.asarray(_NOTES, dtype=object)[rng.choice(len(_NOTES), size=n, p=_NOTES_P)],
            "SMRIN": np.round(rin, 1),
            "SMTSISCH": ischemic.astype(np.int64),
        }
    )


# GTEx tissue names (SMTSD) and broad tissue (SMTS) that the default preset hands out in this
# order; tissues beyond this list are called "Tissue <n>".
DEFAULT_TISSUES: tuple[tuple[str, str], ...] = (
    ("Whole Blood", "Blood"),
    ("Muscle - Skeletal", "Muscle"),
    ("Liver", "Liver"),
    ("Brain - Cortex", "Brain"),
    ("Lung", "Lung"),
    ("Skin - Sun Exposed (Lower leg)", "Skin"),
    ("Heart - Left Ventricle", "Heart"),
    ("Thyroid", "Thyroid"),
    ("Adipose - Subcutaneous", "Adipose Tissue"),
    ("Artery - Tibial", "Blood Vessel"),
    ("Testis", "Testis"),
    ("Pancreas", "Pancreas"),
    ("Stomach", "Stomach"),
    ("Colon - Transverse", "Colon"),
    ("Esophagus - Mucosa", "Esophagus"),
    ("Nerve - Tibial", "Nerve"),
    ("Spleen", "Spleen"),
    ("Brain - Cerebellum", "Brain"),
    ("Adrenal Gland", "Adrenal Gland"),
    ("Pituitary", "Pituitary"),
    ("Kidney - Cortex", "Kidney"),
    ("Breast - Mammary Tissue", "Breast"),
    ("Prostate", "Prostate"),
    ("Ovary", "Ovary"),
    ("Uterus", "Uterus"),
    ("Vagina", "Vagina"),
    ("Cells - Cultured fibroblasts", "Skin"),
    ("Small Intestine - Terminal Ileum", "Small Intestine"),
    ("Minor Salivary Gland", "Salivary Gland"),
    ("Heart - Atrial Appendage", "Heart"),
    ("Esophagus - Muscularis", "Esophagus"),
    ("Artery - Aorta", "Blood Vessel"),
    ("Colon - Sigmoid", "Colon"),
    ("Adipose - Visceral (Omentum)", "Adipose Tissue"),
    ("Brain - Hippocampus", "Brain"),
    ("Skin - Not Sun Exposed (Suprapubic)", "Skin"),
)


def gtex_obs(
    obs: pd.DataFrame, design: GtexDesign, donor_of: np.ndarray, tissue_of: np.ndarray, qc: pd.DataFrame
) -> pd.DataFrame:
    """Add the GTEx sample and donor columns (tissue group, sex, age band, Hardy scale, QC) to ``obs``."""
    tissues, donors = design.tissues, design.donors
    groups = tissues["SMTS"].to_numpy()
    obs["tissue_group"] = pd.Categorical(groups[tissue_of], categories=pd.unique(groups))
    sex = np.where(donors["SEX"].to_numpy() == 2, "female", "male")[donor_of]
    obs["sex"] = pd.Categorical(sex, categories=["male", "female"])
    obs["age"] = pd.Categorical(donors["AGE"].to_numpy()[donor_of], categories=list(AGE_BANDS))
    obs["DTHHRDY"] = donors["DTHHRDY"].to_numpy()[donor_of]
    for col in qc.columns:
        values = qc[col].to_numpy()
        obs[col] = pd.Categorical(values) if qc[col].dtype == object else values
    return obs
