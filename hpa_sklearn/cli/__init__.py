"""The ``hpa-sklearn`` command line: one module per command, each adding its parser and running
a library workflow. :func:`main` maps a problem with the user's input to one line on stderr and
exit status 2, an interruption to 130 (Ctrl-C) or 143 (SIGTERM), and anything else to a traceback
and a line saying it is a bug."""

import os
import sys
import warnings

from . import cache, demo, evaluate, explain, export, lr_find, predict, search, train
from ._base import CommandError, Parser

COMMANDS = (demo, train, predict, evaluate, explain, export, search, lr_find, cache)
ISSUES = "https://github.com/hpa-sklearn/hpa-sklearn/issues"


def build_parser():
    """The argument parser of ``hpa-sklearn`` (all commands)."""
    from .. import __version__

    parser = Parser(prog="hpa-sklearn",
                    description="Classify Human Protein Atlas images (28 locations, multi-label) "
                                "with scikit-learn estimators: train, tune per-class thresholds, "
                                "evaluate, submit.")
    parser.add_argument("--version", action="version", version=f"hpa-sklearn {__version__}")
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's native start-up lines (hidden by default; real "
                             "errors always show)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                     parser_class=Parser)
    for module in COMMANDS:
        module.add_parser(commands)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None):
    from ._base import in_cli_terms

    print(f"hpa-sklearn: warning: {in_cli_terms(str(message))}",
          file=sys.stderr if file is None else file)


class Terminated(KeyboardInterrupt):
    """SIGTERM outside training: stop like Ctrl-C (training handles it itself)."""

    signum = 15


def _terminate(signum, frame):
    raise Terminated


_terminate.replaceable_by_training = True


def _user_error(exc):
    """Is ``exc`` a problem with the user's input or machine (not a bug of the library)?"""
    from sklearn.utils._param_validation import InvalidParameterError

    from ..exceptions import HPASklearnError

    return isinstance(exc, (HPASklearnError, InvalidParameterError, OSError))


def main(argv=None):
    """Run ``hpa-sklearn``; returns the exit status."""
    import signal

    from .._console import quiet_native_logs
    from ._base import in_cli_terms

    warnings.showwarning = _show_warning  # one line per warning, without source lines
    args = build_parser().parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else list(argv)
    if not args.verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    previous = None
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        previous = signal.signal(signal.SIGTERM, _terminate)
    # the filter works on file descriptor 2: only for the real command, not for main([...])
    # calls from Python (a test runner, a notebook), whose stderr belongs to the caller
    try:
        with quiet_native_logs(enabled=argv is None and not args.verbose):
            try:
                return args.handler(args)
            except KeyboardInterrupt as exc:
                print("hpa-sklearn: interrupted", file=sys.stderr)
                return 128 + getattr(exc, "signum", 2)
            except Exception as exc:
                if not _user_error(exc):
                    import traceback

                    traceback.print_exc()
                    print(f"hpa-sklearn {args.command}: this is a bug in hpa-sklearn "
                          f"({type(exc).__name__}); please report it with the lines above at "
                          f"{ISSUES}", file=sys.stderr)
                    return 1
                print(f"hpa-sklearn {args.command}: error: {in_cli_terms(str(exc))}",
                      file=sys.stderr)
                return 2
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


__all__ = ["CommandError", "build_parser", "main"]
