"""Parameter constraints of the imputation methods, in scikit-learn's ``_parameter_constraints`` style.

Every method class declares, once, a list of allowed forms per constructor parameter::

    _parameter_constraints = {
        "k": [Interval(int, 1, 10_000), Options("auto")],
        "weights": [Options("uniform", "distance")],
        "random_state": [Interval(int, 0, 2**32 - 1), None],
    }

A value is valid when one form accepts it (``None`` in the list allows None). Each form can
describe itself in words (for messages and help texts), as a dict (for the CLI and the Galaxy
generator), and parse a command-line string.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from numbers import Integral, Real
from typing import Any, Literal

import numpy as np

from ..errors import ParameterError

__all__ = [
    "Boolean",
    "Constraint",
    "Interval",
    "NoneValue",
    "Options",
    "Pattern",
    "SequenceOf",
    "Text",
    "describe",
    "forms",
    "parse_value",
    "validate_params",
]


class Constraint:
    """One allowed form of a parameter value."""

    #: short type name, e.g. ``"int"``
    type_name: str = "object"

    def is_satisfied_by(self, value: Any) -> bool:
        """Whether ``value`` has this form."""
        raise NotImplementedError

    def describe(self) -> str:
        """Describe the form in words, e.g. ``"an int in [1, 10000]"``."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """Machine-readable form (JSON-compatible)."""
        raise NotImplementedError

    def parse(self, text: str) -> Any:
        """Read ``text`` (a command-line value) as this form; ValueError when it does not fit."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_dict()})"


def _is_int(value: Any) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool | np.bool_)


def _is_real(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool | np.bool_)


def _number(x: float | None) -> str:
    if x is None:
        return "inf"
    return f"{x:g}" if isinstance(x, float) else str(x)


class Interval(Constraint):
    """A finite number of type ``kind`` between ``low`` and ``high`` (None = unbounded).

    Parameters
    ----------
    kind
        ``int`` (integers, not booleans) or ``float`` (any real number, ints included).
    low, high
        Bounds; None for no bound.
    closed
        Which bounds are included: ``"both"``, ``"left"``, ``"right"`` or ``"neither"``.
    """

    def __init__(
        self,
        kind: type,
        low: float | None,
        high: float | None,
        *,
        closed: Literal["both", "left", "right", "neither"] = "both",
    ):
        if kind not in (int, float):
            msg = f"Interval kind must be int or float, got {kind!r}"
            raise TypeError(msg)
        self.kind, self.low, self.high, self.closed = kind, low, high, closed
        self.type_name = kind.__name__

    def is_satisfied_by(self, value: Any) -> bool:
        """Whether ``value`` is a number of this kind inside the bounds."""
        if not (_is_int(value) if self.kind is int else _is_real(value)):
            return False
        if not math.isfinite(float(value)):
            return False
        if self.low is not None:
            if value < self.low or (value == self.low and self.closed in ("right", "neither")):
                return False
        if self.high is not None:
            if value > self.high or (value == self.high and self.closed in ("left", "neither")):
                return False
        return True

    def describe(self) -> str:
        """Say ``"an int in [1, inf)"`` and the like."""
        left = "[" if self.closed in ("both", "left") and self.low is not None else "("
        right = "]" if self.closed in ("both", "right") and self.high is not None else ")"
        low = "-inf" if self.low is None else _number(self.low)
        article = "an" if self.kind is int else "a"
        return f"{article} {self.type_name} in {left}{low}, {_number(self.high)}{right}"

    def to_dict(self) -> dict[str, Any]:
        """``{"type": "interval", "kind": "int", "low": 1, "high": None, "closed": "both"}``."""
        return {
            "type": "interval",
            "kind": self.type_name,
            "low": self.low,
            "high": self.high,
            "closed": self.closed,
        }

    def parse(self, text: str) -> int | float:
        """Read an integer (``"20"``, ``"1e6"``, ``"1_000"``) or a real number."""
        text = text.strip()
        if self.kind is int:
            try:
                return int(text, 10)
            except ValueError:
                number = float(text)  # "1e6"; ValueError when not a number
                if not number.is_integer():
                    msg = f"{text!r} is not an integer"
                    raise ValueError(msg) from None
                return int(number)
        return float(text)


class Options(Constraint):
    """One of a fixed set of values (strings, compared exactly)."""

    def __init__(self, *values: Any):
        self.values = tuple(values)
        kinds = {type(v).__name__ for v in values}
        self.type_name = kinds.pop() if len(kinds) == 1 else "object"

    def is_satisfied_by(self, value: Any) -> bool:
        """Whether ``value`` is one of the options (same type, equal)."""
        return any(type(value) is type(v) and value == v for v in self.values)

    def describe(self) -> str:
        """Say ``"one of 'uniform', 'distance'"`` (or ``"'auto'"`` for one option)."""
        listed = ", ".join(repr(v) for v in self.values)
        return listed if len(self.values) == 1 else f"one of {listed}"

    def to_dict(self) -> dict[str, Any]:
        """``{"type": "options", "values": [...]}``."""
        return {"type": "options", "values": list(self.values)}

    def parse(self, text: str) -> Any:
        """Return the option spelled ``text``."""
        for v in self.values:
            if str(v) == text.strip():
                return v
        msg = f"{text!r} is not one of {self.values}"
        raise ValueError(msg)


class Boolean(Constraint):
    """True or False."""

    type_name = "bool"
    _WORDS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}

    def is_satisfied_by(self, value: Any) -> bool:
        """Whether ``value`` is a Python or numpy boolean."""
        return isinstance(value, bool | np.bool_)

    def describe(self) -> str:
        """Say ``"a bool"``."""
        return "a bool"

    def to_dict(self) -> dict[str, Any]:
        """``{"type": "bool"}``."""
        return {"type": "bool"}

    def parse(self, text: str) -> bool:
        """Read true/false, yes/no, 1/0 (any case)."""
        try:
            return self._WORDS[text.strip().lower()]
        except KeyError:
            msg = f"{text!r} is not a boolean (true/false)"
            raise ValueError(msg) from None


class NoneValue(Constraint):
    """None (written ``None`` in a constraint list)."""

    type_name = "None"

    def is_satisfied_by(self, value: Any) -> bool:
        """Whether ``value`` is None."""
        return value is None

    def describe(self) -> str:
        """Say ``"None"``."""
        return "None"

    def to_dict(self) -> dict[str, Any]:
        """``{"type": "none"}``."""
        return {"type": "none"}

    def parse(self, text: str) -> None:
        """Read ``None``, ``null`` or an empty string."""
        if text.strip().lower() in ("none", "null", ""):
            return None
        msg = f"{text!r} is not None"
        raise ValueError(msg)


class Text(Constraint):
    """Any non-empty string of at most ``max_length`` characters (``allow_empty``: also ``""``)."""

    type_name = "str"

    def __init__(self, max_length: int = 1000, *, allow_empty: bool = False):
        self.max_length = max_length
        self.allow_empty = allow_empty

    def is_satisfied_by(self, value: Any) -> bool:
        """Whether ``value`` is a string (non-empty unless allowed), short enough."""
        return isinstance(value, str) and int(not self.allow_empty) <= len(value) <= self.max_length

    def describe(self) -> str:
        """Say ``"a str"``."""
        return "a str"

    def to_dict(self) -> dict[str, Any]:
        """``{"type": "str", "max_length": ...}``."""
        return {"type": "str", "max_length": self.max_length}

    def parse(self, text: str) -> str:
        """Return ``text`` itself."""
        return text.strip()


class Pattern(Constraint):
    """A string matching the regular expression ``regex`` (whole string), e.g. ``cuda:N``."""

    type_name = "str"

    def __init__(self, regex: str, spelled: str):
        self.regex, self.spelled = regex, spelled

    def is_satisfied_by(self, value: Any) -> bool:
        """Whether ``value`` is a string matching the pattern."""
        return isinstance(value, str) and re.fullmatch(self.regex, value) is not None

    def describe(self) -> str:
        """Say how the string is spelled, e.g. ``"'cuda:N'"``."""
        return self.spelled

    def to_dict(self) -> dict[str, Any]:
        """``{"type": "pattern", "regex": ...}``."""
        return {"type": "pattern", "regex": self.regex, "spelled": self.spelled}

    def parse(self, text: str) -> str:
        """Return ``text`` when it matches."""
        if not self.is_satisfied_by(text.strip()):
            msg = f"{text!r} does not match {self.spelled}"
            raise ValueError(msg)
        return text.strip()


class SequenceOf(Constraint):
    """A tuple (or list) of ``min_length`` .. ``max_length`` items, each satisfying ``item``."""

    def __init__(self, item: Constraint, *, min_length: int = 1, max_length: int = 1000):
        self.item, self.min_length, self.max_length = item, min_length, max_length
        self.type_name = f"tuple[{item.type_name}, ...]"

    def is_satisfied_by(self, value: Any) -> bool:
        """Whether ``value`` is a tuple or list of valid items, of a valid length."""
        if not isinstance(value, tuple | list):
            return False
        return self.min_length <= len(value) <= self.max_length and all(
            self.item.is_satisfied_by(v) for v in value
        )

    def describe(self) -> str:
        """Say ``"a sequence of an int in [1, inf)"`` and the like."""
        at_least = "" if self.min_length <= 1 else f" (at least {self.min_length})"
        return f"a sequence{at_least} of {self.item.describe()}"

    def to_dict(self) -> dict[str, Any]:
        """``{"type": "sequence", "item": {...}, "min_length": ..., "max_length": ...}``."""
        return {
            "type": "sequence",
            "item": self.item.to_dict(),
            "min_length": self.min_length,
            "max_length": self.max_length,
        }

    def parse(self, text: str) -> tuple:
        """Read comma-separated items, optionally in brackets: ``"5,10,20"`` or ``"(5, 10)"``."""
        inner = text.strip().strip("()[]").strip()
        if not inner:
            return ()
        return tuple(self.item.parse(part) for part in inner.split(","))


def forms(constraints: Iterable[Constraint | None]) -> list[Constraint]:
    return [NoneValue() if c is None else c for c in constraints]


def describe(constraints: Iterable[Constraint | None]) -> str:
    """All allowed forms in words: ``"an int in [1, 10000] or 'auto'"``."""
    return " or ".join(c.describe() for c in forms(constraints))


def parse_value(constraints: Iterable[Constraint | None], text: str) -> Any:
    """Read the command-line string ``text`` as the first form that can read it and accepts it.

    Raises
    ------
    ValueError
        When no form reads ``text``.
    """
    for form in forms(constraints):
        try:
            value = form.parse(text)
        except ValueError:
            continue
        if form.is_satisfied_by(value):
            return value
    msg = f"{text!r} cannot be read as {describe(constraints)}"
    raise ValueError(msg)


def validate_params(
    owner: str, constraints: Mapping[str, list[Constraint | None]], params: Mapping[str, Any]
) -> None:
    """Check every value of ``params`` against its constraints.

    Parameters
    ----------
    owner
        Who the parameters belong to (``"KNNImputer"``), for the message.
    constraints
        Allowed forms per parameter name.
    params
        The values to check.

    Raises
    ------
    ParameterError
        Naming the first invalid parameter, its value and the valid forms; or an unknown name.
    """
    for key, value in params.items():
        if key not in constraints:
            msg = f"{owner}: unknown parameter {key!r}; valid parameters: {sorted(constraints)}."
            raise ParameterError(msg)
        allowed = forms(constraints[key])
        if not any(form.is_satisfied_by(value) for form in allowed):
            msg = f"{owner}: {key}={value!r} is not valid; {key} must be {describe(allowed)}."
            raise ParameterError(msg)
