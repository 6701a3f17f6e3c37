"""What the data's gene annotation leaves out of the hybrid, and how to add it.

At fit (:func:`skipped_parts`: parts the model trains without) and at predict
(:func:`lacking_annotation`: columns the model was fitted with that the data lack); the notes
name ``gex_impute.pp.annotate_genes`` / ``gex_impute.pp.add_promoters``.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["lacking_annotation", "skipped_parts"]


def skipped_parts(var: pd.DataFrame, *, neighbours: bool, cnn: bool | None) -> list[str]:
    """Say which gene-level parts the data leave out, and how to add them.

    ``neighbours``: the genomic-neighbour features were asked for; ``cnn``: whether the
    promoter CNN was trained (None: not asked for, or no gene needs it).
    """
    out = []
    if neighbours and not {"chrom", "tss"} <= set(var.columns):
        out.append(
            "no gene coordinates (var['chrom'], var['tss']): no genomic-neighbour or TSS-layout "
            "features; add them with gex_impute.pp.annotate_genes"
        )
    if cnn is False:
        why = (
            "no var['promoter']"
            if "promoter" not in var.columns
            else "fewer than 50 genes have a promoter and data"
        )
        out.append(f"promoter CNN skipped ({why}); add promoters with gex_impute.pp.add_promoters")
    return out


def lacking_annotation(static_names: list[str], columns) -> list[str]:
    """Name the ``var`` columns behind fitted gene features that ``columns`` lack, and how to add them.

    Examples
    --------
    >>> from gex_impute.methods.hybrid.missing_parts import lacking_annotation
    >>> lacking_annotation(["promoter_gc", "chrom_code"], ["chrom", "tss"])
    ["var['promoter'] (gex_impute.pp.add_promoters)"]
    """
    have = set(columns)
    needs = (
        ("promoter_gc", ("promoter",), "gex_impute.pp.add_promoters"),
        ("log10_gene_length", ("start", "end"), "gex_impute.pp.annotate_genes"),
        ("chrom_code", ("chrom", "tss"), "gex_impute.pp.annotate_genes"),
        ("log10_downstream_same_strand", ("strand",), "gex_impute.pp.annotate_genes"),
    )
    return [
        f"{', '.join(f'var[{c!r}]' for c in cols)} ({fix})"
        for name, cols, fix in needs
        if name in static_names and not set(cols) <= have
    ]
