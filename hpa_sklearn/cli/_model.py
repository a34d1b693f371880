"""Opening a model folder for ``predict``, ``evaluate``, ``explain`` and ``export``."""

from pathlib import Path

from .._constants import N_CLASSES
from .._engine.tta import TTA_MODES
from ._base import FROM_MODEL, CommandError, choice, metavar

_TTA_HELP = "test-time augmentation (default: the model's own setting)"


def add_model_option(parser):
    """``--model FOLDER``, the option of every command that uses a trained model."""
    parser.add_argument("--model", required=True, metavar="FOLDER",
                        help="model folder from 'train'")


def add_tta_option(parser, help=_TTA_HELP):
    """``--tta``: the model's own test-time augmentation unless given."""
    parser.add_argument("--tta", type=choice(TTA_MODES, none=True), default=FROM_MODEL,
                        metavar=metavar(TTA_MODES, none=True), help=help)


def classifiers_of(model):
    """The library classifiers inside ``model`` (itself, a fold ensemble's members, a tuner's)."""
    inner = getattr(model, "estimator_", None) if hasattr(model, "best_thresholds_") else None
    model = inner if inner is not None else model
    members = getattr(model, "estimators_", None)
    return list(members) if members is not None else [model]


def set_prediction(model, **params):
    """Set prediction settings (``verbose``, ``tta``, ...) of every classifier in ``model``."""
    for classifier in classifiers_of(model):
        classifier.set_params(**params)


def open_model(path, option="--model"):
    """``(model, image_size, channels, run)`` of the model folder ``path``; refuses a model that
    does not predict the 28 HPA classes or whose images are not square."""
    from .._persistence import load_model, read_run
    from ..exceptions import ModelFolderError

    folder = Path(path)
    if not folder.exists():
        raise CommandError(f"the model folder {option} {path} does not exist; train one with "
                           "'hpa-sklearn train --out FOLDER'.")
    try:
        model = load_model(folder)
    except ModelFolderError as exc:
        raise CommandError(f"{option} {path}: {exc}") from None
    first = classifiers_of(model)[0]
    if getattr(first, "n_outputs_", None) != N_CLASSES:
        raise CommandError(f"the model in {folder} predicts {getattr(first, 'n_outputs_', '?')} "
                           f"classes; the HPA data has {N_CLASSES}. Train a model on this data.")
    height, width, _ = first.image_shape_
    if height != width:
        raise CommandError(f"the model in {folder} was trained on {height}x{width} images; the "
                           "command line loads square images.")
    return model, height, tuple(first.channels_), read_run(folder) or {}


def thresholds_of(model):
    """The thresholds ``predict`` applies (a tuner's tuned ones, else the model's)."""
    if hasattr(model, "best_thresholds_"):
        return model.best_thresholds_
    return model.threshold
