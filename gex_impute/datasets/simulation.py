"""Simulate donor x tissue x gene expression with a genome, promoters and realistic structure.

The simulator gives every other part of the package data whose generating process is known:
a random genome with genes (:mod:`~gex_impute.datasets.sim_genome`), promoters with planted
motifs, an expression model with tissue programmes, genomic co-expression and donor effects
(:mod:`~gex_impute.datasets.sim_expression`), and missing data. Two presets:

* ``"default"``: every donor x tissue combination, a fraction of which is missing entirely,
  plus whole missing genes and scattered missing entries;
* ``"gtex_v8"``: the GTEx v8 design (:mod:`~gex_impute.datasets.gtex_v8`): 948 donors x 54
  tissues, of which about a third of the donor x tissue profiles exist (about 17,231 samples at
  948 donors, seed 0; GTEx v8 itself has 17,382).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from .._utils import check_random_state
from ..errors import ParameterError
from .gtex_v8 import (
    AGE_BANDS,
    BASELINE_SPREAD,
    DEFAULT_TISSUES,
    ENRICHED_FRACTION,
    ENRICHED_GROUP_WEIGHT,
    LOG_CEILING,
    TISSUE_SCALE,
    TPM_PER_GENE,
    draw_design,
    draw_sample_qc,
    gtex_obs,
)
from .sim_expression import build_gene_model, sample_levels
from .sim_genome import MOTIFS, gene_table, layout_genes, make_promoters, promoter_strings, scan_motifs
from .sim_missing import draw_missing_genes, drop_samples, scatter_entries

if TYPE_CHECKING:
    from anndata import AnnData

__all__ = ["PRESETS", "simulate"]

#: default sizes and missingness of each preset (None: the preset's design decides)
PRESETS: dict[str, dict[str, Any]] = {
    "default": {
        "n_donors": 20,
        "n_tissues": 8,
        "n_genes": 2000,
        "frac_missing_genes": 0.05,
        "frac_missing_samples": 0.1,
        "frac_missing_entries": 0.02,
        "absent": "keep",
    },
    "gtex_v8": {
        "n_donors": 948,
        "n_tissues": 54,
        "n_genes": 2000,
        "frac_missing_genes": 0.0,
        "frac_missing_samples": None,
        "frac_missing_entries": 0.0,
        "absent": "drop",
    },
}


def _check_int(name: str, value, minimum: int, maximum: int | None = None) -> int:
    bad = isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum
    if bad or (maximum is not None and value > maximum):
        limit = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        msg = f"{name}={value!r} is invalid; pass an integer {limit}."
        raise ParameterError(msg)
    return int(value)


def _check_fraction(name: str, value) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float | np.floating | np.integer)
        or not 0 <= value < 1
    ):
        msg = f"{name}={value!r} is invalid; pass a fraction in [0, 1)."
        raise ParameterError(msg)
    return float(value)


def _genome(streams, n_genes: int, n_chromosomes: int, gene_spacing: int, upstream: int, downstream: int):
    margin = max(upstream, downstream) + 1000
    layout = layout_genes(streams["layout"], n_genes, n_chromosomes, gene_spacing, margin)
    chrom_idx, tss, plus = layout["chrom_idx"], layout["tss"], layout["plus"]
    window_end = np.where(plus, tss + downstream, tss + upstream + 1)
    chrom_lengths = np.full(n_chromosomes, margin + gene_spacing, dtype=np.int64)
    extent = np.maximum(layout["end"], window_end)
    for c in range(n_chromosomes):
        sel = chrom_idx == c
        if sel.any():
            chrom_lengths[c] = int(extent[sel].max()) + margin + gene_spacing // 2
    promoters = promoter_strings(make_promoters(streams["prom"], layout, upstream, downstream))
    return layout, chrom_lengths, promoters, scan_motifs(promoters, upstream)


def simulate(
    n_donors: int | None = None,
    n_tissues: int | None = None,
    n_genes: int | None = None,
    *,
    preset: Literal["default", "gtex_v8"] = "default",
    n_chromosomes: int = 3,
    gene_spacing: int = 20_000,
    upstream: int = 1000,
    downstream: int = 500,
    frac_missing_genes: float | None = None,
    frac_missing_samples: float | None = None,
    frac_missing_entries: float | None = None,
    absent: Literal["keep", "drop"] | None = None,
    random_state: int | np.random.Generator | None = 0,
) -> AnnData:
    """Simulate donor x tissue x gene expression (TPM) with a genome, promoters and missing data.

    Genes are placed on a random genome. On the log1p scale a gene's level in a sample is the sum
    of

    * a baseline driven by motifs planted in its promoter (TATA box, CpG island, GC box, an
      activating and a repressing 8-mer; sequence explains roughly a quarter to a third of the
      across-gene variance of mean levels), its type (lncRNA lower) and gene noise;
    * a tissue profile from a few latent tissue programmes (tissues cluster), with two more
      8-mers each raising one programme, scaled by a gene specificity that TATA raises and CpG
      islands lower;
    * a genomic field along each chromosome (Ornstein-Uhlenbeck, decay length 4 x
      ``gene_spacing``) on level and tissue profile, plus effects shared by adjacent genes that are
      strongest for divergent (head-to-head) pairs and weakest for convergent ones;
    * donor effects shared by the donor's tissues (sparse eQTL-like genotype effects and two broad
      donor factors), a per-sample factor and noise.

    Values below zero on the log1p scale become 0 TPM (lowly expressed genes). The amplitudes were
    set once so that baselines land near their real-GTEx reference figures and are not tuned
    toward any method.

    Presets:

    * ``"default"``: every donor x tissue combination is a sample (GTEx tissue names, "Tissue <n>"
      beyond 36); missingness: whole genes, whole samples (no tissue or donor loses all its
      samples) and scattered entries. Its draws are the original simulator's, kept so that
      earlier benchmarks stay reproducible: genes differ between tissues more than in GTEx
      (per-gene sd across tissue means, median 0.65 log1p against GTEx v8's 0.47), and a few
      values lie far above any real TPM (maxima 1e7 to 5e9 at seeds 0-2); use ``"gtex_v8"``
      for GTEx's scale.
    * ``"gtex_v8"``: GTEx v8's 54 tissues (``n_tissues`` < 54 keeps the most sampled ones) and
      948 donors, with GTEx's skewed availability (``gex_impute.datasets.gtex_v8``): about
      17,231 samples at 948 donors (seed 0; GTEx v8: 17,382), two thirds of donor x tissue
      profiles absent. Tissue programmes follow tissue biology (brain regions, blood, muscle,
      ...) with an extra effect shared by each GTEx tissue group (``SMTS``); donors have SEX and
      AGE, and some genes are sex- or age-biased. Expression is on the scale of GTEx v8's tissue
      medians: as many genes at 0 or below 1 TPM, about 10% of genes enriched in one tissue
      group (a third of them in testis or brain), the same spread between tissues, no value
      above about 4e5 TPM, and each sample's TPM total over the simulated genes fixed within
      22%, as TPM is a share (the constants and their comparison with GTEx:
      ``gex_impute.datasets.gtex_v8``). Each sample's noise is drawn from its own seed, so its
      values are the same whether absent profiles are kept or dropped. Memory: ``float32``,
      built in blocks (17,231 x 20,000 genes is 1.4 GB per matrix).

    Parameters
    ----------
    n_donors
        Number of donors; preset default (20, or 948 for ``gtex_v8``) when None.
    n_tissues
        Number of tissues; preset default (8, or 54 for ``gtex_v8``) when None.
    n_genes
        Number of genes (default 2,000; use 20,000 for a GTEx-sized protein-coding set).
    preset
        ``"default"`` or ``"gtex_v8"``.
    n_chromosomes
        Number of contigs, named ``chr1`` .. ``chrN``.
    gene_spacing
        Mean distance (bp) between consecutive TSSs (exponential gaps).
    upstream
        Promoter bases upstream of the TSS in ``var['promoter']``.
    downstream
        Promoter bases from the TSS downstream (the TSS base included).
    frac_missing_genes
        Fraction of genes missing in every sample (preset default 0.05, ``gtex_v8`` 0).
    frac_missing_samples
        Fraction of donor x tissue samples missing entirely (``default`` preset only: 0.1).
    frac_missing_entries
        Probability that each remaining entry is missing (preset default 0.02, ``gtex_v8`` 0).
    absent
        What to do with the samples that do not exist: ``"keep"`` them as rows of NaN (the
        ``default`` preset's default; with ``gtex_v8``, only the profiles the donor's sex allows:
        no prostate of a female donor) or ``"drop"`` them (``gtex_v8``'s default, as in a GTEx
        download). With ``gtex_v8`` each sample draws its own missing entries, so a sample's
        values and missing entries are the same either way.
    random_state
        Seed or :class:`numpy.random.Generator`; the same seed gives the same data.
        None is seed 0 (never numpy's global random state).

    Returns
    -------
    AnnData, samples x genes:

    * ``X``: TPM (``float32``), ``NaN`` where missing; ``layers['truth']``: the complete TPM (with
      ``gtex_v8`` only when ``X`` has missing values, i.e. ``absent="keep"`` or missing genes or
      entries, since it would otherwise repeat ``X``).
    * ``obs``: ``tissue``, ``donor`` (categorical); index = GTEx-style ``SAMPID`` (donor = first
      two dash-separated fields). ``gtex_v8`` adds ``tissue_group`` (SMTS), ``sex``
      ("male"/"female"), ``age`` (e.g. "60-69"), ``DTHHRDY``, and the sample attributes ``SMRIN``,
      ``SMTSISCH``, ``SMATSSCR``, ``SMCENTER``, ``SMPTHNTS``.
    * ``var``: index = gene id (``ENSGSIM00000001``); ``gene_id_version`` (with an Ensembl-style
      version suffix, as in GTF/GCT), ``gene_name``, ``chrom``, ``start`` (0-based), ``end``
      (exclusive), ``strand``, ``tss`` (0-based TSS base), ``gene_type`` (``protein_coding`` or
      ``lncRNA``), ``promoter`` (``upstream + downstream`` bases in the gene's orientation, the
      TSS at index ``upstream``: ``genome[tss-upstream : tss+downstream]`` on "+", the reverse
      complement of ``genome[tss-downstream+1 : tss+upstream+1]`` on "-"), ``promoter_tss``
      (``upstream``: where the TSS base is in ``promoter``).
    * ``varm['simulate_motifs']``: the motif features read back from each promoter (columns
      ``uns['simulate']['motif_names']``).
    * ``uns['simulate']``: the parameters, ``preset``, ``genome_seed``, ``chrom_names``,
      ``chrom_lengths``, ``decay_length``, motif names/sequences/effects, each tissue's programme,
      ``n_missing_genes``, ``n_missing_samples`` (absent donor x tissue profiles kept as rows of
      NaN: 0 with ``absent="drop"``).

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.datasets.simulate(n_donors=4, n_tissues=3, n_genes=100, random_state=0)
    >>> adata.shape
    (12, 100)
    >>> gtex = gi.datasets.simulate(preset="gtex_v8", n_donors=30, n_genes=50, random_state=0)
    >>> gtex.obs["tissue"].cat.categories.size
    54
    """
    if preset not in PRESETS:
        msg = f"preset={preset!r} is unknown; choose from {sorted(PRESETS)}."
        raise ParameterError(msg)
    defaults = PRESETS[preset]
    gtex = preset == "gtex_v8"
    n_donors = _check_int("n_donors", defaults["n_donors"] if n_donors is None else n_donors, 1)
    n_tissues = _check_int(
        "n_tissues", defaults["n_tissues"] if n_tissues is None else n_tissues, 1, 54 if gtex else None
    )
    n_genes = _check_int("n_genes", defaults["n_genes"] if n_genes is None else n_genes, 1)
    n_chromosomes = _check_int("n_chromosomes", n_chromosomes, 1)
    gene_spacing = _check_int("gene_spacing", gene_spacing, 100)
    upstream = _check_int("upstream", upstream, 0)
    downstream = _check_int("downstream", downstream, 0)
    if gtex and frac_missing_samples is not None:
        msg = (
            "frac_missing_samples does not apply to preset='gtex_v8': the GTEx design decides which "
            "samples exist."
        )
        raise ParameterError(msg)
    fractions: dict[str, float] = {}  # frac_missing_samples: -1 where the preset's design decides
    for name, value in (
        ("frac_missing_genes", frac_missing_genes),
        ("frac_missing_samples", frac_missing_samples),
        ("frac_missing_entries", frac_missing_entries),
    ):
        value = defaults[name] if value is None else value
        fractions[name] = -1.0 if value is None else _check_fraction(name, value)
    absent = defaults["absent"] if absent is None else absent
    if absent not in ("keep", "drop"):
        msg = f"absent={absent!r} is invalid; pass 'keep' (rows of NaN) or 'drop'."
        raise ParameterError(msg)
    rng = check_random_state(random_state)
    # one independent stream per component, so changing one part leaves the others alone
    names = ("layout", "prom", "gene", "tissue", "field", "donor", "noise", "miss")
    streams = dict(zip(names, rng.spawn(8), strict=True))
    genome_seed = int(rng.integers(0, 2**31 - 1))

    layout, chrom_lengths, promoters, motifs = _genome(
        streams, n_genes, n_chromosomes, gene_spacing, upstream, downstream
    )
    if gtex:
        r_design, r_qc = rng.spawn(2)
        r_enrich, r_scatter = rng.spawn(2)
        design = draw_design(r_design, n_donors, n_tissues)
        tissues = design.tissues
        donors = design.donors
        group_smts = tissues.groupby("group")["SMTS"].first().sort_index()
        weights = np.array([ENRICHED_GROUP_WEIGHT.get(g, 1.0) for g in group_smts])
        model = build_gene_model(
            streams,
            layout,
            motifs,
            n_tissues=n_tissues,
            n_donors=n_donors,
            gene_spacing=gene_spacing,
            programmes=tissues["programme"].to_numpy(),
            tissue_groups=tissues["group"].to_numpy(),
            donor_sex=donors["SEX"].to_numpy() == 2,
            donor_age=pd.Index(AGE_BANDS).get_indexer(donors["AGE"]) - 2.5,
            tissue_scale=TISSUE_SCALE,
            log_ceiling=LOG_CEILING,
            baseline_spread=BASELINE_SPREAD,
            enriched=(r_enrich, ENRICHED_FRACTION, weights),
            tpm_per_gene=TPM_PER_GENE,
        )
        grid_donor, grid_tissue = np.divmod(np.arange(n_donors * n_tissues), n_tissues)
        present = design.present.ravel()
        # "keep": every profile that could exist (no prostate of a female donor)
        rows = np.flatnonzero(design.possible.ravel() if absent == "keep" else present)
        noise_seed = int(streams["noise"].integers(0, 2**63 - 1))
        truth = sample_levels(
            model, grid_donor[rows], grid_tissue[rows], streams["noise"], per_sample_seed=noise_seed
        )
        missing_genes = draw_missing_genes(streams["miss"], n_genes, fractions["frac_missing_genes"])
        missing_samples = np.flatnonzero(~present[rows])
        qc = draw_sample_qc(r_qc, design).iloc[rows]
        tissue_names, donor_ids = list(tissues.index), list(donors.index)
        donor_of, tissue_of = grid_donor[rows], grid_tissue[rows]
        sampid = [str(s) for s in design.sample_ids.ravel()[rows]]
    else:
        model = build_gene_model(
            streams, layout, motifs, n_tissues=n_tissues, n_donors=n_donors, gene_spacing=gene_spacing
        )
        donor_of = np.repeat(np.arange(n_donors), n_tissues)
        tissue_of = np.tile(np.arange(n_tissues), n_donors)
        truth = sample_levels(model, donor_of, tissue_of, streams["noise"])
        missing_genes = draw_missing_genes(streams["miss"], n_genes, fractions["frac_missing_genes"])
        missing_samples = drop_samples(
            streams["miss"], donor_of, tissue_of, n_donors, n_tissues, fractions["frac_missing_samples"]
        )
        tissue_names = [
            DEFAULT_TISSUES[t][0] if t < len(DEFAULT_TISSUES) else f"Tissue {t + 1}" for t in range(n_tissues)
        ]
        dw, sw = max(3, len(str(n_donors))), max(4, len(str(donor_of.size)))
        donor_ids = [f"GTEX-S{d + 1:0{dw}d}" for d in range(n_donors)]
        sampid = [
            f"{donor_ids[d]}-{t + 1:04d}-SM-{s + 1:0{sw}d}"
            for s, (d, t) in enumerate(zip(donor_of, tissue_of, strict=True))
        ]

    # --- missingness --------------------------------------------------------------------------
    r_miss = streams["miss"]
    n_miss_genes = missing_genes.size
    needs_nan = n_miss_genes > 0 or missing_samples.size > 0 or fractions["frac_missing_entries"] > 0
    X = truth.copy() if (needs_nan or not gtex) else truth
    X[:, missing_genes] = np.nan
    X[missing_samples, :] = np.nan
    if gtex:  # each sample its own draw: the same whether absent profiles are kept or dropped
        scatter_entries(X, fractions["frac_missing_entries"], r_scatter, per_sample=(donor_of, tissue_of))
    else:
        scatter_entries(X, fractions["frac_missing_entries"], r_miss)
    keep_rows = np.arange(X.shape[0])
    if absent == "drop" and not gtex and missing_samples.size:
        keep_rows = np.setdiff1d(keep_rows, missing_samples)

    # --- AnnData --------------------------------------------------------------------------------
    import anndata as ad

    obs = pd.DataFrame(
        {
            "tissue": pd.Categorical.from_codes(tissue_of, categories=tissue_names),
            "donor": pd.Categorical.from_codes(donor_of, categories=donor_ids),
        },
        index=pd.Index(sampid, name="SAMPID"),
    )
    if gtex:
        obs = gtex_obs(obs, design, donor_of, tissue_of, qc)
    var = gene_table(streams["gene"], layout, promoters, model.lncrna, n_chromosomes)
    var["promoter_tss"] = np.int64(upstream)  # as gi.pp.add_promoters writes it from a FASTA
    effects = np.array([m[3] for m in MOTIFS])
    params = {
        "preset": preset,
        "n_donors": n_donors,
        "n_tissues": n_tissues,
        "n_genes": n_genes,
        "n_chromosomes": n_chromosomes,
        "gene_spacing": gene_spacing,
        "upstream": upstream,
        "downstream": downstream,
        "frac_missing_genes": fractions["frac_missing_genes"],
        "frac_missing_samples": fractions["frac_missing_samples"],
        "frac_missing_entries": fractions["frac_missing_entries"],
        "absent": absent,
        "random_state": int(random_state) if isinstance(random_state, int | np.integer) else -1,
        "genome_seed": genome_seed,
        "chrom_names": np.array([f"chr{i + 1}" for i in range(n_chromosomes)]),
        "chrom_lengths": chrom_lengths,
        "decay_length": model.decay_length,
        "motif_names": np.array(list(motifs.columns)),
        "motif_sequences": np.array([m[1] for m in MOTIFS]),
        "motif_effects": effects,
        "tissue_programme": model.tissue_programme,
        "n_missing_genes": int(n_miss_genes),
        "n_missing_samples": int(missing_samples.size),
    }
    if keep_rows.size < X.shape[0]:  # index only when rows go (indexing copies the matrix)
        X, truth, obs = X[keep_rows], truth[keep_rows], obs.iloc[keep_rows]
    layers = {"truth": truth} if (needs_nan or not gtex) else {}
    adata = ad.AnnData(X=X, obs=obs, var=var, layers=layers)
    adata.varm["simulate_motifs"] = motifs.to_numpy().astype(np.float32)
    adata.uns["simulate"] = params
    return adata
