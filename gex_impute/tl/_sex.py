"""Tissues only one sex has (prostate, uterus): their profiles are not estimated for the other.

A completed GTEx cohort should not hold a female donor's prostate. A tissue is taken as
sex-specific when every donor observed in it has one sex, and either

- it bears the name (SMTSD or SMTS) of one of GTEx's sex-specific tissues for that sex
  (prostate, testis; uterus, ovary, vagina, cervix, fallopian tube), or
- that many donors of one sex would come together by chance with a probability below
  :data:`CHANCE` (the share of that sex among the cohort's donors, to the power of the
  tissue's donors), which holds for any species and any tissue naming: GTEx v8's prostate
  (about 250 male donors of 948, two thirds male) qualifies by far; a tissue of 5 donors who
  happen all to be male (chance 1/32 at half each) does not.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from .._data import ExpressionData
from ..errors import DataError

logger = logging.getLogger("gex_impute")

#: largest chance of a tissue's donors all being of one sex for it to count as sex-specific
CHANCE = 1e-3


def donor_sex(data: ExpressionData, sex_key: str) -> np.ndarray:
    """Each donor's sex as a string (by donor code); None where unknown or not one value."""
    assert data.donor is not None and data.donor_codes is not None
    values = data.obs[sex_key]
    frame = pd.DataFrame({"d": data.donor_codes, "s": values.astype(object).where(values.notna())})
    out = np.full(len(data.donor.categories), None, dtype=object)
    for d, group in frame.dropna().groupby("d")["s"]:
        distinct = pd.unique(group.astype(str))
        if len(distinct) == 1:
            out[int(d)] = distinct[0]
    return out


def _spelled(sex: object) -> str | None:
    """``"male"`` / ``"female"`` for a sex as GTEx's readers accept it (1/2, male/female, M/F), else None."""
    from ..io._gtex_checks import SEX_CODES, SEX_WORDS

    text = str(sex).strip().lower()
    code = SEX_WORDS.get(text) or next((c for c in SEX_CODES if text in (str(c), f"{c}.0")), None)
    return None if code is None else SEX_CODES[code]


def gtex_sex_tissues() -> dict[str, str]:
    """GTEx v8's sex-specific tissue names (SMTSD and SMTS, lower case) -> ``"male"`` / ``"female"``."""
    from ..datasets.gtex_v8 import GTEX_V8_TISSUES

    names = {}
    for smtsd, smts, _, _, sex in GTEX_V8_TISSUES:
        if sex:
            names[smtsd.lower()] = names[smts.lower()] = sex
    return names


def sex_specific_tissues(data: ExpressionData, sex: np.ndarray) -> dict[int, str]:
    """Tissue code -> the one sex of its donors, for the tissues taken as sex-specific."""
    assert data.donor_codes is not None
    known = np.array([s is not None for s in sex])
    if known.sum() == 0:
        return {}
    shares = pd.Series(sex[known]).value_counts(normalize=True)
    if len(shares) < 2:  # a cohort of one sex says nothing about which tissues the other lacks
        return {}
    has_value = data.observed.any(axis=1)
    named = gtex_sex_tissues()
    out: dict[int, str] = {}
    for t, tissue in enumerate(data.tissue.categories.astype(str)):
        donors = np.unique(data.donor_codes[(data.tissue_codes == t) & has_value])
        sexes = {sex[d] for d in donors if sex[d] is not None}
        if len(sexes) != 1:
            continue
        (only,) = sexes
        n = sum(sex[d] is not None for d in donors)
        spelled = _spelled(only)
        if named.get(tissue.strip().lower()) == spelled or float(shares[only]) ** n < CHANCE:
            out[t] = str(only)
    return out


def impossible_profiles(data: ExpressionData, sex_key: str | None) -> tuple[set[tuple[int, int]], dict]:
    """(donor code, tissue code) of the profiles a donor's sex rules out, and what was found.

    Returns the pairs and a record for ``uns``: ``sex_key`` and ``sex_specific_tissues``
    (tissue -> sex). Nothing is ruled out with ``sex_key=None`` or a donor of unknown sex.

    Raises
    ------
    DataError
        ``sex_key`` names a column that is not there (other than the default ``"sex"``).
    """
    if sex_key is None or data.donor is None:
        return set(), {"sex_key": None, "sex_specific_tissues": {}}
    if sex_key not in data.obs.columns:
        if sex_key == "sex":  # the default: sex read from the sex-specific tissues each donor gave
            return _without_sex_column(data)
        msg = (
            f"sex_key={sex_key!r} is not a column of the sample annotation; name the column "
            "holding each donor's sex, or pass sex_key=None to estimate every donor x tissue profile."
        )
        raise DataError(msg)
    sex = donor_sex(data, sex_key)
    tissues = sex_specific_tissues(data, sex)
    names = np.asarray(data.tissue.categories.astype(str))
    found = {str(names[t]): s for t, s in tissues.items()}
    return _other_sex(tissues, sex), {"sex_key": sex_key, "sex_specific_tissues": found}


def _other_sex(tissues: dict[int, str], sex: np.ndarray) -> set[tuple[int, int]]:
    """(donor code, tissue code) of each sex-specific tissue for every donor known to be of the other sex."""
    return {(d, t) for t, only in tissues.items() for d, s in enumerate(sex) if s is not None and s != only}


def _without_sex_column(data: ExpressionData) -> tuple[set[tuple[int, int]], dict]:
    """No sex column: a donor who gave a GTEx sex-specific tissue (a prostate) has that sex.

    Those donors get no profile of the other sex's tissues; the others get every profile, and
    a warning says how to give their sex (GTEx: the subject phenotypes).
    """
    assert data.donor is not None and data.donor_codes is not None
    named = gtex_sex_tissues()
    tissue_names = np.asarray(data.tissue.categories.astype(str))
    tissue_sex = {t: named.get(n.strip().lower()) for t, n in enumerate(tissue_names)}
    specific = {t: s for t, s in tissue_sex.items() if s is not None}
    record: dict = {"sex_key": None, "sex_specific_tissues": {}, "n_donors_sex_from_tissues": 0}
    if not specific:
        return set(), record
    has = data.observed.any(axis=1)
    sex = np.full(len(data.donor.categories), None, dtype=object)
    for d in range(len(sex)):
        given = {tissue_sex[int(t)] for t in np.unique(data.tissue_codes[has & (data.donor_codes == d)])}
        given.discard(None)
        if len(given) == 1:
            sex[d] = given.pop()
    pairs = _other_sex(specific, sex)
    known = int(sum(s is not None for s in sex))
    record.update(
        sex_specific_tissues={str(tissue_names[t]): s for t, s in specific.items()},
        n_donors_sex_from_tissues=known,
    )
    if known < len(sex):
        logger.warning(
            "no 'sex' column: %d of %d donors have a sex read from the sex-specific tissues they gave; "
            "the other %d get every profile, a prostate and a uterus alike. Give each donor's sex "
            "(GTEx: the subject phenotypes; an obs column named by sex_key) to rule those out.",
            known,
            len(sex),
            len(sex) - known,
        )
    return pairs, record
