"""``hpa-sklearn train``: train a model on a Kaggle-layout folder, tune per-class thresholds on
out-of-fold predictions, save a model folder (:func:`hpa_sklearn.workflows.train_model`)."""

import shlex
import time
from pathlib import Path

import numpy as np

from .._io.ownership import check_output_folder
from ..exceptions import HPASklearnError
from ._base import CommandError, say
from ._data import add_data_options, input_paths, load
from ._training import add_training_options, check_weights_available, make_classifier

HELP = "train a model on a Kaggle-layout folder"


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "train", help=HELP,
        description="Train a classifier (by default the 'cpu' recipe) on a Kaggle-layout folder, "
                    "tune one threshold per class on out-of-fold predictions, and save a model "
                    "folder. Interrupted (Ctrl-C, SIGTERM, a kill), the same command continues "
                    "from the last checkpoint.")
    add_data_options(parser)
    add_training_options(parser, time_budget=True)
    group = parser.add_argument_group("thresholds and ensembles")
    group.add_argument("--tune-thresholds", action="store_true", default=True,
                       help="tune one threshold per class for macro F1 (the default)")
    group.add_argument("--no-tune-thresholds", dest="tune_thresholds", action="store_false",
                       help="keep 0.5 for every class (one fit instead of two)")
    group.add_argument("--cv", type=int, default=None, metavar="K",
                       help="tune on K-fold out-of-fold predictions (default: a 20%% hold-out)")
    group.add_argument("--ensemble", action="store_true",
                       help="keep the --cv K fold models as the model (their mean; the 2018 "
                            "winners' way) instead of training one more on all the data")
    group = parser.add_argument_group("extra training data")
    group.add_argument("--extra-data", default=None, metavar="FOLDER",
                       help="a folder of extra training images (e.g. HPAv18 JPEGs), used in every "
                            "training part and never in a validation or held-out part")
    group.add_argument("--extra-labels", default=None, metavar="CSV",
                       help="the label CSV of --extra-data (e.g. HPAv18RBGY_wodpl.csv)")
    group.add_argument("--extra-image-dir", default=None, metavar="FOLDER",
                       help="the image folder of --extra-data, if not the folder itself")
    group = parser.add_argument_group("outputs")
    group.add_argument("--out", required=True, metavar="FOLDER", help="model folder to write")
    group.add_argument("--checkpoint-dir", default=None, metavar="FOLDER",
                       help="where each fit keeps its checkpoint (a fit-<key> folder) after every "
                            "epoch (default: OUT.checkpoints beside --out); running the same "
                            "command again continues an interrupted run from it")
    group.add_argument("--keep-checkpoints", action="store_true",
                       help="keep this run's checkpoints after a successful run (a later run "
                            "with a larger --epochs then continues instead of starting over)")
    parser.set_defaults(handler=run)


def _training_data(args):
    """The labelled data with ``--extra-data`` joined behind it (no copy): images, labels, the
    train-only mask (None without extra data) and the run record."""
    from ..datasets import combine

    data = load(args, labels=args.labels, image_size=args.image_size, channels=args.channels,
                image_dir=args.image_dir)
    if data.target is None:
        raise CommandError(f"--labels {args.labels} has no Target column: training needs labels.")
    record = {"data": str(Path(args.data).resolve()), "labels": args.labels,
              "n_train": int(len(data.ids)), "training_ids": _id_digest(data.ids)}
    if args.extra_data is None:
        return data.images, data.target, None, record
    extra = load(args, labels=args.extra_labels, image_size=args.image_size,
                 channels=args.channels, image_dir=args.extra_image_dir, data=args.extra_data,
                 option="--extra-data", labels_option="--extra-labels",
                 image_option="--extra-image-dir")
    if extra.target is None:
        raise CommandError(f"--extra-labels {args.extra_labels} has no Target column: extra "
                           "training data needs labels.")
    try:
        joined = combine(data, extra)
    except ValueError as exc:
        raise CommandError(f"--extra-data cannot join the training data: {exc}") from None
    train_only = np.zeros(len(joined.ids), dtype=bool)
    train_only[len(data.ids):] = True
    record.update(extra_data=str(Path(args.extra_data).resolve()), n_extra=int(len(extra.ids)))
    say(f"Extra training data: {len(extra.ids):,} images from {args.extra_data}, added to every "
        "training part and never held out.")
    return joined.images, joined.target, train_only, record


def _id_digest(ids):
    """A compact record of the ids trained on (10 hex digits of each id's SHA-1), so that an
    evaluation on the same ids can be told."""
    import hashlib

    return "".join(hashlib.sha1(str(i).encode()).hexdigest()[:10] for i in ids)


def _resume_command(args, checkpoints):
    """The command that continues this run, with the cache and checkpoint folders spelled out."""
    from ..datasets._cache import default_cache_dir

    argv = list(args.argv)
    if args.cache_dir is None:
        argv += ["--cache-dir", str(default_cache_dir())]
    if args.checkpoint_dir is None:
        argv += ["--checkpoint-dir", str(checkpoints)]
    return "hpa-sklearn " + shlex.join(argv)


def run(args):
    from .._console import device_summary
    from .._io.locks import exclusive
    from ..workflows import remove_checkpoints, train_model

    if args.ensemble and not (args.cv and args.cv >= 2):
        raise CommandError("--ensemble keeps the models of the --cv folds: give --cv K (K >= 2).")
    if args.cv is not None and args.cv < 2:
        raise CommandError(f"--cv must be at least 2 folds; got {args.cv}.")
    if (args.extra_data is None) != (args.extra_labels is None):
        raise CommandError("--extra-data and --extra-labels go together (the HPAv18 folder and "
                           "its label CSV, e.g. HPAv18RBGY_wodpl.csv).")
    inputs = input_paths(args, "data", "extra_data")
    out = check_output_folder(args.out, kinds="model", option="--out", what="model folder",
                              inputs=inputs)
    default_checkpoints = out.with_name(out.name + ".checkpoints")
    checkpoints = Path(args.checkpoint_dir) if args.checkpoint_dir else default_checkpoints
    if checkpoints.exists() and not checkpoints.is_dir():
        raise CommandError(f"--checkpoint-dir {checkpoints} exists and is not a folder.")
    if checkpoints.resolve() == out or out in checkpoints.resolve().parents:
        raise CommandError("--checkpoint-dir must not be --out or inside it (the model folder is "
                           "replaced as a whole).")
    # the folder itself goes at the end (when empty) where this run created it, or where it is
    # OUT.checkpoints (the library's name for it, made by an earlier run of this command)
    remove_root = not checkpoints.exists() or checkpoints.resolve() == default_checkpoints
    classifier = make_classifier(args, checkpoint_dir=checkpoints)
    check_weights_available(classifier, say)
    started = time.perf_counter()
    with exclusive(out, what="model folder", advice="wait for that run to finish, or give "
                                                   "another --out"):
        X, Y, train_only, record = _training_data(args)
        run_record = {"command": "train", "recipe": args.recipe,
                      "backbone": classifier.backbone, "image_size": args.image_size,
                      "channels": list(args.channels), "epochs": classifier.epochs,
                      "seed": args.seed, **record}
        say(device_summary())
        say(f"Checkpoints after every epoch in {checkpoints} (an interrupted run continues from "
            "them when the same command runs again).")
        resume = _resume_command(args, checkpoints)
        try:
            result = train_model(
                X, Y, classifier, tune_thresholds=args.tune_thresholds,
                cv=args.cv if args.cv else 0.2, ensemble=args.ensemble, train_only=train_only,
                time_budget=args.time_budget, random_state=args.seed, out=out, run=run_record,
                say=say)
        except KeyboardInterrupt as exc:  # outside training: loading, tuning, saving
            signum = getattr(exc, "signum", 2)
            say(f"\nStopped ({'SIGTERM' if signum == 15 else 'Ctrl-C'}) before the model was "
                f"saved; what training finished is kept in {checkpoints}. Run the same command "
                f"again to finish (finished fits are restored, not trained again):\n  {resume}")
            return 128 + int(signum)
        except OSError as exc:  # e.g. a full disk while saving: the trained fits are kept
            if isinstance(exc, HPASklearnError):  # a refused or busy output: its own message
                raise
            raise CommandError(
                f"{exc} What training finished is kept in {checkpoints}; free space (or give "
                "another --out) and run the same command again to finish without training "
                f"again:\n  {resume}") from None
        if result.interrupted is not None:
            exc = result.interrupted
            saved = (f" The model reached so far is saved in {out} (it loads and predicts)."
                     if out.is_dir() else "")
            say(f"\nStopped by {result.run['interrupted_by']} ({exc}).{saved}\n"
                f"Continue with:\n  {resume}")
            return 128 + int(exc.signum)
        seconds = time.perf_counter() - started
        say(f"Model saved in {out}"
            + (f" (an ensemble of {args.cv} fold models)" if args.ensemble else "")
            + f"; {seconds:.0f} s.")
        if not args.keep_checkpoints:
            remove_checkpoints(result.checkpoints, checkpoints, created_root=remove_root)
    return 0
