"""Method choices and hyperparameters of the wrappers, read from the package's method registry.

Nothing here is a copy of a method's defaults: :func:`hyperparameters` turns each registered
parameter (default, type, range or choices, one-line documentation) into a Galaxy parameter, and
:func:`method_cheetah` passes each one as ``--param NAME=VALUE``. A registry change therefore
changes the generated XML, and ``build_tools.py --check`` (run by tests/test_galaxy.py) fails
until the wrappers are regenerated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .common import Gx, interval_param

#: parameters the tool sets itself (not shown in the form): -> how the command sets them
SET_BY_THE_TOOL = {
    "random_state": "the tool's random seed (--seed)",
    "progress": "off: no progress bars in a job's log",
    "device": "'auto' (a GPU when the job has one)",
    "n_jobs": "the job's cores (GALAXY_SLOTS)",
}
#: the method selected first where a tool offers several
DEFAULT_METHOD = "hybrid"


@dataclass(frozen=True)
class Hyper:
    """One hyperparameter as the wrappers show it."""

    name: str
    kind: str  # boolean | integer | float | select | text
    default: Any
    optional: bool  # an empty field leaves the registry's default (e.g. "auto", None)
    low: float | None
    high: float | None
    low_open: bool
    high_open: bool
    choices: tuple[str, ...]
    help: str


def registry() -> dict:
    """The package's method registry: name -> spec (``.description``, ``.params``, ``.cls``)."""
    from gex_impute.methods import registry as _registry

    return _registry()


def method_label(spec) -> str:
    """The select option's text: ``name: one-line description``."""
    return f"{spec.name}: {_plain(spec.description).rstrip('.')}"


def _plain(text: str) -> str:
    """RST inline literals as plain text (for labels and help attributes)."""
    return " ".join(text.replace("``", "").split())


def gives_intervals(spec) -> bool:
    """Whether the method gives prediction intervals (``--interval``): its class has ``predict_interval``."""
    return callable(getattr(spec.cls, "predict_interval", None))


def savable(specs: dict) -> list[str]:
    """Methods whose fitted model can be saved as an archive (the class has ``save``)."""
    return [name for name, spec in specs.items() if callable(getattr(spec.cls, "save", None))]


def format_number(x: float) -> str:
    """A bound or default as Galaxy shows it: integers without a decimal point."""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(float(x))


def hyperparameters(spec) -> list[Hyper]:
    """The Galaxy view of ``spec``'s parameters (those the tool does not set itself)."""
    out = []
    for param in spec.params.values():
        if param.name in SET_BY_THE_TOOL:
            continue
        forms = [dict(c) for c in param.constraints]
        types = {f["type"] for f in forms}
        intervals = [f for f in forms if f["type"] == "interval"]
        options = [v for f in forms if f["type"] == "options" for v in f["values"]]
        default = param.default
        low = high = None
        low_open = high_open = False
        choices: tuple[str, ...] = ()
        if types == {"bool"}:
            kind = "boolean"
        elif intervals:
            interval = intervals[0]
            kind = "integer" if interval["kind"] == "int" else "float"
            low, high = interval["low"], interval["high"]
            low_open = interval["closed"] in ("right", "neither")
            high_open = interval["closed"] in ("left", "neither")
        elif options and types <= {"options", "none"} and all(isinstance(v, str) for v in options):
            kind = "select"
            choices = tuple(options)
        else:
            kind = "text"  # sequences (comma-separated), free text
        is_number = isinstance(default, int | float) and not isinstance(default, bool)
        optional = kind in ("integer", "float") and not is_number
        if isinstance(default, tuple | list):
            default = ",".join(str(v) for v in default)
        doc = _plain(param.doc).rstrip(".") if param.doc else param.name.replace("_", " ").capitalize()
        empty = ""
        if optional:
            empty = f" Leave empty for the default, {param.default!r}."
        help_text = f"{doc}. {param.constraint[:1].upper()}{param.constraint[1:]}.{empty}"
        out.append(
            Hyper(
                name=param.name,
                kind=kind,
                default=default,
                optional=optional,
                low=low,
                high=high,
                low_open=low_open,
                high_open=high_open,
                choices=choices,
                help=" ".join(help_text.split()),
            )
        )
    return out


def _galaxy_param(gx: Gx, hp: Hyper):
    p = gx.p
    label = hp.name
    if hp.kind == "boolean":
        return p.BooleanParam(
            hp.name, checked=bool(hp.default), truevalue="true", falsevalue="false", label=label, help=hp.help
        )
    if hp.kind == "select":
        return p.SelectParam(
            hp.name,
            options={c: c for c in hp.choices},
            default=hp.default if hp.default in hp.choices else None,
            optional=True if hp.default not in hp.choices else None,
            label=label,
            help=hp.help,
        )
    if hp.kind in ("integer", "float"):
        cls = p.IntegerParam if hp.kind == "integer" else p.FloatParam
        bounds = {}
        if hp.low is not None and math.isfinite(hp.low):
            bounds["min"] = format_number(hp.low)
        if hp.high is not None and math.isfinite(hp.high):
            bounds["max"] = format_number(hp.high)
        param = cls(
            hp.name,
            value="" if hp.optional else format_number(hp.default),
            optional=True if hp.optional else None,
            label=label,
            help=hp.help,
            **bounds,
        )
        if hp.low_open or hp.high_open:
            attrib = {k: v for k, v in bounds.items()}
            attrib["exclude_min"] = "true" if hp.low_open else "false"
            attrib["exclude_max"] = "true" if hp.high_open else "false"
            validator = p.ValidatorParam(
                "in_range", message=f"{hp.name}: outside the allowed range", **attrib
            )
            validator.node.text = None  # galaxyxml always adds a (here meaningless) text
            param.append(validator)
        return param
    param = p.TextParam(
        hp.name, value=str(hp.default if hp.default is not None else ""), label=label, help=hp.help
    )
    param.append(
        p.ValidatorParam("regex", message="Letters, digits and . , _ + - only", text=r"^[A-Za-z0-9_.,+-]*$")
    )
    return param


def method_conditional(
    gx: Gx,
    name: str,
    methods: list[str],
    specs: dict,
    *,
    default: str = DEFAULT_METHOD,
    interval_help: str | None = None,
):
    """Conditional ``name``: select ``method``, and per method its hyperparameters in a section.

    With ``interval_help``, the methods that give prediction intervals also get ``interval``.
    """
    cond = gx.p.Conditional(name)
    cond.append(
        gx.p.SelectParam(
            "method",
            label="Method",
            options={m: method_label(specs[m]) for m in methods},
            default=default if default in methods else methods[0],
        )
    )
    for method in methods:
        when = gx.p.When(method)
        hps = hyperparameters(specs[method])
        if hps:
            section = gx.p.Section(
                "hp",
                f"Hyperparameters of {method}",
                expanded="false",
                help="The defaults are the package's; each value is passed as --param NAME=VALUE.",
            )
            for hp in hps:
                section.append(_galaxy_param(gx, hp))
            when.append(section)
        if interval_help and gives_intervals(specs[method]):
            when.append(interval_param(gx, help=interval_help))
        cond.append(when)
    return cond


def method_cheetah(prefix: str, methods: list[str], specs: dict, *, interval: bool = False) -> str:
    """Cheetah: ``--method`` and one ``--param`` per hyperparameter of the selected method.

    With ``interval``, also ``--interval`` for the methods that give prediction intervals.
    """
    lines = [f"--method '${prefix}.method'"]
    first = True
    for method in methods:
        spec = specs[method]
        hps = hyperparameters(spec)
        slots = "n_jobs" in spec.params
        with_interval = interval and gives_intervals(spec)
        if not hps and not slots and not with_interval:
            continue
        lines.append(f"{'#if' if first else '#elif'} str(${prefix}.method) == '{method}':")
        first = False
        for hp in hps:
            value = f"${prefix}.hp.{hp.name}"
            if hp.optional or hp.kind in ("select", "text"):
                lines.append(f"    #if str({value}).strip():")
                lines.append(f"        --param '{hp.name}={value}'")
                lines.append("    #end if")
            else:
                lines.append(f"    --param '{hp.name}={value}'")
        if slots:
            lines.append('    --param "n_jobs=\\${GALAXY_SLOTS:-1}"')
        if with_interval:
            lines.append(f"    #if str(${prefix}.interval).strip():")
            lines.append(f"        --interval '${prefix}.interval'")
            lines.append("    #end if")
    if not first:
        lines.append("#end if")
    return "\n".join(lines)


def methods_help(specs: dict, methods: list[str] | None = None) -> str:
    """RST bullet list of the methods and their one-line descriptions."""
    names = methods or list(specs)
    return "\n".join(f"- ``{name}``: {specs[name].description}" for name in names)


#: Galaxy datatypes of a saved model: the fit tool's output (zip), and what an upload with
#: auto-detect makes of an archive: 'npz' for one with arrays/*.npy members (the hybrid model), and
#: 'json' for one of a single member, which the upload unpacks (params.json: mean, knn, ...)
MODEL_FORMATS = ("zip", "npz", "json")
MODEL_HELP = (
    "A model archive made by the fit tool (or 'gex-impute fit'), fitted on data with the same genes and "
    "tissues. To upload one, set Type to 'zip': auto-detect makes a 'npz' dataset of a hybrid model "
    "and unpacks a one-member archive into its 'json' params.json; both are accepted here too."
)


def model_source(gx: Gx, specs: dict, *, interval_help: str | None = None):
    """Conditional ``model_source``: fit a method on the input, or apply a saved model archive.

    With ``interval_help``, an ``interval`` level where a method (or a saved model) can give one.
    """
    source = gx.p.Conditional("model_source")
    source.append(
        gx.p.SelectParam(
            "source",
            label="Model",
            options={"method": "Fit a method on this dataset", "saved": "Use a model saved by the fit tool"},
            default="method",
        )
    )
    when = gx.p.When("method")
    when.append(method_conditional(gx, "method_cond", list(specs), specs, interval_help=interval_help))
    source.append(when)
    when = gx.p.When("saved")
    when.append(
        gx.p.DataParam(
            "model",
            format=",".join(MODEL_FORMATS),
            label="Saved model (from the fit tool)",
            help=MODEL_HELP,
        )
    )
    if interval_help and _saved_intervals(specs):
        when.append(interval_param(gx, help=interval_help + " Only for models whose method gives intervals."))
    source.append(when)
    return source


def _saved_intervals(specs: dict) -> bool:
    return any(gives_intervals(specs[m]) for m in savable(specs))


def model_source_cheetah(specs: dict, *, interval: bool = False) -> tuple[str, str]:
    """Cheetah for :func:`model_source`: (the symlink of a saved model, the CLI options)."""
    link = "\n".join(
        [
            "#if str($model_source.source) == 'saved':",
            "#if $model_source.model.is_of_type('json'):",
            "## an archive of one member that the upload unpacked: a model folder holding it",
            "mkdir model && cp '$model_source.model' model/params.json &&",
            "#set $model_path = 'model'",
            "#else:",
            "ln -s '$model_source.model' model.zip &&",
            "#set $model_path = 'model.zip'",
            "#end if",
            "#end if",
        ]
    )
    method = method_cheetah("model_source.method_cond", list(specs), specs, interval=interval)
    saved = "    --model '$model_path'"
    if interval and _saved_intervals(specs):
        saved += (
            "\n    #if str($model_source.interval).strip():"
            "\n        --interval '$model_source.interval'"
            "\n    #end if"
        )
    method = method.replace("\n", "\n    ")
    options = f"#if str($model_source.source) == 'method':\n    {method}\n#else:\n{saved}\n#end if"
    return link, options
