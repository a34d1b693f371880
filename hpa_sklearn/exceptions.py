"""The errors hpa-sklearn raises on purpose, so that a caller (the command line above all) can tell a
problem with the user's input from a bug.

Every error raised for bad input derives from :class:`HPASklearnError` and from the built-in class
Python code already expects (``ValueError`` for a bad value or file, ``FileExistsError`` for an
output that would replace something that is not the library's), so ``except ValueError`` keeps
working. Parameter errors are scikit-learn's ``InvalidParameterError`` (also a ``ValueError``).

Examples
--------
>>> from hpa_sklearn.exceptions import InputError
>>> try:
...     raise InputError("X holds 3 NaN pixel values")
... except ValueError as exc:
...     print(type(exc).__name__, "-", exc)
InputError - X holds 3 NaN pixel values
"""

__all__ = [
    "HPASklearnError",
    "InputError",
    "ModelFolderError",
    "OutputBusyError",
    "OutputRefusedError",
    "WeightsUnavailableError",
    "WorkerLostError",
]


class HPASklearnError(Exception):
    """Base class of the errors hpa-sklearn raises about its input, files and outputs."""


class InputError(HPASklearnError, ValueError):
    """Bad input: an array, a label matrix, a CSV, an image file, a parameter of a function.

    The message says what was wrong, with which value, and what to do.
    """


class ModelFolderError(InputError):
    """A folder that is not a saved model of this library, or a damaged one (the message names
    the file and the key)."""


class OutputRefusedError(HPASklearnError, FileExistsError):
    """An output would replace or delete something the library did not write (a user's file or
    folder, an input of the same command): refused before any work."""


class OutputBusyError(OutputRefusedError):
    """Another process is writing the same output or checkpoint folder (it holds the lock); the
    message names that process."""


class WeightsUnavailableError(HPASklearnError, RuntimeError):
    """Pretrained weights that cannot be had: the download failed (no network) or the file is not
    a no-top weights file of the backbone. The message says how to train from scratch or where to
    put a local copy."""


class WorkerLostError(HPASklearnError, RuntimeError):
    """A worker process running fits ended abruptly (killed for lack of memory, or it failed to
    start); the message says how to need less memory."""
