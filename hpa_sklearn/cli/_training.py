"""The training options of ``train``, ``search`` and ``lr-find``: every choice is read from the
library's tables (recipes, backbones, schedules, losses, optimizers, test-time augmentation) and
every default from the recipe, so that nothing here copies the library."""

from .._constants import CHANNELS
from .._engine.backbones import BACKBONES
from .._engine.tta import TTA_MODES
from .._engine.losses import LOSSES
from .._engine.optimizers import OPTIMIZERS
from .._engine.schedules import SCHEDULES
from ..recipes import RECIPES
from ._base import FROM_RECIPE, CommandError, choice, duration, keras_verbose, metavar, number

DEFAULT_RECIPE = "cpu"
_DEFAULT_WEIGHTS = "default"


def parse_channels(text):
    import argparse

    channels = tuple(c.strip() for c in text.split(",") if c.strip())
    unknown = [c for c in channels if c not in CHANNELS]
    if not channels or unknown or len(set(channels)) != len(channels):
        raise argparse.ArgumentTypeError(
            f"--channels must be distinct names among {','.join(CHANNELS)}; got {text!r}")
    return channels


def _parse_activation(text):
    import argparse

    import keras

    try:
        keras.activations.get(text)
    except (ValueError, TypeError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a Keras activation (relu, sigmoid, "
                                         "tanh, ...)") from None
    return text


def _parse_weights(text):
    return None if text.lower() == "none" else text


def add_training_options(parser, *, image_size=64, time_budget=False):
    group = parser.add_argument_group("model and training")
    group.add_argument("--image-size", type=number(int, 32), default=image_size,
                       help="image side in px, >= 32 (default: %(default)s)")
    group.add_argument("--input-size", type=number(int, 32), default=None,
                       help="resize the images to this side inside the network (>= 32; "
                            "default: the recipe's, else the image size)")
    group.add_argument("--channels", type=parse_channels, default=CHANNELS,
                       help="comma-separated channels (default: red,green,blue,yellow)")
    group.add_argument("--recipe", type=choice(RECIPES), default=DEFAULT_RECIPE,
                       metavar=metavar(RECIPES),
                       help="a named configuration (hpa_sklearn.recipes): "
                            + "; ".join(f"'{n}' {r.description}" for n, r in RECIPES.items())
                            + " (default: %(default)s); the options below override it")
    group.add_argument("--backbone", type=choice(BACKBONES), default=None,
                       metavar=metavar(BACKBONES), help="the network (default: the recipe's)")
    group.add_argument("--epochs", type=number(int, 1), default=None,
                       help="training epochs (default: the recipe's); with --time-budget the "
                            "most it may train")
    if time_budget:
        group.add_argument("--time-budget", type=duration, default=None, metavar="DURATION",
                           help="train for this long instead of counting epochs: 90, 90s, 10m, "
                                "2h (the whole command's training, shared by its fits; "
                                "schedules are stretched to the epochs that fit)")
    group.add_argument("--batch-size", type=number(int, 1), default=None,
                       help="default: the recipe's")
    group.add_argument("--learning-rate", type=number(float, 0, low_open=True), default=None,
                       help="default: the recipe's ('hpa-sklearn lr-find' suggests one)")
    group.add_argument("--lr-schedule", type=choice(SCHEDULES, none=True), default=FROM_RECIPE,
                       metavar=metavar(SCHEDULES, none=True),
                       help="learning-rate schedule (default: the recipe's; 'none' keeps the "
                            "rate constant, with the report's Keras 2 decay for VGG16)")
    group.add_argument("--warmup-epochs", type=number(float, 0), default=None,
                       help="warm-up of warmup_cosine, in epochs (default: 1)")
    group.add_argument("--optimizer", type=choice(OPTIMIZERS, lower=True), default=None,
                       metavar=metavar(OPTIMIZERS), help="default: the recipe's")
    group.add_argument("--activation", default=None, type=_parse_activation,
                       help="hidden-layer activation")
    group.add_argument("--dropout", type=number(float, 0, high=1), default=None,
                       help="default: the recipe's")
    group.add_argument("--loss", type=choice(LOSSES), default=None, metavar=metavar(LOSSES))
    group.add_argument("--tta", type=choice(TTA_MODES, none=True), default=FROM_RECIPE,
                       metavar=metavar(TTA_MODES, none=True),
                       help="test-time augmentation of the predictions: the mean over 4 flips "
                            "or the 8 rotations and reflections (default: the recipe's)")
    group.add_argument("--weights", type=_parse_weights, default=_DEFAULT_WEIGHTS,
                       help="'imagenet' (downloaded by Keras), 'none' (from scratch) or a no-top "
                            "weights file of the backbone (default: imagenet where the backbone "
                            "has such weights, else none)")
    group.add_argument("--augment", action="store_true",
                       help="random flips, rotations, zoom, shifts, brightness in training")
    group.add_argument("--early-stopping", action="store_true",
                       help="stop on a 10%% multilabel-stratified validation part")
    group.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    return group


def make_classifier(args, *, checkpoint_dir=None):
    """The classifier of ``--recipe``, with the options the user gave on top."""
    from ..preprocessing import ImageAugmenter
    from ..recipes import make_classifier as recipe_classifier

    given = {name: getattr(args, name) for name in (
        "backbone", "input_size", "epochs", "batch_size", "learning_rate", "optimizer",
        "activation", "dropout", "loss", "warmup_epochs")}
    params = {name: value for name, value in given.items() if value is not None}
    if args.lr_schedule is not FROM_RECIPE:
        params["lr_schedule"] = args.lr_schedule
        if args.lr_schedule is not None:
            params["decay"] = 0.0
    if args.tta is not FROM_RECIPE:
        params["tta"] = args.tta
    if args.augment:
        params["augmentation"] = ImageAugmenter(random_state=args.seed)
    if args.early_stopping:
        params["early_stopping"] = True
    classifier = recipe_classifier(
        args.recipe, channels=args.channels, at_least_one_label=True,
        checkpoint_dir=checkpoint_dir, random_state=args.seed, verbose=keras_verbose(),
        **params)
    weights = args.weights
    if weights == _DEFAULT_WEIGHTS:  # ImageNet where the backbone has such weights
        recipe_weights = RECIPES[args.recipe].params.get("weights", "imagenet")
        weights = recipe_weights if BACKBONES[classifier.backbone].pretrained else None
    classifier.set_params(weights=weights)
    try:
        BACKBONES[classifier.backbone].check_weights(classifier.weights)
    except ValueError:
        raise CommandError(f"backbone {classifier.backbone!r} has no pretrained weights; drop "
                           f"--weights {args.weights} (it trains from scratch).") from None
    return classifier


def check_weights_available(classifier, say):
    """Before any expensive step: make sure pretrained weights can be had (downloaded once and
    cached by Keras); where they cannot, train from scratch and say so."""
    from .._engine.backbones import get_backbone, pretrained_source
    from ..exceptions import WeightsUnavailableError

    if classifier.weights is None:
        return classifier
    try:
        pretrained_source(get_backbone(classifier.backbone), classifier.weights)
    except WeightsUnavailableError as exc:
        if classifier.weights != "imagenet":
            raise CommandError(f"--weights {classifier.weights}: {exc.reason}. Give a no-top "
                               "weights file of the backbone, or --weights none.") from None
        say(f"warning: the ImageNet weights of {classifier.backbone} cannot be downloaded here "
            f"({exc.reason}); training from scratch instead. --weights none does so without "
            "trying; --weights FILE uses a local copy of the no-top weights.")
        classifier.set_params(weights=None)
    return classifier
