"""Every file format, read and write, with errors that name the file and the fix.

Expression matrices (all returned as samples x genes AnnData):

* :func:`read_expression` sniffs a path and calls the right reader; :func:`read_gct` /
  :func:`write_gct` (GTEx GCT v1.2, plain or gzip); :func:`read_tissue_table` (genes x tissues
  TSV); :func:`read_h5ad` / :func:`write_h5ad` and :func:`read_zarr` / :func:`write_zarr`.

GTEx sample tables: :func:`read_sample_attributes` / :func:`write_sample_attributes`
(SampleAttributesDS: SAMPID, SMTS, SMTSD, ...), :func:`read_subject_phenotypes` /
:func:`write_subject_phenotypes` (SubjectPhenotypesDS: SUBJID, SEX, AGE, DTHHRDY).

Genes: :func:`read_annotation` (GTF, GFF3, BED6, TSV), :func:`~gex_impute.io.write_gtf`, :func:`write_gff3`,
:func:`write_bed`, :func:`write_gene_table`; :func:`strip_version`, :func:`~gex_impute.io.normalize_chrom`.

Sequences: :func:`open_fasta` (indexed genome FASTA via pysam), :func:`read_sequences` (keyed
FASTA / TSV), :func:`write_sequences`, :func:`index_fasta`, :func:`reverse_complement`.

Unreadable or malformed files raise :class:`gex_impute.errors.InputFileError` (a
``ValueError``); missing files raise :class:`FileNotFoundError`. Writers are atomic: a failed
write leaves no partial file.
"""

from __future__ import annotations

from .annotation import read_annotation
from .annotation_writers import write_bed, write_gene_table
from .expression import read_expression, sniff_expression_format
from .fasta import index_fasta, open_fasta, read_sequences, reverse_complement, write_sequences
from .gct import read_gct, write_gct
from .gff import write_gff3, write_gtf
from .gtex_tables import (
    read_sample_attributes,
    read_subject_phenotypes,
    write_sample_attributes,
    write_subject_phenotypes,
)
from .h5ad import read_h5ad, read_zarr, write_h5ad, write_zarr
from .identifiers import normalize_chrom, strip_version
from .tables import read_tissue_table, write_table

__all__ = [
    "index_fasta",
    "normalize_chrom",
    "open_fasta",
    "read_annotation",
    "read_expression",
    "read_gct",
    "read_h5ad",
    "read_sample_attributes",
    "read_sequences",
    "read_subject_phenotypes",
    "read_tissue_table",
    "read_zarr",
    "reverse_complement",
    "sniff_expression_format",
    "strip_version",
    "write_bed",
    "write_gct",
    "write_gene_table",
    "write_gff3",
    "write_gtf",
    "write_h5ad",
    "write_sample_attributes",
    "write_sequences",
    "write_subject_phenotypes",
    "write_table",
    "write_zarr",
]
