"""The methods :func:`gex_impute.tl.evaluate` compares: names, instances or factories -> fresh instances."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .._data import ExpressionData
from ..errors import ParameterError
from ..methods._base import BaseImputer, get_method
from ._methods import resolve_method

logger = logging.getLogger("gex_impute")

__all__ = ["MethodSpec", "factories", "usable"]

#: a method as evaluate() takes it: a registered name, an instance (cloned per fit) or a factory
MethodSpec = str | BaseImputer | Callable[[], BaseImputer]


def _clone(method: BaseImputer) -> BaseImputer:
    return type(method)(**method.get_params())


def factories(
    methods: Iterable[MethodSpec | tuple[str, MethodSpec]] | Mapping[str, MethodSpec] | MethodSpec,
    random_state: int | None,
    progress: bool = False,
) -> list[tuple[str, Callable[[], BaseImputer]]]:
    """Normalise ``methods`` into ``(label, factory)`` pairs; every call gives a fresh instance."""
    if isinstance(methods, str | BaseImputer) or (callable(methods) and not isinstance(methods, Iterable)):
        methods = [methods]
    items: list[Any] = list(methods.items()) if isinstance(methods, Mapping) else list(methods)
    out: list[tuple[str, Callable[[], BaseImputer]]] = []
    for item in items:
        label: str | None = None
        if isinstance(item, tuple):
            if len(item) != 2 or not isinstance(item[0], str):
                msg = f"a methods entry {item!r} must be a name, an instance or a (label, method) pair"
                raise ParameterError(msg)
            label, item = item
        if isinstance(item, str):
            name = item

            def factory(name=name):
                return resolve_method(name, random_state, progress)

            get_method(name)  # fail early on unknown names
            out.append((label or name, factory))
        elif isinstance(item, BaseImputer):
            out.append((label or item.name, functools.partial(_clone, item)))
        elif callable(item):
            out.append((label or str(getattr(item, "name", getattr(item, "__name__", "method"))), item))
        else:
            msg = f"cannot use {item!r} as a method: pass a registered name, a BaseImputer or a factory"
            raise TypeError(msg)
    labels = [lab for lab, _ in out]
    if len(set(labels)) != len(labels):
        msg = f"method labels must be unique, got {labels}; pass (label, method) pairs or a dict."
        raise ParameterError(msg)
    return out


def usable(factories, data: ExpressionData) -> list:
    """Keep the ``(label, factory)`` pairs whose method can run on ``data``; warn about the others."""
    kept = []
    for label, factory in factories:
        try:
            factory()._check_data(data)
        except ValueError as err:
            logger.warning("skipping method %r: %s", label, err)
            continue
        kept.append((label, factory))
    if not kept:
        labels = [label for label, _ in factories]
        msg = f"none of the methods {labels} can run on these data; see the warnings above."
        raise ParameterError(msg)
    return kept
