"""The full tool state of a workflow's tool step, derived from the tool's XML (macros expanded).

Galaxy checks a tool step's stored state against the tool's parameters when a workflow is loaded
or invoked: a parameter without a value gives an "upgrade message" ("No value found for ...
Using default"), and an invocation through the API without ``allow_tool_state_corrections``
is then refused ("Workflow step has upgrade messages"). So every step gets the state that
Galaxy's workflow editor itself builds for the tool (``POST /api/workflows/build_module``):
every parameter of the active conditional cases and the sections, each at the tool's default
unless the step sets it, data inputs and connected parameters as ``ConnectedValue`` (or
``RuntimeValue`` when nothing is connected), and each conditional's ``__current_case__``.

The defaults are read from the generated XML (not typed again here), so they cannot drift from
the tools; a value or a connection naming no parameter of the tool is an error.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

CONNECTED = {"__class__": "ConnectedValue"}
RUNTIME = {"__class__": "RuntimeValue"}
_TRUE = {"true", "yes", "on", "1"}


def expanded_root(xml: str, macros: Path):
    """The root element of tool XML text with its macros and tokens expanded (Galaxy's own loader)."""
    from galaxy.util.xml_macros import load

    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(macros, Path(tmp) / macros.name)
        path = Path(tmp) / "tool.xml"
        path.write_text(xml)
        return load(str(path)).getroot()


def expanded_inputs(xml: str, macros: Path):
    """The ``<inputs>`` element of tool XML text with its macros expanded."""
    return expanded_root(xml, macros).find("inputs")


def param_name(param) -> str:
    """A ``<param>``'s name: ``name``, else ``argument`` without dashes (as Galaxy derives it)."""
    return param.get("name") or param.get("argument", "").lstrip("-").replace("-", "_")


def _number(text: str, kind: type) -> Any:
    return kind(text) if text.strip() else ""


def default_value(param) -> Any:
    """The value Galaxy's workflow editor gives a non-data parameter that the step leaves alone."""
    kind = param.get("type")
    optional = param.get("optional", "false").lower() in _TRUE
    if kind == "boolean":
        return param.get("checked", "false").lower() in _TRUE
    if kind == "integer":
        return _number(param.get("value", ""), int)
    if kind == "float":
        return _number(param.get("value", ""), float)
    if kind == "select":
        options = param.findall("option")
        chosen = [o.get("value") for o in options if o.get("selected", "false").lower() in _TRUE]
        if param.get("multiple", "false").lower() in _TRUE:
            return chosen or None
        if chosen:
            return chosen[0]
        return None if optional or not options else options[0].get("value")
    if kind == "text":
        return param.get("value", "")
    raise ValueError(f"no default known for a parameter of type {kind!r} ({param_name(param)})")


def full_state(inputs, values: dict[str, Any], connected: set[str]) -> dict[str, Any]:
    """The complete state of a tool step.

    Parameters
    ----------
    inputs
        The tool's ``<inputs>`` element, macros expanded (:func:`expanded_inputs`).
    values
        The values the step sets, nested like the tool's conditionals and sections
        (``{"advanced": {"donor_key": "donor"}}``).
    connected
        The paths (``"expression|input"``) of the parameters connected to another step.

    Returns
    -------
    dict
        ``{"__page__": 0, ...}`` with every parameter of the active cases.
    """
    unused = set(connected)
    state = _walk(inputs, values, "", connected, unused)
    if unused:
        raise ValueError(f"connections to no parameter of the tool: {sorted(unused)}")
    return {"__page__": 0, **state}


def _walk(node, values: dict[str, Any], prefix: str, connected: set[str], unused: set[str]) -> dict:
    values = dict(values)
    state: dict[str, Any] = {}
    for child in node:
        if child.tag == "param":
            name = param_name(child)
            path = prefix + name
            if path in connected:
                unused.discard(path)
                state[name] = CONNECTED
                values.pop(name, None)
            elif name in values:
                state[name] = values.pop(name)
            elif child.get("type") in ("data", "data_collection"):
                state[name] = RUNTIME
            else:
                state[name] = default_value(child)
        elif child.tag == "conditional":
            name = child.get("name")
            state[name] = _conditional(child, values.pop(name, {}), f"{prefix}{name}|", connected, unused)
        elif child.tag == "section":
            name = child.get("name")
            state[name] = _walk(child, values.pop(name, {}), f"{prefix}{name}|", connected, unused)
        elif child.tag == "repeat":
            raise ValueError(f"repeats are not supported ({prefix}{child.get('name')})")
    if values:
        raise ValueError(f"values for no parameter of the tool: {[prefix + k for k in values]}")
    return state


def _conditional(cond, values: dict[str, Any], prefix: str, connected: set[str], unused: set[str]) -> dict:
    test = cond.find("param")
    name = param_name(test)
    chosen = values.get(name, default_value(test))
    if isinstance(chosen, bool):  # a boolean test param's cases are its true/false values
        chosen = test.get("truevalue", "true") if chosen else test.get("falsevalue", "false")
    whens = cond.findall("when")
    index = next((i for i, w in enumerate(whens) if w.get("value") == str(chosen)), None)
    if index is None:
        raise ValueError(f"no case {chosen!r} in {prefix.rstrip('|')}")
    rest = {k: v for k, v in values.items() if k != name}
    inner = _walk(whens[index], rest, prefix, connected, unused)
    return {name: values.get(name, default_value(test)), "__current_case__": index, **inner}
