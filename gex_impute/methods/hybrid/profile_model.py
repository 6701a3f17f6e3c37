"""The whole-profile model: fit on leave-one-donor-out features of observed profiles, predict absent ones.

:func:`fit_profile_model` builds the features of every observed donor x tissue profile (each
donor prepared once, a sample of its genes) and fits the stacked model;
:func:`predict_profiles` estimates the entries of absent profiles from the same features,
donor by donor, ``PREDICT_CHUNK`` entries per XGBoost call, each predicted in a worker thread
while the next chunk's features are built. The whole-profile XGBoost is
chosen for prediction cost as well in large cohorts (:func:`_cheapest_profile_booster`): absent
profiles are most of what ``complete()`` estimates (GTEx: ~680 million values, about 70 minutes of
XGBoost prediction on one thread with 300 trees of depth 6).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

from ..._utils import progress_bar
from .masking import Layout
from .stacking import apply_model, fit_pattern_model

if TYPE_CHECKING:
    from .model import HybridImputer
    from .profiles import ProfileFeatures

__all__ = [
    "PROFILE_BOOSTERS",
    "PROFILE_CHOICE_ROWS",
    "PROFILE_SEARCH_ENTRIES",
    "PROFILE_TOLERANCE",
    "fit_profile_model",
    "predict_profiles",
]

#: training rows (genes) per observed profile at least (more when ``max_rows`` allows)
MIN_ROWS_PER_UNIT = 50
#: XGBoost settings (max_depth, eta) tried for the whole-profile model besides the model's own;
#: the one with the fewest tree levels whose validation MSE is within PROFILE_TOLERANCE
#: (relative) of the best is kept (:func:`_cheapest_profile_booster`)
PROFILE_BOOSTERS = ((6, 0.3), (6, 0.2))
PROFILE_TOLERANCE = 0.01
#: absent-profile entries (absent donor x tissue units x genes) from which the whole-profile
#: XGBoost is also chosen for prediction cost (below, the model's own settings: the cheaper
#: candidates cost about 1% of validation MSE, which only a large prediction budget repays)
PROFILE_SEARCH_ENTRIES = 50_000_000
#: training rows on which those candidates are compared at most (whole donors, drawn with the
#: fit's seed); the chosen setting alone is then trained on every row, so the choice costs the
#: same at any larger cohort size. Well above where the cheapest candidate crosses the tolerance
#: (gtex_v8 preset, 20,000 genes: eta 0.3 at +2.2% of the best validation MSE with 90k rows,
#: +0.96% with 282k, +0.25% with 862k), so that a subset chooses what every row would.
PROFILE_CHOICE_ROWS = 450_000
#: add the group-aware columns and bases (:mod:`.profile_groups`). Validation (hybrid MSE,
#: 97ea594 -> with them): Blake P3 split seeds 100/101/102/103 0.1255 / 0.1289 / 0.1288 / 0.1275
#: -> 0.1241 / 0.1275 / 0.1281 / 0.1263; sim P3 100/101 0.1223 / 0.1244 -> 0.1188 / 0.1226
USE_GROUPS = True
#: the kNN bases at k other than ``k_similar`` stay features (XGBoost) but leave the bases (the
#: single-base references and the ridge stack): with few donors the stack over-fits those
#: nearly collinear bases (Blake: weights -0.09 / -0.06 / -0.22 / +0.02 / +0.01 for k = 1, 2,
#: 3, 5, 10; the stack's in-sample MSE 1.5% below its donor-grouped CV MSE). Validation
#: (hybrid MSE, every kNN base -> only k_similar's): Blake P3 split seeds 100/101/102/103
#: 0.1241 / 0.1275 / 0.1281 / 0.1263 -> 0.1230 / 0.1258 / 0.1263 / 0.1256; sim P3 100/101
#: 0.1188 / 0.1226 -> 0.1188 / 0.1224. Dropping k = 1 alone: Blake 0.1228 / 0.1263, sim 0.1192 /
#: 0.1223; k = 1 and 2: Blake 0.1229 / 0.1258; every kNN base: Blake 0.1239 / 0.1262
STACK_ONE_KNN = True


def _unit_features(
    pf: ProfileFeatures, d: int, tissues: np.ndarray, genes: list[np.ndarray] | None, *, fitting: bool
) -> tuple[list[np.ndarray], list[str], list[dict[str, np.ndarray]]]:
    """Return :meth:`~.profiles.ProfileFeatures.donor_features` plus the columns of :mod:`.profile_groups`.

    ``fitting``: the candidate bases of a new model (:data:`STACK_ONE_KNN`); at prediction every
    base is given, so a model fitted with other candidates (saved before) finds its own.
    """
    xs, names, bases = pf.donor_features(d, tissues, genes)
    if fitting and STACK_ONE_KNN:
        drop = {f"knn_donors_k{k}" for k in pf.ks if k != pf.k_similar}
        bases = [{k: v for k, v in b.items() if k not in drop} for b in bases]
    if not USE_GROUPS:
        return xs, names, bases
    from .profile_groups import GROUP_NAMES, group_columns

    for i, t in enumerate(np.asarray(tissues, dtype=np.int64)):
        g: np.ndarray | slice = slice(None)
        if genes is not None and len(genes[i]) != pf.n_genes:
            g = np.asarray(genes[i], dtype=np.int64)
        cols, extra = group_columns(pf, d, int(t), g)
        xs[i] = np.column_stack([xs[i], *(np.asarray(c, dtype=np.float32) for c in cols)])
        bases[i].update(extra)
    return xs, [*names, *GROUP_NAMES], bases


def fit_profile_model(
    model: HybridImputer, values: np.ndarray, layout: Layout, rng: np.random.Generator
) -> None:
    """Fit the whole-profile model on leave-one-donor-out features of observed profiles."""
    from .profile_cache import clear_profile_cache, donor_runs, model_profile_features

    clear_profile_cache()  # a new fit: nothing cached from earlier data
    pf = model_profile_features(model, values, layout)
    # every observed profile, max(MIN_ROWS_PER_UNIT, max_rows / profiles) of its genes, features
    # computed for those genes only (each donor prepared once)
    units = np.argwhere(pf.unit_observed)  # donor-major
    per = max(MIN_ROWS_PER_UNIT, model.max_rows // max(len(units), 1))
    xs, ys, donors = [], [], []
    bases: dict[str, list[np.ndarray]] = {}
    names: list[str] = []
    for idx in progress_bar(donor_runs(units[:, 0]), desc="hybrid: profile features", enabled=model.progress):
        d = int(units[idx[0], 0])
        picks, targets = [], []
        for t in units[idx, 1]:
            y = pf.units.prof[pf.units.row_of[d, t]]
            ok = np.flatnonzero(~np.isnan(y))
            if len(ok) > per:
                ok = np.sort(rng.choice(ok, per, replace=False))
            picks.append(ok)
            targets.append(y[ok].astype(np.float64))
        x_d, names, base_d = _unit_features(pf, d, units[idx, 1], picks, fitting=True)
        for j in range(len(idx)):
            xs.append(x_d[j])
            ys.append(targets[j])
            donors.append(np.full(len(picks[j]), d))
            for k, v in base_d[j].items():
                bases.setdefault(k, []).append(v)
    n_donors = layout.n_donors
    cv = int(min(4, n_donors)) if n_donors < model.cv_max_donors else 0
    x, y = np.concatenate(xs), np.concatenate(ys)
    base = {k: np.concatenate(v) for k, v in bases.items()}
    options: dict[str, Any] = {
        "groups": np.concatenate(donors),
        "n_groups": n_donors,
        "use_xgboost": model.use_xgboost,
        "n_estimators": model.n_estimators,
        "validation_fraction": model.validation_fraction,
        "cv_folds": cv,
        # the ridge stack of the bases competes as the reference (as for scattered entries).
        # Validation (hybrid MSE, fd6bd59 -> this): Blake P3 split seeds 100/101/102/103 0.1263 /
        # 0.1286 / 0.1302 / 0.1294 -> 0.1255 / 0.1289 / 0.1288 / 0.1275; sim P3 100/101 0.1238 /
        # 0.1267 -> 0.1223 / 0.1244
        "use_ridge_reference": True,
    }
    n_absent = int((~pf.unit_observed).sum()) * values.shape[1]
    if cv or not model.use_xgboost or n_absent < PROFILE_SEARCH_ENTRIES:
        # few donors: the donor-grouped CV chooses the model; few absent entries: the own settings
        fitted, booster = fit_pattern_model(x, y, base, names, params=model.xgb_params(), rng=rng, **options)
    else:
        fitted, booster = _cheapest_profile_booster(model, x, y, base, names, rng, options)
    model.profile_names_ = names
    model.models_["profiles"] = fitted
    if booster is not None:
        model.boosters_["profiles"] = booster
    model.diagnostics_["profile_choice"] = fitted["choice"]
    model.diagnostics_["profile_features"] = pf.describe()


def _cheapest_profile_booster(
    model: HybridImputer,
    x: np.ndarray,
    y: np.ndarray,
    base: dict[str, np.ndarray],
    names: list[str],
    rng: np.random.Generator,
    options: dict[str, Any],
) -> tuple[dict[str, Any], Any]:
    """Fit the profile model with each of :data:`PROFILE_BOOSTERS` and the model's own XGBoost settings.

    Every candidate sees the same training rows, the same held-out donors (early stopping and
    validation MSE) and the same seed. Kept: the one with the fewest tree levels to walk at
    prediction (trees x depth) among those whose validation MSE is within
    :data:`PROFILE_TOLERANCE` of the best; absent profiles are most of what ``complete()``
    predicts, so this sets its time. With more than :data:`PROFILE_CHOICE_ROWS` training rows
    the candidates are compared on the rows of a random subset of whole donors (at most that
    many rows) and the kept setting is trained again on every row (the same seed and held-out
    donors as the candidates would have had: the model a comparison on every row gives when
    it keeps the same setting).
    """
    seed = int(rng.integers(2**31))
    own = (int(model.max_depth), float(model.xgb_learning_rate))
    sample = _choice_rows(options["groups"], PROFILE_CHOICE_ROWS, seed)
    if sample is None:
        cx, cy, cbase, coptions = x, y, base, options
    else:
        cx, cy = x[sample], y[sample]
        cbase = {k: v[sample] for k, v in base.items()}
        coptions = {**options, "groups": options["groups"][sample]}
    fits = []
    for depth, eta in dict.fromkeys([own, *PROFILE_BOOSTERS]):
        params = {**model.xgb_params(), "max_depth": depth, "eta": eta}
        fitted, booster = fit_pattern_model(
            cx, cy, cbase, names, params=params, rng=np.random.default_rng(seed), **coptions
        )
        fitted["booster_params"] = {"max_depth": depth, "eta": eta}
        fits.append((fitted, booster))
    best = min(f["validation_mse"] for f, _ in fits)
    near = [fb for fb in fits if fb[0]["validation_mse"] <= (1 + PROFILE_TOLERANCE) * best]
    fitted, booster = min(
        near, key=lambda fb: (fb[0]["best_iteration"] + 1) * fb[0]["booster_params"]["max_depth"]
    )
    summary = "; ".join(
        f"depth {f['booster_params']['max_depth']} eta {f['booster_params']['eta']}: "
        f"{f['best_iteration'] + 1} trees, validation MSE {f['validation_mse']:.5f}"
        for f, _ in fits
    )
    if sample is not None:  # compared on a subset of donors: the kept setting on every row
        kept = fitted["booster_params"]
        params = {**model.xgb_params(), **kept}
        fitted, booster = fit_pattern_model(
            x, y, base, names, params=params, rng=np.random.default_rng(seed), **options
        )
        fitted["booster_params"] = kept
        summary = (
            f"compared on {len(sample)} of {len(y)} rows: {summary}; kept depth {kept['max_depth']} "
            f"eta {kept['eta']} on all rows: {fitted.get('best_iteration', -1) + 1} trees, "
            f"validation MSE {fitted.get('validation_mse', float('nan')):.5f}"
        )
    model.diagnostics_["profile_boosters"] = summary
    return fitted, booster


def _choice_rows(groups: np.ndarray, limit: int, seed: int) -> np.ndarray | None:
    """Rows of a random subset of whole groups (donors), at most ``limit`` rows; None if all fit.

    Groups are taken in a random order (seeded) while their rows fit; the rows are returned in
    their original order.
    """
    if len(groups) <= limit:
        return None
    ids, counts = np.unique(groups, return_counts=True)
    order = np.random.default_rng([seed, 1]).permutation(len(ids))
    keep = order[np.cumsum(counts[order]) <= limit]
    if not len(keep):  # one group alone is larger: compare on all rows
        return None
    return np.flatnonzero(np.isin(groups, ids[keep]))


def predict_profiles(
    model: HybridImputer,
    values: np.ndarray,
    layout: Layout,
    rows: np.ndarray,
    cols: np.ndarray,
    *,
    progress: bool,
) -> np.ndarray:
    """Estimate entries of whole missing profiles (samples ``rows``, genes ``cols``)."""
    from .patterns import _align
    from .profile_cache import PREDICT_CHUNK, donor_runs, model_profile_features

    assert layout.donor is not None
    pf = model_profile_features(model, values, layout)
    fitted = model.models_["profiles"]
    booster = model.boosters_.get("profiles")
    n_t = layout.n_tissues
    unit = layout.donor[rows] * n_t + layout.tissue[rows]
    order = np.argsort(unit, kind="stable")
    units, starts = np.unique(unit[order], return_index=True)
    members = np.split(order, starts[1:])  # entries of each unit
    out = np.full(len(rows), np.nan)
    xs: list[np.ndarray] = []
    sels: list[np.ndarray] = []
    bases: dict[str, list[np.ndarray]] = {}
    # XGBoost predicts one chunk in a worker thread (it releases the GIL) while the next chunk's
    # features are built here: at most one chunk in flight, results written to fixed positions
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gex_impute-profiles")
    in_flight: list[Future] = []
    feature_names: list[str] = []

    def predict_chunk(x: np.ndarray, base: dict[str, np.ndarray], sel: np.ndarray) -> None:
        out[sel] = apply_model(fitted, booster, x, base, model.profile_names_, model.threads)

    def flush() -> None:
        if not sels:
            return
        x = _align(np.concatenate(xs), feature_names, model.profile_names_)
        base = {k: np.concatenate(v) for k, v in bases.items()}
        sel = np.concatenate(sels)
        xs.clear()
        sels.clear()
        bases.clear()
        while in_flight:
            in_flight.pop().result()  # raises what the worker raised
        in_flight.append(pool.submit(predict_chunk, x, base, sel))

    try:
        pending = 0
        for idx in progress_bar(donor_runs(units // n_t), desc="hybrid: profiles", enabled=progress):
            genes = [cols[members[i]] for i in idx]
            d = int(units[idx[0]] // n_t)
            x_d, feature_names, base_d = _unit_features(pf, d, units[idx] % n_t, genes, fitting=False)
            for j, i in enumerate(idx):
                xs.append(x_d[j])
                sels.append(members[i])
                for k, v in base_d[j].items():
                    bases.setdefault(k, []).append(v)
                pending += len(members[i])
            if pending >= PREDICT_CHUNK:
                flush()
                pending = 0
        flush()
        while in_flight:
            in_flight.pop().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return out
