"""Write a simulated dataset as the files users download, through the writers of :mod:`gex_impute.io`.

* :func:`write_dataset`: ``sim.h5ad``, ``genome.fa`` (+ ``.fai``), ``genes.gtf``,
  ``expression.gct`` and ``sample_attributes.tsv``.
* :func:`write_gtex_files`: the GTEx v8 downloads, named and laid out exactly as GTEx ships them
  (gene TPM GCT, SampleAttributesDS, SubjectPhenotypesDS) plus a GENCODE-style GTF and a genome
  FASTA.

Every file is written atomically (a temporary file renamed on success).
"""

from __future__ import annotations

import logging
import os
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .. import io
from ..errors import DataError
from .gtex_v8 import GTEX_V8_TISSUES
from .sim_genome import REQUIRED_VAR, check_var, chrom_names, write_genome_fasta

if TYPE_CHECKING:
    from anndata import AnnData

logger = logging.getLogger("gex_impute")

__all__ = ["GTEX_FILE_NAMES", "write_dataset", "write_gtex_files"]

#: file names of :func:`write_gtex_files`, as GTEx v8 (and the GTEx v8 pipeline's references) name them
GTEX_FILE_NAMES = {
    "gct": "GTEx_Analysis_2017-06-05_v8_RNASeQCv1.1.9_gene_tpm.gct.gz",
    "sample_attributes": "GTEx_Analysis_v8_Annotations_SampleAttributesDS.txt",
    "subject_phenotypes": "GTEx_Analysis_v8_Annotations_SubjectPhenotypesDS.txt",
    "gtf": "gencode.v26.GRCh38.genes.gtf",
    "fasta": "Homo_sapiens_assembly38_noALT_noHLA_noDecoy.fasta",
}
_SMTS = {smtsd: smts for smtsd, smts, *_ in GTEX_V8_TISSUES}


def gene_records(adata: AnnData, *, versioned: bool = True) -> pd.DataFrame:
    """Return one row per gene for the annotation writers, sorted by contig and start.

    ``gene_id`` is ``var['gene_id_version']`` when ``versioned`` (GTF/GFF3), else the var name.
    """
    check_var(adata)
    var = adata.var.reset_index(drop=True)
    ids = pd.Series(adata.var_names.astype(str))
    has_version = versioned and "gene_id_version" in var
    genes = pd.DataFrame(
        {
            "gene_id": var["gene_id_version"].astype(str) if has_version else ids,
            "gene_name": var["gene_name"].astype(str) if "gene_name" in var else ids,
            "gene_type": var["gene_type"].astype(str) if "gene_type" in var else "protein_coding",
            "chrom": var["chrom"].astype(str),
            "start": var["start"].astype(np.int64),
            "end": var["end"].astype(np.int64),
            "strand": var["strand"].astype(str),
        }
    )
    order = {c: i for i, c in enumerate(chrom_names(adata))}
    genes["_c"] = genes["chrom"].map(order)
    return genes.sort_values(["_c", "start", "end"], kind="stable").drop(columns="_c")


def _observed(adata: AnnData) -> np.ndarray:
    """Flag the samples with at least one value (GTEx lists only samples that have RNA-seq)."""
    from scipy import sparse

    observed = np.zeros(adata.n_obs, dtype=bool)
    for j0 in range(0, adata.n_vars, 1024):
        part = adata.X[:, j0 : j0 + 1024]
        part = part.toarray() if sparse.issparse(part) else np.asarray(part)
        observed |= ~np.isnan(part).all(axis=1)
    return observed


def sample_attribute_table(
    adata: AnnData, *, tissue_key: str = "tissue", gtex_rows: bool = False
) -> pd.DataFrame:
    """GTEx-style sample attributes of ``adata``'s samples.

    Without ``gtex_rows``: every sample, with ``SMAFRZE`` = ``RNASEQ`` (has data) or ``EXCLUDE``.
    With ``gtex_rows``: the SampleAttributesDS layout (``SAMPID``, ``SMATSSCR``, ``SMCENTER``,
    ``SMPTHNTS``, ``SMRIN``, ``SMTS``, ``SMTSD``, ``SMTSISCH``, ``SMAFRZE``) for the samples with
    data, plus one whole-blood DNA sample per donor (``SMAFRZE`` = ``WGS``), as in the GTEx file.
    """
    tissue = adata.obs[tissue_key].astype(str)
    if "tissue_group" in adata.obs:
        group = adata.obs["tissue_group"].astype(str).to_numpy()
    else:
        group = np.array([_SMTS.get(t, t) for t in tissue])
    observed = _observed(adata)
    table = pd.DataFrame({"SAMPID": adata.obs_names.astype(str), "SMTS": group, "SMTSD": tissue.to_numpy()})
    if not gtex_rows:
        table["SMAFRZE"] = np.where(observed, "RNASEQ", "EXCLUDE")
        return table
    for col in ("SMATSSCR", "SMCENTER", "SMPTHNTS", "SMRIN", "SMTSISCH"):
        table[col] = adata.obs[col].to_numpy() if col in adata.obs else np.nan
    table["SMAFRZE"] = "RNASEQ"
    table = table[observed]
    donors = pd.unique(table["SAMPID"].str.split("-").str[:2].str.join("-"))
    wgs = pd.DataFrame(
        {
            "SAMPID": [f"{d}-0004-SM-{_code(d)}" for d in donors],
            "SMTS": "Blood",
            "SMTSD": "Whole Blood",
            "SMAFRZE": "WGS",
        }
    )
    table = pd.concat([table, wgs], ignore_index=True).sort_values("SAMPID", kind="stable")
    columns = ["SAMPID", "SMATSSCR", "SMCENTER", "SMPTHNTS", "SMRIN", "SMTS", "SMTSD", "SMTSISCH", "SMAFRZE"]
    return table[columns]


def _code(donor: str) -> str:
    """Derive a stable 5-character sample code for a donor's DNA sample (no randomness to track)."""
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    value = zlib.crc32(donor.encode()) or 1
    chars = []
    for _ in range(5):
        value, k = divmod(value, 36)
        chars.append(alphabet[k])
    return "W" + "".join(chars[:4])


def subject_phenotype_table(adata: AnnData, *, donor_key: str = "donor") -> pd.DataFrame:
    """GTEx SubjectPhenotypesDS rows (SUBJID, SEX, AGE, DTHHRDY) of ``adata``'s donors.

    ``obs['sex']`` ("male"/"female") becomes SEX 1/2, ``obs['age']`` the AGE band; missing
    phenotypes are written as empty cells.
    """
    obs = adata.obs
    if donor_key not in obs:
        msg = f"adata.obs has no {donor_key!r} column; subject phenotypes are per donor."
        raise DataError(msg)
    first = obs.groupby(obs[donor_key].astype(str), observed=True, sort=True).head(1)
    sex = first["sex"].astype(str).map({"male": 1, "female": 2}) if "sex" in first else np.nan
    return pd.DataFrame(
        {
            "SUBJID": first[donor_key].astype(str).to_numpy(),
            "SEX": pd.array(
                np.asarray(sex, dtype=float) if "sex" in first else [np.nan] * len(first), "Int64"
            ),
            "AGE": first["age"].astype(str).to_numpy() if "age" in first else "",
            "DTHHRDY": first["DTHHRDY"].to_numpy(dtype=float) if "DTHHRDY" in first else np.nan,
        }
    ).sort_values("SUBJID", kind="stable")


def _check_gtex_ids(adata: AnnData, donor_key: str) -> None:
    donor = adata.obs_names.astype(str).str.split("-").str[:2].str.join("-")
    if donor_key in adata.obs and not (donor == adata.obs[donor_key].astype(str).to_numpy()).all():
        bad = adata.obs_names[donor != adata.obs[donor_key].astype(str).to_numpy()][:3]
        msg = (
            f"sample ids such as {list(bad)} do not start with their donor (obs[{donor_key!r}]); GTEx "
            "readers take the donor from the first two dash-separated fields of SAMPID "
            "(GTEX-1117F-0226-SM-5GZZ7 -> GTEX-1117F)."
        )
        raise DataError(msg)


def write_gtex_files(
    adata: AnnData,
    folder: str | os.PathLike,
    *,
    gct: bool = True,
    fasta: bool = True,
    gtf: bool = True,
    tissue_key: str = "tissue",
    donor_key: str = "donor",
) -> dict[str, Path]:
    """Write ``adata`` as the GTEx v8 downloads, named and laid out exactly as GTEx ships them.

    Parameters
    ----------
    adata
        Samples x genes, GTEx-style sample ids (donor = first two dash-separated fields), e.g.
        from ``gex_impute.datasets.simulate(preset="gtex_v8")``. Samples whose values are all
        missing are left out, as GTEx lists only samples it has RNA-seq for.
    folder
        Output folder (created when needed).
    gct
        Write ``GTEx_Analysis_2017-06-05_v8_RNASeQCv1.1.9_gene_tpm.gct.gz``: GCT v1.2, gzip
        (level 1, for speed), ``Name`` (versioned gene id) and ``Description`` (gene name), TPM
        of ``X`` (6 significant digits).
    fasta
        Write the genome ``Homo_sapiens_assembly38_noALT_noHLA_noDecoy.fasta`` and its ``.fai``
        (simulated data only: it reproduces ``var['promoter']``).
    gtf
        Write ``gencode.v26.GRCh38.genes.gtf`` (GENCODE-style gene/transcript/exon records).
    tissue_key
        ``obs`` column with the detailed tissue (SMTSD); ``obs['tissue_group']`` gives SMTS.
    donor_key
        ``obs`` column with the donor (SUBJID).

    Returns
    -------
    Paths keyed ``gct``, ``sample_attributes``
    (``GTEx_Analysis_v8_Annotations_SampleAttributesDS.txt``: SAMPID, SMATSSCR, SMCENTER,
    SMPTHNTS, SMRIN, SMTS, SMTSD, SMTSISCH, SMAFRZE; the RNA-seq samples plus one WGS sample per
    donor), ``subject_phenotypes`` (``GTEx_Analysis_v8_Annotations_SubjectPhenotypesDS.txt``:
    SUBJID, SEX, AGE, DTHHRDY), ``gtf``, ``fasta``, ``fai``. Each file is written atomically.
    :func:`gex_impute.io.read_expression` reads them back (``sample_attributes=``,
    ``subject_phenotypes=``).

    Examples
    --------
    >>> import tempfile
    >>> import gex_impute as gi
    >>> adata = gi.datasets.simulate(preset="gtex_v8", n_donors=5, n_tissues=4, n_genes=30)
    >>> paths = gi.datasets.write_gtex_files(adata, tempfile.mkdtemp(), fasta=False)
    >>> back = gi.io.read_expression(
    ...     paths["gct"],
    ...     sample_attributes=paths["sample_attributes"],
    ...     subject_phenotypes=paths["subject_phenotypes"],
    ... )
    >>> sorted(set(back.obs.columns) & {"tissue", "tissue_group", "donor", "sex", "age"})
    ['age', 'donor', 'sex', 'tissue', 'tissue_group']
    """
    _check_gtex_ids(adata, donor_key)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    if gct:
        paths["gct"] = io.write_gct(adata, folder / GTEX_FILE_NAMES["gct"], compress=True, compresslevel=1)
    attrs = sample_attribute_table(adata, tissue_key=tissue_key, gtex_rows=True)
    paths["sample_attributes"] = io.write_sample_attributes(
        attrs, folder / GTEX_FILE_NAMES["sample_attributes"]
    )
    pheno = subject_phenotype_table(adata, donor_key=donor_key)
    paths["subject_phenotypes"] = io.write_subject_phenotypes(
        pheno, folder / GTEX_FILE_NAMES["subject_phenotypes"]
    )
    if gtf:
        paths["gtf"] = io.write_gtf(
            gene_records(adata), folder / GTEX_FILE_NAMES["gtf"], description=_GTF_DESCRIPTION
        )
    if fasta:
        paths["fasta"] = write_genome_fasta(folder / GTEX_FILE_NAMES["fasta"], adata)
        paths["fai"] = Path(f"{paths['fasta']}.fai")
    logger.info("wrote %s to %s", ", ".join(p.name for p in paths.values()), folder)
    return paths


_GTF_DESCRIPTION = "gex_impute simulated gene annotation (GENCODE style)"


def write_dataset(
    folder: str | os.PathLike,
    adata: AnnData | None = None,
    *,
    fasta: bool = True,
    gtf: bool = True,
    gct: bool = True,
    **simulate_kwargs,
) -> dict[str, Path]:
    """Write a simulated dataset as h5ad plus the files users download.

    Parameters
    ----------
    folder
        Output folder (created when needed).
    adata
        An AnnData from :func:`~gex_impute.datasets.simulate`; simulated from ``simulate_kwargs``
        when None.
    fasta
        Write ``genome.fa`` and its index ``genome.fa.fai`` (pysam). The genome reproduces
        ``var['promoter']``: ``genome[tss-upstream : tss+downstream]`` on "+", the reverse
        complement of ``genome[tss-downstream+1 : tss+upstream+1]`` on "-".
    gtf
        Write ``genes.gtf``: GENCODE-style gene, transcript and exon records (1-based, inclusive),
        versioned gene ids (``ENSGSIM00000001.3``), ``gene_type`` and ``gene_name``.
    gct
        Write ``expression.gct`` (GTEx GCT v1.2 of ``X``: versioned ids in ``Name``, gene name in
        ``Description``; samples missing entirely are left out, other missing values are ``nan``)
        and ``sample_attributes.tsv`` (``SAMPID``, ``SMTS``, ``SMTSD``, ``SMAFRZE``).
    **simulate_kwargs
        Passed to :func:`~gex_impute.datasets.simulate` when ``adata`` is None.

    Returns
    -------
    Paths written, keyed ``h5ad``, ``fasta``, ``fai``, ``gtf``, ``gct``, ``sample_attributes``. Each
    file is written atomically (a failure leaves no partial file). For the GTEx download layout
    use :func:`write_gtex_files`.

    Examples
    --------
    >>> import tempfile
    >>> import gex_impute as gi
    >>> paths = gi.datasets.write_dataset(tempfile.mkdtemp(), n_donors=3, n_tissues=2, n_genes=20)
    >>> sorted(paths)
    ['fai', 'fasta', 'gct', 'gtf', 'h5ad', 'sample_attributes']
    """
    from .simulation import simulate

    if adata is None:
        adata = simulate(**simulate_kwargs)
    elif simulate_kwargs:
        msg = f"got adata and simulate options {sorted(simulate_kwargs)}; pass one or the other."
        raise DataError(msg)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    if fasta or gtf:
        check_var(adata, (*REQUIRED_VAR, "promoter") if fasta else REQUIRED_VAR)
    io.write_h5ad(adata, folder / "sim.h5ad", compression=None)
    paths["h5ad"] = folder / "sim.h5ad"
    if fasta:
        paths["fasta"] = write_genome_fasta(folder / "genome.fa", adata)
        paths["fai"] = folder / "genome.fa.fai"
    if gtf:
        paths["gtf"] = io.write_gtf(gene_records(adata), folder / "genes.gtf", description=_GTF_DESCRIPTION)
    if gct:
        paths["gct"] = io.write_gct(adata, folder / "expression.gct")
        paths["sample_attributes"] = io.write_sample_attributes(
            sample_attribute_table(adata), folder / "sample_attributes.tsv"
        )
    logger.info("wrote %s to %s", ", ".join(p.name for p in paths.values()), folder)
    return paths
