"""What the data leave out of the hybrid, and how to add it.

At fit (:func:`skipped_parts`: parts the model trains without) and at predict
(:func:`lacking_annotation`: columns the model was fitted with that the data lack;
:func:`warn_differences`: those, and genes other than the fit's); the notes name
``gex_impute.pp.annotate_genes`` / ``gex_impute.pp.add_promoters``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from ..._data import ExpressionData
    from .model import HybridImputer

logger = logging.getLogger("gex_impute")

__all__ = ["lacking_annotation", "skipped_parts", "warn_differences"]


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


def warn_differences(model: HybridImputer, data: ExpressionData) -> None:
    """Warn when ``data`` lack annotation the model was fitted with, or hold other genes."""
    from .._base import describe_differences

    lacking = lacking_annotation(list(model.static_names_), data.var.columns)
    if lacking:
        logger.warning(
            "HybridImputer: the data lack annotation the model was fitted with (%s): those "
            "features are missing for every gene, so the estimates are less accurate than the "
            "fit's; annotate the data as they were at fit.",
            "; ".join(lacking),
        )
    diff = describe_differences(model, data)
    if diff:
        logger.warning(
            "HybridImputer: the genes differ from those it was fitted on: %s; base estimates come from "
            "the data given, so the model still applies, but accuracy on new genes is not validated.",
            diff,
        )
