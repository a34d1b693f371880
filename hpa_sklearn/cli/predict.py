"""``hpa-sklearn predict``: a Kaggle submission from a model folder."""

from .._io.ownership import check_output_file
from ._base import FROM_MODEL, CommandError, keras_verbose, say
from ._data import add_data_options, data_folder, labels_file, load
from ._model import add_model_option, add_tta_option, open_model, set_prediction

HELP = "write a Kaggle submission"


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "predict", help=HELP,
        description="Predict every id of a template CSV and write a valid Kaggle submission in "
                    "the template's order.")
    add_data_options(parser, labels=None)
    add_model_option(parser)
    parser.add_argument("--ids", default="sample_submission.csv", metavar="CSV",
                        help="template CSV with the ids to predict: a path, or a name inside "
                             "--data (default: %(default)s)")
    parser.add_argument("--out", required=True, metavar="CSV", help="submission CSV to write")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace --out even if hpa-sklearn did not write it (never an input "
                             "of this command)")
    parser.add_argument("--allow-empty", action="store_true",
                        help="allow rows with no label (default: at least the top class)")
    add_tta_option(parser)
    parser.set_defaults(handler=run)


def run(args):
    from ..datasets import write_submission

    folder = data_folder(args.data)
    template = labels_file(args.ids, folder, "--ids")
    out = check_output_file(args.out, option="--out", what="submission file",
                            overwrite=args.overwrite, inputs=[template, args.model])
    model, image_size, channels, _ = open_model(args.model)
    data = load(args, labels=args.ids, image_size=image_size, channels=channels,
                image_dir=args.image_dir, labels_option="--ids")
    set_prediction(model, verbose=keras_verbose())
    if args.tta is not FROM_MODEL:
        set_prediction(model, tta=args.tta)
    proba = model.predict_proba(data.images)
    from .._decision import apply_thresholds
    from ._model import thresholds_of

    Y_pred = apply_thresholds(proba, thresholds_of(model), at_least_one_label=not args.allow_empty)
    try:
        path = write_submission(out, data.ids, Y_pred, template=template)
    except ValueError as exc:
        raise CommandError(f"{exc} (were samples skipped for missing files?)") from None
    say(f"Submission with {len(data.ids):,} rows written to {path}")
    return 0
