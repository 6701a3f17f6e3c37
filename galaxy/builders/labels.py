"""The form field labels of a wrapper's CLI flags, given to the job as ``GEX_IMPUTE_FIELD_LABELS``.

The CLI's messages name its flags ("pass --donor-key naming it"); a Galaxy user sees form fields
("Donor column"). Each wrapper sets the environment variable ``GEX_IMPUTE_FIELD_LABELS`` (a
``<environment_variables>`` element) to a JSON object {flag: label}, and the CLI then writes
``'Donor column' (--donor-key)`` (:func:`gex_impute.cli._with_labels`).

The map is read from the generated tool itself, so it cannot drift: a parameter's flag is its
``argument`` (else ``--`` and its name with dashes), kept when the tool's command line passes
that flag; its label is the parameter's ``label``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from .tool_state import expanded_root

#: the environment variable the CLI reads (gex_impute.cli.FIELD_LABELS_ENV; a test compares)
ENV = "GEX_IMPUTE_FIELD_LABELS"


def field_labels(xml: str, macros: Path) -> dict[str, str]:
    """{CLI flag: field label} of the tool XML text ``xml`` (first label of a flag wins)."""
    root = expanded_root(xml, macros)
    command = root.find("command").text or ""
    labels: dict[str, str] = {}
    for param in root.find("inputs").iter("param"):
        flag = param.get("argument") or "--" + (param.get("name") or "").replace("_", "-")
        label = (param.get("label") or "").strip()
        if label and flag != "--" and re.search(rf"{re.escape(flag)}(?![\w-])", command):
            labels.setdefault(flag, label)
    return labels


def environment_json(labels: dict[str, str]) -> str:
    """The variable's value; Galaxy fills it with Cheetah, so no '$' or '#' may appear."""
    text = json.dumps(dict(sorted(labels.items())), ensure_ascii=True)
    if "$" in text or "#" in text:
        raise ValueError(f"a field label holds '$' or '#', which Cheetah would read: {text}")
    return text
