"""Argument types and small builders of the ``gex-impute`` parser: numbers in range, paths, choices."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, NoReturn

#: methods ``evaluate`` compares when none are named
DEFAULT_METHODS = ("hybrid", "distance", "knn", "knn_samples", "pca_regression", "mean")


class UsageError(Exception):
    """A malformed command line (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line (exit 2) instead of usage + message."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _number(
    cast: Callable[[str], Any],
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = cast(text)
        except ValueError:
            kind = "an integer" if cast is int else "a number"
            raise argparse.ArgumentTypeError(f"{text!r} is not {kind}") from None
        if value != value or value in (float("inf"), float("-inf")):  # NaN passes every comparison
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        too_low = low is not None and (value <= low if low_open else value < low)
        too_high = high is not None and (value >= high if high_open else value > high)
        if too_low or too_high:
            lo = "" if low is None else f"{'>' if low_open else '>='} {low}"
            hi = "" if high is None else f"{'<' if high_open else '<='} {high}"
            raise argparse.ArgumentTypeError(
                f"{text} is out of range; give a value {' and '.join(x for x in (lo, hi) if x)}"
            )
        return value

    parse.__name__ = "integer" if cast is int else "number"
    return parse


def _non_empty(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path; give a file name")
    return text


#: a number strictly between 0 and 1 (interval levels, held-out fractions)
_FRACTION = _number(float, low=0, high=1, low_open=True, high_open=True)


def _choice(
    p: argparse.ArgumentParser | argparse._ArgumentGroup,
    flag: str,
    choices: tuple[str, ...],
    help: str,  # noqa: A002 - argparse's own word
) -> None:
    """Add an option taking one of ``choices``; the first is the default (and the help says so)."""
    p.add_argument(flag, choices=choices, default=choices[0], help=f"{help} (default: %(default)s)")


def _output(p: argparse.ArgumentParser, help: str, overwrite: str = "replace an existing output") -> None:  # noqa: A002
    p.add_argument("-o", "--output", required=True, type=_non_empty, help=help)
    p.add_argument("--overwrite", action="store_true", help=overwrite)


#: :func:`gex_impute.tl.complete`'s ``sex_key``, which the help names (a test compares)
DEFAULT_SEX_KEY = "sex"


def _sex_options(p: argparse.ArgumentParser) -> None:
    """``--sex-key`` / ``--no-sex`` of ``complete``: :func:`gex_impute.tl.complete`'s ``sex_key``.

    Neither given: the CLI passes nothing (the API's default); ``--no-sex``: ``sex_key=None``.
    """
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--sex-key",
        default=None,
        metavar="COLUMN",
        help="obs column of each donor's sex (GTEx: from --subject-phenotypes). A tissue whose "
        "observed donors all have one sex gets no profile for donors of the other (no female "
        "prostate) when it bears a GTEx sex-specific tissue's name (SMTSD or SMTS), or when that "
        "many donors of one sex would come together by chance with a probability below 1e-3; "
        "donors of unknown sex get every profile; an input without the default column is completed in "
        "full. What was found: uns['completed']['sex_specific_tissues'] "
        f"(default: {DEFAULT_SEX_KEY})",
    )
    g.add_argument(
        "--no-sex",
        action="store_true",
        help="estimate every donor x tissue profile, even those a donor's sex rules out",
    )
