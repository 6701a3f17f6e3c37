"""The ``gex-impute`` command: argument parsing and messages over the public Python API.

Subcommands: ``simulate``, ``annotate``, ``fit``, ``impute``, ``complete``, ``evaluate``,
``demo`` (see ``gex-impute <command> --help``). Every action is one call of the public API
(:mod:`gex_impute.io`, :mod:`gex_impute.pp`, :mod:`gex_impute.tl`, :mod:`gex_impute.methods`,
:mod:`gex_impute.datasets`); this package only translates arguments and reports.

Exit status: 0 success, 1 a data or file error, 2 a usage error, 130 interrupted (SIGINT),
143 terminated (SIGTERM). Errors are one ``gex-impute: error: ...`` line on stderr; ``--debug``
adds the traceback. Outputs are checked before any computation and written atomically, so an
error or a signal leaves no output file behind.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import sys
import warnings
from collections.abc import Sequence

from ._arguments import UsageError
from ._parser import PROG, build_parser

__all__ = ["main"]

logger = logging.getLogger("gex_impute")

EXIT_DATA_ERROR = 1
EXIT_USAGE = 2
EXIT_SIGINT = 130
EXIT_SIGTERM = 143


class Terminated(BaseException):
    """Raised in the main thread on SIGTERM, so ``finally`` blocks remove temporary files."""


def _on_sigterm(signum, frame) -> None:  # noqa: ARG001 - signal handler signature
    raise Terminated


class _OneLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{PROG}: {record.levelname.lower()}: {_as_cli(record.getMessage())}"


#: the public API's argument names in error messages, as the command line spells them
_CLI_SPELLING = (
    (re.compile(r"\bpass donor_key=False\b"), "pass --no-donors"),
    (re.compile(r"\bpass sex_key=None\b"), "pass --no-sex"),
    (re.compile(r"\boverwrite=True\b"), "--overwrite"),
    (re.compile(r"\bout=(?=\S)"), "--output "),
    (
        re.compile(r"\b(donor_key|tissue_key|sex_key|key_added|layer|gene_id_key)=(\S?)"),
        lambda m: f"--{m[1].replace('_', '-')} {m[2]}",
    ),
    (re.compile(r"\banother key_added\b"), "another --key-added"),
    (re.compile(r"\blog_transform='?(auto|True|False)'?"), lambda m: f"--log-transform {m[1].lower()}"),
    (
        re.compile(r"\bpass format=('[^.;]*')"),
        lambda m: f"pass --annotation-format {m[1].replace(chr(39), '')}",
    ),
    (
        re.compile(r"\brun gex_impute\.pp\.annotate_genes\(adata, annotation\)"),
        "run 'gex-impute annotate --annotation FILE'",
    ),
    (re.compile(r" \(or register it with gi\.pp\.register_keys\)"), ""),
    (re.compile(r"\bgi\.tl\.complete\b(?!\()"), "'gex-impute complete'"),
)


def _one_line(err: BaseException) -> str:
    text = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
    return " ".join((text or type(err).__name__).split())


#: environment variable of a JSON object {CLI flag: form field label}, set by the Galaxy wrappers
#: (galaxy/builders/labels.py) so that messages also name the field a Galaxy user sees
FIELD_LABELS_ENV = "GEX_IMPUTE_FIELD_LABELS"
#: a flag, optionally after "CLI: " (messages written for both interfaces); not one already in
#: parentheses (a message labelled before), nor part of a longer word or flag
_FLAG = re.compile(r"(CLI: )?(?<![\w(-])(--[a-z][a-z0-9-]*)(?![\w-])")


def _field_labels() -> dict[str, str]:
    """{flag: field label} from :data:`FIELD_LABELS_ENV`; empty when unset or not such a JSON object."""
    try:
        labels = json.loads(os.environ.get(FIELD_LABELS_ENV) or "{}")
    except ValueError:
        return {}
    if not isinstance(labels, dict):
        return {}
    return {k: v for k, v in labels.items() if isinstance(k, str) and isinstance(v, str) and v}


def _with_labels(text: str) -> str:
    """Each flag of ``text`` that has a field label as ``'Label' (--flag)``."""
    labels = _field_labels()

    def label(match: re.Match[str]) -> str:
        flag = match[2]
        if flag not in labels:
            return match[0]
        return f"'{labels[flag]}', CLI: {flag}" if match[1] else f"'{labels[flag]}' ({flag})"

    return _FLAG.sub(label, text) if labels else text


def _as_cli(text: str) -> str:
    """``text`` with the API's argument names (``overwrite=True``, ``donor_key=``) as the CLI's flags.

    Each flag with a form field label in :data:`FIELD_LABELS_ENV` is shown with it.
    """
    for pattern, spelling in _CLI_SPELLING:
        text = pattern.sub(spelling, text)
    return _with_labels(" ".join(text.split()))


def _outputs_left(args: argparse.Namespace) -> str:
    """Say what a stopped run left: nothing, or the outputs written before the stop (each whole)."""
    done = args.__dict__.get("_written", [])
    if not done:
        return "no output was written"
    return f"written before the stop, complete: {', '.join(done)}; no other output was written"


def _partial(args: argparse.Namespace) -> str:
    done = args.__dict__.get("_written", [])
    return f" (written before the error, complete: {', '.join(done)})" if done else ""


def _user_errors() -> tuple[type[BaseException], ...]:
    from ..errors import GexImputeError

    return (GexImputeError, ValueError, KeyError, OSError, EOFError, UsageError)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``gex-impute`` with ``argv`` (``sys.argv[1:]`` when None); return the exit status.

    Examples
    --------
    >>> from gex_impute.cli import main
    >>> main(["simulate", "-o", "sim.h5ad", "--n-genes", "200"])  # doctest: +SKIP
    0
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as err:
        print(f"{PROG}: error: {_one_line(err)}", file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as exit_:  # --help / --version
        return int(exit_.code or 0)
    level = logging.DEBUG if args.debug else logging.ERROR if args.quiet else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        if args.debug
        else _OneLineFormatter()
    )
    old = (logger.level, logger.propagate)
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    previous_sigterm = None
    if hasattr(signal, "SIGTERM"):
        try:
            previous_sigterm = signal.signal(signal.SIGTERM, _on_sigterm)
        except ValueError:  # not the main thread (e.g. called from a worker): keep the default
            previous_sigterm = None
    try:
        with warnings.catch_warnings():
            if not args.debug:  # other libraries' warnings as one line each, or none with -q
                warnings.showwarning = _warning_as_log_line
            return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; {_outputs_left(args)}", file=sys.stderr)
        return EXIT_SIGINT
    except Terminated:
        print(f"{PROG}: terminated; {_outputs_left(args)}", file=sys.stderr)
        return EXIT_SIGTERM
    except _user_errors() as err:
        if args.debug:
            import traceback

            traceback.print_exc(file=sys.stderr)
        status = EXIT_USAGE if isinstance(err, UsageError) else EXIT_DATA_ERROR
        print(f"{PROG}: error: {_as_cli(_one_line(err))}{_partial(args)}", file=sys.stderr)
        return status
    except Exception as err:  # a bug: still one line unless --debug
        if args.debug:
            raise
        print(
            f"{PROG}: error: internal error ({type(err).__name__}: {_one_line(err)}); "
            "rerun with --debug for the traceback and report it.",
            file=sys.stderr,
        )
        return EXIT_DATA_ERROR
    finally:
        if previous_sigterm is not None:
            signal.signal(signal.SIGTERM, previous_sigterm)
        logger.removeHandler(handler)
        logger.setLevel(old[0])
        logger.propagate = old[1]


def _warning_as_log_line(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ARG001
    """Show a Python warning (anndata's, pandas', ...) as the CLI's one-line warning."""
    logger.warning("%s: %s", category.__name__, _one_line(message))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
