"""What every command shares: the parser (errors as one line, "did you mean"), option types whose
choices are read from the library's tables, printing, and the error a command raises for a
problem with the user's input."""

import argparse
import re
import sys

from .._engine.registry import closest
from ..exceptions import HPASklearnError


class CommandError(HPASklearnError):
    """A problem with the user's input, worded in the command line's terms: printed as one line,
    exit status 2."""


class Unset:
    """A default that means "as the recipe / the model says" (not a string, so that argparse does
    not pass it through the option's type)."""

    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return self.text


FROM_RECIPE = Unset("the recipe's")
FROM_MODEL = Unset("the model's")


def say(message=""):
    print(message, flush=True)


def keras_verbose():
    """Keras progress: a bar per batch on a terminal, one line per epoch in a log file."""
    return 1 if sys.stdout.isatty() else 2


def plural(n, word, words=None):
    """'1 epoch', '2 epochs' (``words`` for irregular plurals)."""
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line with a pointer to ``--help`` (no usage dump),
    and which suggests the closest valid choice for a mistyped one."""

    def error(self, message):
        match = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if match:
            choices = re.findall(r"'([^']*)'", match.group(2))
            near = closest(match.group(1), choices)
            message = (f"{message.split(':')[0]}: {match.group(1)!r} is not a choice"
                       + (f"; did you mean {' or '.join(repr(n) for n in near)}?" if near
                          else f"; choose from {', '.join(choices)}."))
        self.exit(2, f"{self.prog}: error: {message}\n"
                     f"  (see '{self.prog} --help')\n")


def choice(table, *, none=False, lower=False):
    """An argparse type accepting the keys of ``table`` (read when the option is parsed, so an
    entry added to the table is a choice at once), "none" when ``none``; a mistyped value gets
    the closest names."""

    def parse(text):
        value = text.lower() if lower else text
        if none and value.lower() == "none":
            return None
        if value in table:
            return value
        names = [*table, *(["none"] if none else [])]
        near = closest(value, names)
        hint = (f"did you mean {' or '.join(repr(n) for n in near)}?" if near
                else f"choose from {', '.join(names)}.")
        raise argparse.ArgumentTypeError(f"{text!r} is not a choice; {hint}")

    parse.__name__ = "choice"
    return parse


def metavar(table, *, none=False):
    return "{" + ",".join([*table, *(["none"] if none else [])]) + "}"


def number(kind, low, *, low_open=False, high=None):
    """An argparse type: ``kind`` (int or float) >= ``low`` (> with ``low_open``), < ``high``."""

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}"
                                             f", got {text!r}") from None
        if value < low or (low_open and value == low) or (high is not None and value >= high):
            bound = f"{'>' if low_open else '>='} {low}" + ("" if high is None else f" and < {high}")
            raise argparse.ArgumentTypeError(f"must be {bound}; got {text}")
        return value

    parse.__name__ = "number"
    return parse


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hr)?\s*$", re.IGNORECASE)


def duration(text):
    """Seconds from '90', '90s', '10m', '1.5h'."""
    match = _DURATION.match(text)
    if not match or float(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(
            f"expected a duration such as 90 (seconds), 90s, 10m or 2h; got {text!r}")
    unit = (match.group(2) or "s").lower()[0]
    return float(match.group(1)) * {"s": 1, "m": 60, "h": 3600}[unit]


# Python keywords of the library's messages, in the command line's words
_FLAGS = (
    ("pass missing='skip'", "pass --skip-missing"),
    ("missing='skip'", "--skip-missing"),
    ("weights=None", "--weights none"),
    ("weights='imagenet'", "--weights imagenet"),
    ("Pass weights=", "Pass --weights "),
    ("pass labels=", "give --labels"),
    ("labels=", "--labels "),
    ("Pass image_dir=", "Give --image-dir"),
    ("image_dir=", "--image-dir "),
    ("cache_dir=", "--cache-dir "),
    ("image_size >=", "--image-size >="),
    ("image_size=", "--image-size "),
    ("input_size=", "--input-size "),
    ("rot90=False", "a recipe without right-angle rotations"),
    ("their threshold is default_threshold=", "they keep the untuned threshold "),
    (" (n_splits)", " (--cv)"),
)


def in_cli_terms(message):
    """A library message with its Python keywords replaced by the command line's flags."""
    for python, flag in _FLAGS:
        message = message.replace(python, flag)
    return message
