"""The rows of a completed matrix: one (or more) per donor x tissue, and their annotation.

:func:`plan_grid` decides, for every output row, where its values come from: an input sample
kept as it is, the mean of several samples (``aggregate="mean"``), or nothing (an absent
profile, to be estimated). It also builds the output ``obs``: donor, tissue,
``imputed_profile``, ``sample_id``, ``n_samples``, the sample annotation of kept samples,
and the donor-level columns (constant within each donor, e.g. sex, age; never a GTEx sample
attribute such as SMRIN) and the tissue group (``tissue_group``) on every row.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._data import PROFILE_COLUMN, ExpressionData
from ..errors import DataError, ParameterError

#: ``source`` of an output row that is estimated / aggregated (else the input sample's position)
ESTIMATED = -1
AGGREGATED = -2


@dataclass(frozen=True)
class Grid:
    """Output rows of :func:`gex_impute.tl.complete`.

    Attributes
    ----------
    obs
        Output annotation, one row per output row.
    donor, tissue
        Codes (into the input data's donor and tissue categories) of each output row.
    source
        Input sample position of each row, ``ESTIMATED`` or ``AGGREGATED``.
    groups
        Output row -> input sample positions, for aggregated rows.
    skipped
        Reason -> number of absent profiles left out (``skip``).
    """

    obs: pd.DataFrame
    donor: np.ndarray
    tissue: np.ndarray
    source: np.ndarray
    groups: dict[int, np.ndarray]
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def estimated(self) -> np.ndarray:
        """Mask of the rows to estimate (absent profiles)."""
        return self.source == ESTIMATED


def _order(column: pd.Series, present: Sequence[str]) -> list[str]:
    """Present values in the column's category order when categorical, else sorted."""
    present_set = set(present)
    if isinstance(column.dtype, pd.CategoricalDtype):
        return [str(c) for c in column.cat.categories if str(c) in present_set]
    if pd.api.types.is_numeric_dtype(column.dtype):  # numeric ids in numeric order: 9 before 10
        return [str(v) for v in np.sort(column.dropna().unique()) if str(v) in present_set]
    return sorted(present_set)


def _select(requested: Sequence[str] | None, available: list[str], what: str, key: str) -> list[str]:
    if requested is None:
        return available
    if isinstance(requested, str):
        requested = [requested]
    requested = [str(r) for r in requested]
    if len(set(requested)) != len(requested):
        msg = f"{what}s={requested} names some {what} twice; name each once."
        raise ParameterError(msg)
    unknown = [r for r in requested if r not in set(available)]
    if unknown:
        msg = (
            f"{what}s {unknown} are not in column {key!r} of the data (it holds {len(available)} "
            f"{what}s, e.g. {available[:5]}); name {what}s present in the data."
        )
        raise DataError(msg)
    if not requested:
        msg = f"{what}s=[] selects no {what}; pass None for all of them."
        raise ParameterError(msg)
    return requested


#: GTEx sample attributes (SampleAttributesDS's SM* columns, SMTS read as ``tissue_group``): they
#: describe one sample, so an estimated profile never inherits them from its donor's samples
SAMPLE_LEVEL = re.compile(r"SM[A-Z0-9]*|tissue_group")
#: donor attributes (GTEx SubjectPhenotypesDS, as read by :func:`gex_impute.io.read_expression`)
DONOR_LEVEL = frozenset({"sex", "age", "DTHHRDY", "SUBJID"})
#: tissue attributes (GTEx's tissue group SMTS, read as ``tissue_group``): an estimated profile
#: takes its tissue's, when the column is constant within each tissue
TISSUE_LEVEL = frozenset({"tissue_group", "SMTS"})


def _donor_level_columns(obs: pd.DataFrame, donor_codes: np.ndarray, skip: set[str]) -> list[str]:
    """Columns whose value (NaN included) is the same in all samples of each donor.

    A known donor attribute (:data:`DONOR_LEVEL`) qualifies so; any other column only when some
    donor has several samples (with one sample per donor every column is constant within donors:
    a sample's RIN would pass as its donor's); a GTEx sample attribute (:data:`SAMPLE_LEVEL`) never.
    """
    several = bool((np.bincount(donor_codes[donor_codes >= 0]) > 1).any())
    out = []
    for col in obs.columns:
        if col in skip or SAMPLE_LEVEL.fullmatch(str(col)) or not (several or col in DONOR_LEVEL):
            continue
        if _constant_within(obs[col], donor_codes):
            out.append(col)
    return out


def _constant_within(column: pd.Series, groups: np.ndarray) -> bool:
    """Whether ``column`` (NaN included) holds one value within each group."""
    codes, _ = pd.factorize(column, use_na_sentinel=True)
    return bool((pd.DataFrame({"g": groups, "v": codes}).groupby("g")["v"].nunique(dropna=False) <= 1).all())


def _h5ad_column(values: pd.Series, original: pd.Series) -> pd.Series:
    """Give a column with NaN holes a dtype h5ad stores (nullable bool/int, categorical strings)."""
    if isinstance(original.dtype, pd.CategoricalDtype):
        return values.astype(original.dtype)
    if pd.api.types.is_bool_dtype(original.dtype):
        return values.astype("boolean")
    if pd.api.types.is_integer_dtype(original.dtype):
        return values.astype("Int64")
    if pd.api.types.is_numeric_dtype(original.dtype):
        return values
    return pd.Series(pd.Categorical(values.where(values.isna(), values.astype(str))), index=values.index)


def _pick(column: pd.Series, pick: np.ndarray) -> pd.Series:
    """``column`` at input positions ``pick`` (NaN where ``pick < 0``), with an h5ad-safe dtype."""
    values = column.iloc[np.maximum(pick, 0)].reset_index(drop=True)
    values = values.where(pd.Series(pick >= 0))
    return _h5ad_column(values, column)


def plan_grid(
    data: ExpressionData,
    *,
    tissue_key: str,
    donor_key: str,
    donors: Sequence[str] | None,
    tissues: Sequence[str] | None,
    aggregate: str | None,
    skip: Mapping[tuple[int, int], str] | None = None,
) -> Grid:
    """Lay out the output rows: donors x tissues, observed samples kept or averaged, absent ones added.

    Parameters
    ----------
    data
        All input samples (with donors).
    tissue_key, donor_key
        The sample annotation columns holding tissue and donor.
    donors, tissues
        The donors and tissues to output (in this order); all present ones when None.
    aggregate
        None: several samples of one donor x tissue stay separate rows; ``"mean"``: one row.
    skip
        (donor code, tissue code) -> reason, of absent profiles not to output (a donor's sex
        rules them out, or they are a cell line's).

    Returns
    -------
    The :class:`Grid`.
    """
    if aggregate not in (None, "mean"):
        msg = f"aggregate={aggregate!r} must be None (keep every sample) or 'mean'."
        raise ParameterError(msg)
    if data.donor is None or data.donor_codes is None:
        msg = "complete() needs donors; pass donor_key= naming the donor column."
        raise DataError(msg)
    donor_names = np.asarray(data.donor.categories.astype(str))
    tissue_names = np.asarray(data.tissue.categories.astype(str))
    d_codes, t_codes = data.donor_codes, data.tissue_codes
    out_donors = _select(donors, _order(data.obs[donor_key], list(donor_names)), "donor", donor_key)
    out_tissues = _select(tissues, _order(data.obs[tissue_key], list(tissue_names)), "tissue", tissue_key)
    d_lookup = {name: i for i, name in enumerate(donor_names)}
    t_lookup = {name: i for i, name in enumerate(tissue_names)}

    has_value = data.observed.any(axis=1)
    seen = np.bincount(d_codes, weights=has_value, minlength=len(donor_names)) > 0
    empty = [d for d in out_donors if not seen[d_lookup[d]]]
    if empty:
        msg = (
            f"donors {empty[:5]}{' ...' if len(empty) > 5 else ''} have no observed value in any "
            "sample, so nothing donor-specific can be estimated for them; drop their samples, or "
            "pass donors= naming the donors to complete."
        )
        raise DataError(msg)

    # input samples of each (donor, tissue), in input order
    key = d_codes * len(tissue_names) + t_codes
    order = np.argsort(key, kind="stable")
    bounds = np.searchsorted(key[order], np.arange(len(donor_names) * len(tissue_names) + 1))
    rows: list[tuple[int, int, int]] = []  # (donor code, tissue code, source) per output row
    groups: dict[int, np.ndarray] = {}
    skip = {} if skip is None else skip
    skipped: dict[str, int] = {}
    for dname in out_donors:
        d = d_lookup[dname]
        for tname in out_tissues:
            t = t_lookup[tname]
            cell = order[bounds[d * len(tissue_names) + t] : bounds[d * len(tissue_names) + t + 1]]
            if len(cell) == 0:
                if (d, t) in skip:
                    skipped[skip[d, t]] = skipped.get(skip[d, t], 0) + 1
                else:
                    rows.append((d, t, ESTIMATED))
            elif aggregate == "mean" and len(cell) > 1:
                groups[len(rows)] = cell
                rows.append((d, t, AGGREGATED))
            else:
                rows.extend((d, t, int(s)) for s in cell)
    layout = np.asarray(rows, dtype=np.int64).reshape(-1, 3)
    donor_out, tissue_out, source = layout[:, 0].copy(), layout[:, 1].copy(), layout[:, 2].copy()
    obs = _grid_obs(
        data, donor_out, tissue_out, source, groups, out_donors, out_tissues, tissue_key, donor_key
    )
    return Grid(obs=obs, donor=donor_out, tissue=tissue_out, source=source, groups=groups, skipped=skipped)


def _grid_obs(data, donor_out, tissue_out, source, groups, out_donors, out_tissues, tissue_key, donor_key):
    sample_names = data.obs.index.astype(str).to_numpy()
    donor_names = np.asarray(data.donor.categories.astype(str))[donor_out]
    tissue_names = np.asarray(data.tissue.categories.astype(str))[tissue_out]
    kept = source >= 0
    n_samples = np.where(kept, 1, 0)
    sample_id = np.asarray(np.where(kept, sample_names[np.maximum(source, 0)], None), dtype=object)
    has_value = data.observed.any(axis=1)
    imputed = np.where(kept, ~has_value[np.maximum(source, 0)], True)
    for row, cell in groups.items():
        n_samples[row] = len(cell)
        sample_id[row] = ",".join(sample_names[cell])
        imputed[row] = not has_value[cell].any()
    pair = np.char.add(np.char.add(donor_names.astype(str), "|"), tissue_names.astype(str))
    index = np.where(kept, sample_names[np.maximum(source, 0)], pair)

    obs = pd.DataFrame(index=pd.RangeIndex(len(source)))
    skip = {tissue_key, donor_key}
    donor_cols = set(_donor_level_columns(data.obs, data.donor_codes, skip))
    first_of_donor = np.full(len(data.donor.categories), -1)
    first_of_donor[data.donor_codes[::-1]] = np.arange(data.n_samples)[::-1]
    first_of_tissue = np.full(len(data.tissue.categories), -1)
    first_of_tissue[data.tissue_codes[::-1]] = np.arange(data.n_samples)[::-1]
    for col in data.obs.columns:
        if col in skip:
            continue
        if col in donor_cols:
            pick = first_of_donor[donor_out]
        elif col in TISSUE_LEVEL and _constant_within(data.obs[col], data.tissue_codes):
            pick = first_of_tissue[tissue_out]
        else:
            pick = np.where(kept, source, -1)
            for row, cell in groups.items():
                values = data.obs[col].iloc[cell]
                if values.nunique(dropna=False) == 1:
                    pick[row] = cell[0]
        obs[col] = _pick(data.obs[col], pick)
    obs.insert(0, tissue_key, _as_given(data.obs[tissue_key], tissue_names, out_tissues))
    obs.insert(0, donor_key, _as_given(data.obs[donor_key], donor_names, out_donors))
    obs[PROFILE_COLUMN] = imputed.astype(bool)
    obs["sample_id"] = pd.Categorical(sample_id)
    obs["n_samples"] = n_samples.astype(np.int64)
    obs.index = pd.Index(_unique(index), dtype=object)
    return obs


def _as_given(column: pd.Series, names: np.ndarray, order: Sequence[str]) -> pd.Categorical:
    """Output donors / tissues as a categorical of the input column's own values, in ``order``.

    Integer ids stay integers; ``names`` and ``order`` hold them as strings, as the codes do.
    """
    values = column.cat.categories if isinstance(column.dtype, pd.CategoricalDtype) else column.dropna()
    given = {str(v): v for v in pd.unique(np.asarray(values, dtype=object))}
    categories = pd.Index([given.get(name, name) for name in order])
    if categories.dtype == object and all(isinstance(c, str) for c in categories):
        return pd.Categorical(names, categories=list(order))
    lookup = dict(zip(order, categories, strict=True))
    return pd.Categorical([lookup[name] for name in names], categories=categories)


def _unique(names: np.ndarray) -> list[str]:
    """``names`` with repeats suffixed ``-1``, ``-2``, ... (as anndata's ``obs_names_make_unique``)."""
    from anndata.utils import make_index_unique

    return list(make_index_unique(pd.Index(names.astype(str))))


def cell_line_profiles(data: ExpressionData) -> set[tuple[int, int]]:
    """(donor code, tissue code) pairs of a cell line's absent "organs", and of its tissue elsewhere.

    A cell line (GTEx's K-562, :data:`gex_impute.io._gtex_checks.CELL_LINE_DONORS`: its samples
    come from no donor, unlike the fibroblasts and lymphocytes GTEx cultures from its donors) is
    not a person: it has no other tissues to estimate, and no donor has its tissue (a tissue
    observed only in cell lines).
    """
    from ..io._gtex_checks import CELL_LINE_DONORS

    assert data.donor is not None and data.donor_codes is not None
    names = np.asarray(data.donor.categories.astype(str))
    lines = np.flatnonzero(np.isin(names, list(CELL_LINE_DONORS)))
    if len(lines) == 0:
        return set()
    has = data.observed.any(axis=1)
    from_line = np.isin(data.donor_codes, lines)
    only_lines = set(np.unique(data.tissue_codes[has & from_line])) - set(
        np.unique(data.tissue_codes[has & ~from_line])
    )
    n_d, n_t = len(names), len(data.tissue.categories)
    pairs = {(int(d), t) for d in lines for t in range(n_t)}
    pairs |= {(d, int(t)) for t in only_lines for d in range(n_d)}
    return pairs


def log_skipped(grid: Grid, tissue_key: str, sex_specific_tissues: Mapping[str, str]) -> None:
    """Log the absent profiles not estimated, and why: a cell line's, and those a donor's sex rules out."""
    import logging

    logger = logging.getLogger("gex_impute")
    if grid.skipped.get("cell_line"):
        logger.info(
            "%d absent profiles not estimated: a cell line (K-562) has no organs, and no donor has "
            "its tissue",
            grid.skipped["cell_line"],
        )
    if grid.skipped.get("sex"):
        completed = set(grid.obs[tissue_key].astype(str))  # tissues= may leave some out
        logger.info(
            "%d absent profiles not estimated: the donor's sex rules them out (%s)",
            grid.skipped["sex"],
            ", ".join(f"{t}: {s} only" for t, s in sex_specific_tissues.items() if t in completed),
        )
