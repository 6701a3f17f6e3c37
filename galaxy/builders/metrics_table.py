"""The evaluate tool's metrics table: its columns, and Galaxy's ``column_names`` metadata of it."""

from __future__ import annotations

#: the columns of the metrics table (gex_impute.tl.evaluate, no quintiles), as the help lists them;
#: with an interval level (every method gives intervals) also INTERVAL_COLUMNS after n_heldout,
#: and interval last
COLUMNS = (
    "method",
    "protocol",
    "pearson",
    "spearman",
    "mse",
    "mean_gene_r",
    "mean_sample_r",
    "mean_tissue_r",
    "n_heldout",
    "n_folds",
    "fit_seconds",
    "predict_seconds",
    "n_fallback",
    "log1p",
)
INTERVAL_COLUMNS = ("coverage", "mean_width")


def column_names(*, interval: bool) -> list[str]:
    """The metrics table's header, without or with the interval columns."""
    if not interval:
        return list(COLUMNS)
    cut = COLUMNS.index("n_heldout") + 1
    return [*COLUMNS[:cut], *INTERVAL_COLUMNS, *COLUMNS[cut:], "interval"]


def column_names_action(output, *, intervals: bool) -> None:
    """lxml: ``<actions>`` giving the table's ``column_names`` metadata (Galaxy's plain tabular
    datatype reads no header: without it, downstream tools show c1, c2, ...). Galaxy splits the
    Cheetah-filled default on commas."""
    from lxml import etree

    plain, wide = (",".join(column_names(interval=i)) for i in (False, True))
    if intervals:
        default = f"#if str($advanced.interval).strip()#{wide}#else#{plain}#end if#"
    else:
        default = plain
    actions = etree.SubElement(output.node, "actions")
    etree.SubElement(actions, "action", name="column_names", type="metadata", default=default)
