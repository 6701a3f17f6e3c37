"""Loaders of the real data sets in ``../shared/data`` (never copied into the project).

Both loaders go through the package's public readers (:func:`gex_impute.io.read_tissue_table`,
:func:`gex_impute.pp.annotate_genes`, :func:`gex_impute.pp.add_promoters`), so they exercise
the same path a user takes with their own files.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from ..errors import InputFileError, ParameterError

if TYPE_CHECKING:
    from anndata import AnnData

logger = logging.getLogger("gex_impute")

__all__ = ["blake2020", "gtex_tissues", "shared_data_dir"]

ENV_VAR = "GEX_IMPUTE_DATA"
_PROJECT_ROOT = Path(__file__).resolve().parents[2]

GTEX_TPM = "gtex_tissue_tpm.tsv"
TSS_BED = "hg38_tss_cage_20kb.bed"
GENE_LOCATIONS = "hg38_gene_locations.tsv"
EPD_SEQUENCES = "epd_core_promoters_60bp.tsv"
EPD_MAPPING = "epd_promoter_to_ensembl.tsv"
SYMBOLS = "ensembl_gene_symbols.tsv"
BLAKE_COUNTS = "blake2020_primate_tissue_counts.tsv"
BLAKE_SAMPLES = "blake2020_samples.csv"


def shared_data_dir() -> Path:
    """Locate the shared real-data folder.

    Looks, in order, at the ``GEX_IMPUTE_DATA`` environment variable, ``../shared/data``
    relative to the project root, and ``../shared/data`` and ``shared/data`` relative to the
    current directory.

    Returns
    -------
    The folder (it exists).

    Raises
    ------
    FileNotFoundError
        When none of the candidates is a folder; the message lists them.

    Examples
    --------
    >>> import gex_impute as gi
    >>> gi.datasets.shared_data_dir()  # doctest: +SKIP
    PosixPath('/work/shared/data')
    """
    env = os.environ.get(ENV_VAR)
    if env:
        path = Path(env).expanduser()
        if not path.is_dir():
            msg = f"{ENV_VAR}={env!r} is not a folder; point it at the folder holding {GTEX_TPM} etc."
            raise FileNotFoundError(msg)
        return path
    candidates = [
        _PROJECT_ROOT.parent / "shared" / "data",
        Path.cwd().parent / "shared" / "data",
        Path.cwd() / "shared" / "data",
    ]
    for path in candidates:
        if path.is_dir():
            return path
    msg = (
        "the shared data folder was not found; tried "
        + ", ".join(str(p) for p in candidates)
        + f". Set the environment variable {ENV_VAR} or pass data_dir= naming the folder."
    )
    raise FileNotFoundError(msg)


def _data_file(data_dir: str | os.PathLike | None, name: str) -> Path:
    folder = shared_data_dir() if data_dir is None else Path(data_dir)
    path = folder / name
    if not path.exists():
        msg = f"{name} not found in {folder}; pass data_dir= naming the folder that holds it."
        raise FileNotFoundError(msg)
    return path


def _annotate(adata: AnnData, data_dir: str | os.PathLike | None) -> None:
    """TSS/strand from the CAGE BED, gene bounds from the gene table, EPD promoters, symbols."""
    from .. import pp

    pp.annotate_genes(adata, _data_file(data_dir, TSS_BED), bed_tss="window_center", chrom_style="ucsc")
    # the BED gives only a TSS; take the gene body from the gene table where it is known
    tss_var = adata.var[["chrom", "tss", "strand"]].copy()
    pp.annotate_genes(
        adata,
        _data_file(data_dir, GENE_LOCATIONS),
        coordinates="0-based",
        columns=["start", "end"],
        chrom_style="ucsc",
    )
    # genes placed by the BED but absent from the gene table keep the TSS base as their body
    for col in ("start", "end"):
        values = pd.to_numeric(adata.var[col], errors="coerce")
        fill = tss_var["tss"] + (1 if col == "end" else 0)
        adata.var[col] = values.where(values.notna(), fill)
    if "gene_type" not in adata.var.columns:
        # both tables are restricted to protein-coding genes (see the data README)
        adata.var["gene_type"] = pd.Series("protein_coding", index=adata.var_names).where(
            adata.var["tss"].notna()
        )
    pp.add_promoters(
        adata,
        sequences=_data_file(data_dir, EPD_SEQUENCES),
        mapping=_data_file(data_dir, EPD_MAPPING),
    )
    symbols = pd.read_csv(_data_file(data_dir, SYMBOLS), sep="\t", index_col=0).iloc[:, 0]
    symbols = symbols[~symbols.index.duplicated()]
    adata.var["symbol"] = symbols.reindex(adata.var_names).astype(object).to_numpy()


def gtex_tissues(data_dir: str | os.PathLike | None = None) -> AnnData:
    """GTEx median-like expression of 19,139 protein-coding genes in 29 tissues, annotated.

    TPM per tissue group (TissueEnrich's GTEx-Combine table) read with
    :func:`gex_impute.io.read_tissue_table`; TSS, chromosome and strand from the CAGE-corrected
    TSS windows (``hg38_tss_cage_20kb.bed``, TSS = window centre), gene bounds from
    ``hg38_gene_locations.tsv`` and 60-bp EPD core promoters from
    ``epd_core_promoters_60bp.tsv`` via :func:`gex_impute.pp.annotate_genes` and
    :func:`gex_impute.pp.add_promoters`. Genes without a TSS are kept with NaN coordinates.

    Parameters
    ----------
    data_dir
        Folder holding the files; :func:`~gex_impute.datasets.shared_data_dir` when None.

    Returns
    -------
    AnnData, 29 tissues (``obs['tissue']``) x 19,139 genes; ``X`` TPM (no missing values);
    ``var``: ``chrom`` (``chr1`` style), ``start``, ``end``, ``strand``, ``tss``,
    ``gene_type``, ``promoter`` ("" when unknown), ``n_promoters``, ``symbol``.

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.datasets.gtex_tissues()  # doctest: +SKIP
    >>> adata.shape  # doctest: +SKIP
    (29, 19139)
    """
    from .. import io

    adata = io.read_tissue_table(_data_file(data_dir, GTEX_TPM))
    _annotate(adata, data_dir)
    adata.uns["dataset"] = {"name": "gtex_tissues", "units": "TPM", "source": "TissueEnrich GTEx-Combine"}
    return adata


def blake2020(
    data_dir: str | os.PathLike | None = None,
    *,
    normalize: Literal["cpm"] | None = "cpm",
) -> AnnData:
    """Blake et al. 2020 primate RNA-seq: heart, kidney, liver, lung of 4 humans, 4 chimpanzees, 4 macaques.

    47 samples: the human-1 heart sample was never sequenced. It is absent (not a row of NaN):
    a sample that does not exist has no data to hold out, and :func:`gex_impute.tl.impute` fills
    only entries of samples that exist (add the row yourself to impute it). Genes are human
    Ensembl ids of 1:1 orthologs, annotated as in :func:`gtex_tissues`.

    Parameters
    ----------
    data_dir
        Folder holding the files; :func:`~gex_impute.datasets.shared_data_dir` when None.
    normalize
        ``"cpm"``: ``X`` holds counts per million (library size = the sample's total over the
        12,184 genes); None: ``X`` holds the raw counts.

    Returns
    -------
    AnnData, 47 samples x 12,184 genes. ``layers['counts']``: read counts. ``obs``:
    ``tissue``, ``donor`` (the individual), ``species``, ``rin``. ``var`` as in
    :func:`gtex_tissues`.

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.datasets.blake2020()  # doctest: +SKIP
    >>> adata.obs.groupby("species", observed=True).size().to_dict()  # doctest: +SKIP
    {'chimpanzee': 16, 'human': 15, 'rhesus macaque': 16}
    """
    from anndata import AnnData

    if normalize not in ("cpm", None):
        msg = f"normalize={normalize!r}; use 'cpm' or None (raw counts)."
        raise ParameterError(msg)
    counts = pd.read_csv(_data_file(data_dir, BLAKE_COUNTS), sep="\t", index_col=0)
    counts.index = counts.index.astype(str)
    samples = pd.read_csv(_data_file(data_dir, BLAKE_SAMPLES)).set_index("Sample ID")
    unknown = sorted(set(counts.columns) - set(samples.index))
    if unknown:
        msg = f"{BLAKE_COUNTS} has samples {unknown} missing from {BLAKE_SAMPLES}."
        raise InputFileError(msg)
    samples = samples.loc[counts.columns]
    obs = pd.DataFrame(
        {
            "tissue": pd.Categorical(samples["Tissue"].astype(str)),
            "donor": pd.Categorical(samples["Individual"].astype(str)),
            "species": pd.Categorical(samples["Species"].astype(str)),
            "rin": samples["RIN score"].astype(float).to_numpy(),
        },
        index=pd.Index(counts.columns.astype(str)),
    )
    raw = counts.to_numpy(dtype=np.float64).T
    if normalize == "cpm":
        x = raw / raw.sum(axis=1, keepdims=True) * 1e6
    else:
        x = raw.copy()
    adata = AnnData(X=x, obs=obs, var=pd.DataFrame(index=counts.index))
    adata.layers["counts"] = raw
    _annotate(adata, data_dir)
    adata.uns["dataset"] = {
        "name": "blake2020",
        "units": "CPM" if normalize == "cpm" else "counts",
        "source": "Blake et al. 2020, PLoS Genetics (Reg_Evo_Primates data/counts_12184.txt)",
    }
    return adata
