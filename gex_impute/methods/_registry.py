"""The registry of imputation methods: names, classes, parameters with defaults and constraints.

Each method class is registered once (:func:`register`) and declares its parameters once
(``_parameter_constraints``, defaults in the signature, documentation in the numpydoc
``Parameters`` section). :func:`method_spec` and :func:`registry` hand all of it to the CLI
and the Galaxy generator, so nothing is written twice; :func:`coerce_params` reads
command-line strings (``--param n_neighbors=20``) into checked values.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ParameterError
from ._params import Constraint, describe, forms, parse_value, validate_params

if TYPE_CHECKING:
    from ._base import BaseImputer

logger = logging.getLogger("gex_impute")

__all__ = [
    "MethodSpec",
    "ParamSpec",
    "available_methods",
    "coerce_params",
    "get_method",
    "method_spec",
    "register",
    "registry",
]

_REGISTRY: dict[str, type[BaseImputer]] = {}


def register(cls: type[BaseImputer]) -> type[BaseImputer]:
    """Class decorator: make ``cls`` available under ``cls.name``.

    Checks that every constructor parameter has constraints and that its default meets them.
    """
    if not getattr(cls, "name", None):
        msg = f"{cls.__name__} needs a class attribute `name` to be registered"
        raise TypeError(msg)
    constraints = cls._parameter_constraints
    for name, param in _signature(cls).items():
        if name not in constraints:
            msg = f"{cls.__name__}._parameter_constraints has no entry for the parameter {name!r}"
            raise TypeError(msg)
        if param.default is inspect.Parameter.empty:
            msg = f"{cls.__name__}: parameter {name!r} needs a default"
            raise TypeError(msg)
        validate_params(cls.__name__, constraints, {name: param.default})
    _REGISTRY[cls.name] = cls
    return cls


def _load_builtin_methods() -> None:
    # importing the modules runs their @register decorators; kept lazy for a fast package import
    from . import hybrid, matrix, neighbours, samples, simple  # noqa: F401


def available_methods() -> list[str]:
    """Names of the registered imputation methods.

    Examples
    --------
    >>> from gex_impute.methods import available_methods
    >>> "knn" in available_methods()
    True
    """
    _load_builtin_methods()
    return sorted(_REGISTRY)


def _method_class(name: str) -> type[BaseImputer]:
    _load_builtin_methods()
    if name not in _REGISTRY:
        msg = f"unknown method {name!r}; choose one of {sorted(_REGISTRY)}"
        raise ParameterError(msg)
    return _REGISTRY[name]


def get_method(name: str, **params: Any) -> BaseImputer:
    """Instantiate the method registered as ``name`` with ``params`` (checked).

    Examples
    --------
    >>> from gex_impute.methods import get_method
    >>> get_method("knn", n_neighbors=5)
    KNNImputer(n_neighbors=5, weights='uniform', layout='auto')
    """
    cls = _method_class(name)
    unknown = sorted(set(params) - set(_signature(cls)))
    if unknown:
        msg = f"unknown parameter(s) {unknown} for method {name!r}; valid: {sorted(_signature(cls))}"
        raise ParameterError(msg)
    return cls(**params)


def _signature(cls: type) -> dict[str, inspect.Parameter]:
    sig = inspect.signature(cls)
    return {
        p.name: p
        for p in sig.parameters.values()
        if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    }


# -- specifications -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a method: default, type, constraint and documentation."""

    name: str
    default: Any
    type: str
    constraint: str
    constraints: tuple[dict[str, Any], ...]
    doc: str
    keyword_only: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form (tuples as lists)."""
        default = list(self.default) if isinstance(self.default, tuple) else self.default
        return {
            "name": self.name,
            "default": default,
            "type": self.type,
            "constraint": self.constraint,
            "constraints": [dict(c) for c in self.constraints],
            "doc": self.doc,
            "keyword_only": self.keyword_only,
        }


@dataclass(frozen=True)
class MethodSpec:
    """A registered method: its class, a one-line description and its parameters."""

    name: str
    cls: type = field(repr=False)
    description: str
    requires_coordinates: bool
    requires_donor: bool
    params: dict[str, ParamSpec]

    @property
    def parameters(self) -> tuple[ParamSpec, ...]:
        """The parameters in signature order (the values of ``params``)."""
        return tuple(self.params.values())

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form; the class as ``"module.Class"``."""
        return {
            "name": self.name,
            "class": f"{self.cls.__module__}.{self.cls.__qualname__}",
            "description": self.description,
            "requires_coordinates": self.requires_coordinates,
            "requires_donor": self.requires_donor,
            "params": {k: p.to_dict() for k, p in self.params.items()},
        }


def _param_docs(doc: str | None) -> dict[str, str]:
    """Parameter name -> text, read from the numpydoc ``Parameters`` section of ``doc``."""
    lines = inspect.cleandoc(doc or "").splitlines()
    out: dict[str, str] = {}
    try:
        start = next(
            i
            for i, line in enumerate(lines[:-1])
            if line.strip() == "Parameters" and set(lines[i + 1].strip()) == {"-"}
        )
    except StopIteration:
        return out
    names: list[str] = []
    text: list[str] = []

    def flush() -> None:
        for n in names:
            out[n] = " ".join(text).strip()

    i = start + 2
    while i < len(lines):
        line = lines[i]
        if (
            i + 1 < len(lines)
            and line.strip()
            and set(lines[i + 1].strip()) == {"-"}
            and not line.startswith(" ")
        ):
            break  # next section
        if line and not line.startswith(" "):
            flush()
            names = [n.strip() for n in line.split(":")[0].split(",") if n.strip()]
            text = []
        elif line.strip():
            text.append(line.strip())
        i += 1
    flush()
    return out


def _type_text(forms: list[Constraint]) -> str:
    names: list[str] = []
    for form in forms:
        text = (
            form.describe()
            if form.to_dict()["type"] == "options" and form.type_name == "str"
            else form.type_name
        )
        if text not in names:
            names.append(text)
    return " | ".join(n.replace("one of ", "") for n in names)


def method_spec(name: str) -> MethodSpec:
    """Describe the method registered as ``name``: class, description and every parameter.

    Parameters
    ----------
    name
        A registered method name (see :func:`available_methods`).

    Returns
    -------
    The specification; ``spec.params[p]`` holds the default, type, constraint (text and
    machine-readable) and documentation of parameter ``p``; ``spec.to_dict()`` is JSON-ready.

    Examples
    --------
    >>> from gex_impute.methods import method_spec
    >>> spec = method_spec("knn")
    >>> spec.params["n_neighbors"].default, spec.params["n_neighbors"].constraint
    (20, 'an int in [1, 10000]')
    """
    cls = _method_class(name)
    docs = _param_docs(cls.__doc__)
    params = {}
    for pname, param in _signature(cls).items():
        allowed = forms(cls._parameter_constraints[pname])
        params[pname] = ParamSpec(
            name=pname,
            default=param.default,
            type=_type_text(allowed),
            constraint=describe(allowed),
            constraints=tuple(f.to_dict() for f in allowed),
            doc=docs.get(pname, ""),
            keyword_only=param.kind is param.KEYWORD_ONLY,
        )
    summary = inspect.cleandoc(cls.__doc__ or "").split("\n\n")[0].replace("\n", " ").strip()
    return MethodSpec(
        name=name,
        cls=cls,
        description=summary,
        requires_coordinates=bool(cls.requires_coordinates),
        requires_donor=bool(cls.requires_donor),
        params=params,
    )


def registry() -> dict[str, MethodSpec]:
    """Specifications of every registered method, by name (see :func:`~gex_impute.methods.method_spec`).

    Examples
    --------
    >>> from gex_impute.methods import registry
    >>> sorted(registry())[:3]
    ['additive', 'distance', 'hybrid']
    """
    return {name: method_spec(name) for name in available_methods()}


def coerce_params(name: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """Turn command-line strings into checked parameter values of method ``name``.

    Strings are read by the parameter's constraints (``"20"`` -> 20, ``"auto"``, ``"none"`` ->
    None, ``"true"`` -> True, ``"5,10,20"`` -> ``(5, 10, 20)``); other values are checked as
    they are.

    Parameters
    ----------
    name
        A registered method name.
    params
        Parameter name -> value (typically strings from ``--param KEY=VALUE``).

    Returns
    -------
    The values, typed and validated.

    Raises
    ------
    ParameterError
        An unknown parameter, a string that cannot be read, or a value outside its range or
        choices; the message names the parameter, the value and what is valid.

    Examples
    --------
    >>> from gex_impute.methods import coerce_params
    >>> coerce_params("distance", {"k": "20", "window": "auto"})
    {'k': 20, 'window': 'auto'}
    """
    cls = _method_class(name)
    constraints = {k: cls._parameter_constraints[k] for k in _signature(cls)}
    out: dict[str, Any] = {}
    for key, value in params.items():
        if key not in constraints:
            msg = f"{name}: unknown parameter {key!r}; valid parameters: {sorted(constraints)}."
            raise ParameterError(msg)
        if isinstance(value, str):
            try:
                value = parse_value(constraints[key], value)
            except ValueError:
                msg = f"{name}: {key}={value!r} is not valid; {key} must be {describe(constraints[key])}."
                raise ParameterError(msg) from None
        out[key] = value
    validate_params(name, constraints, out)
    cls._check_params_together({**{k: p.default for k, p in _signature(cls).items()}, **out})
    return out
