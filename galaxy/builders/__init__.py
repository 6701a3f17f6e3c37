"""Builders of the Galaxy tool wrappers and workflows (run ``python galaxy/build_tools.py``).

One module per tool (:mod:`.annotate`, :mod:`.fit`, :mod:`.impute`, :mod:`.complete`,
:mod:`.evaluate`), each with a ``build(gx, specs)`` returning a galaxyxml Tool; :mod:`.common`
holds the shared skeleton, inputs and test helpers; :mod:`.methods` turns the package's method
registry into method choices and hyperparameters; :mod:`.workflows` writes the Galaxy workflows,
each tool step with its full state (:mod:`.tool_state`); :mod:`.labels` gives each tool's jobs its
field labels (GEX_IMPUTE_FIELD_LABELS); :mod:`.metrics_table` the evaluate table's columns.
"""

from __future__ import annotations

from . import annotate, common, complete, evaluate, fit, impute, methods

#: tool id -> builder module
TOOLS = {
    "gex_impute_annotate": annotate,
    "gex_impute_complete": complete,
    "gex_impute_evaluate": evaluate,
    "gex_impute_fit": fit,
    "gex_impute_impute": impute,
}


def render_tools() -> dict[str, str]:
    """Return {file name: XML text} for every tool, its methods read from the registry."""
    gx = common.load_galaxyxml()
    specs = methods.registry()
    return {f"{tool_id}.xml": common.export(module.build(gx, specs)) for tool_id, module in TOOLS.items()}
