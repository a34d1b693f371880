"""``hpa-sklearn lr-find``: the learning-rate range test, its plot and its suggestion."""

from .._io.ownership import check_output_file
from ._base import number, say
from ._data import add_data_options, input_paths
from ._training import add_training_options, check_weights_available, make_classifier

HELP = "learning-rate range test"


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "lr-find", help=HELP,
        description="Train a fresh network for a few batches while the learning rate grows "
                    "geometrically, plot the loss against the rate and suggest one "
                    "(--learning-rate).")
    add_data_options(parser)
    add_training_options(parser)
    parser.add_argument("--min-lr", type=number(float, 0, low_open=True), default=1e-7,
                        help="default: %(default)s")
    parser.add_argument("--max-lr", type=number(float, 0, low_open=True), default=1.0,
                        help="default: %(default)s")
    parser.add_argument("--n-steps", type=number(int, 2), default=100,
                        help="batches (default: 100)")
    parser.add_argument("--out", default="lr_find.png", metavar="PNG",
                        help="the plot (default: %(default)s)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace --out even if hpa-sklearn did not write it")
    parser.set_defaults(handler=run, extra_data=None, extra_labels=None, extra_image_dir=None)


def run(args):
    from .._console import device_summary
    from ._data import load

    out = check_output_file(args.out, option="--out", what="plot", overwrite=args.overwrite,
                            inputs=input_paths(args, "data"))
    classifier = make_classifier(args)
    check_weights_available(classifier, say)
    data = load(args, labels=args.labels, image_size=args.image_size, channels=args.channels,
                image_dir=args.image_dir)
    if data.target is None:
        from ._base import CommandError

        raise CommandError(f"--labels {args.labels} has no Target column: the range test needs "
                           "labels.")
    say(device_summary())
    say(f"Learning-rate range test of {classifier.backbone}: {args.n_steps} batches, rate from "
        f"{args.min_lr:g} to {args.max_lr:g}.")
    result = classifier.lr_find(data.images, data.target, min_lr=args.min_lr,
                                max_lr=args.max_lr, n_steps=args.n_steps)
    result.plot(path=out)
    say(f"Suggested learning rate: {result.suggestion:.2g} (the steepest fall of the loss); "
        f"plot written to {out}")
    return 0
