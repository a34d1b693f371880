"""The ``hpa-sklearn`` command line: demo, train, predict, evaluate, search.

Every command reads data through :func:`~hpa_sklearn.datasets.load_hpa` (cached), shows progress on
long steps and reports bad input as one line on stderr with exit status 2 (no traceback).
"""

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from .backbones import BACKBONES
from .datasets import CHANNELS, CLASS_NAMES, N_CLASSES

MODEL_FILE = "hpa_model.json"
# thresholds averaged over bootstrap resamples of the tuning rows: the same macro F1 on new data
# as the plain per-class optimum, with far fewer spurious labels (docs/benchmarks.md, "Threshold
# strategies")
THRESHOLD_BOOTSTRAP = 100
_MODEL_FORMAT = 1


class CommandError(Exception):
    """A problem with the user's input: printed as one line, exit status 2."""


def _say(message):
    print(message, flush=True)


def _keras_verbose():
    # a progress bar per batch on a terminal; one line per epoch in a log file
    return 1 if sys.stdout.isatty() else 2


def _parse_channels(text):
    channels = tuple(c.strip() for c in text.split(",") if c.strip())
    unknown = [c for c in channels if c not in CHANNELS]
    if not channels or unknown or len(set(channels)) != len(channels):
        raise argparse.ArgumentTypeError(
            f"--channels must be distinct names among {','.join(CHANNELS)}; got {text!r}"
        )
    return channels


def _number(kind, low, *, low_open=False, high=None):
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

    return parse


def _parse_activation(text):
    import keras

    try:
        keras.activations.get(text)
    except (ValueError, TypeError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a Keras activation (relu, sigmoid, "
                                         "tanh, ...)") from None
    return text


def _parse_weights(text):
    return None if text.lower() == "none" else text


def _load(args, *, labels, image_size, channels, image_dir=None, data=None):
    from .datasets import load_hpa

    try:
        return load_hpa(
            args.data if data is None else data,
            labels=labels,
            image_dir=image_dir,
            image_size=image_size,
            channels=channels,
            missing="skip" if args.skip_missing else "raise",
            n_jobs=args.n_jobs,
            cache_dir=args.cache_dir,
            verbose=1,
        )
    except FileNotFoundError as exc:
        raise CommandError(str(exc).replace("pass missing='skip'", "pass --skip-missing")) from None


# ----------------------------------------------------------------------------- model folders
_META_TYPES = {"format": int, "class_names": list, "image_size": int, "channels": list}
_META_OPTIONAL = {"training": dict, "thresholds": str, "oof_macro_f1": float, "epochs_done": int,
                  "interrupted": bool, "interrupted_by": str, "best_epoch": int,
                  "thresholds_pending": bool, "ensemble": int, "extra_training": dict,
                  "recipe": str}


def _save_model_dir(folder, classifier, meta):
    """Write the model folder in one atomic step: the classifier (or fold ensemble) and
    ``hpa_model.json``."""
    meta = {"format": _MODEL_FORMAT, "class_names": list(CLASS_NAMES), **meta}
    classifier.save(folder, extra_json={MODEL_FILE: meta})


def _check_meta(meta, meta_path):
    """Refuse an ``hpa_model.json`` with a missing, unknown or ill-typed key (naming it)."""
    def damaged(key, what):
        return CommandError(f"{meta_path}: {key}: {what}; the model folder is damaged. Train it "
                            "again or restore the folder.")

    if not isinstance(meta, dict):
        raise damaged("(top level)", "expected a JSON object")
    for key, kind in _META_TYPES.items():
        if key not in meta:
            raise damaged(key, "missing")
    for key, value in meta.items():
        kind = _META_TYPES.get(key) or _META_OPTIONAL.get(key)
        if kind is None:
            raise damaged(key, "unknown key")
        ok = isinstance(value, (int, float) if kind is float else kind) and not (
            isinstance(value, bool) and kind is not bool)
        if not ok:
            raise damaged(key, f"{value!r} is not of type {kind.__name__}")
    if meta["format"] != _MODEL_FORMAT:
        raise damaged("format", f"{meta['format']} is not {_MODEL_FORMAT}")
    if meta["image_size"] < 32:
        raise damaged("image_size", f"{meta['image_size']} is below 32")
    channels = meta["channels"]
    if not channels or any(c not in CHANNELS for c in channels) or len(set(channels)) != len(
            channels):
        raise damaged("channels", f"{channels!r} are not distinct names among {CHANNELS}")


def _load_model_dir(folder, *, channels=None, image_size=None):
    """Load a model folder; refuse one that is not ours, is damaged, or does not match the data."""
    from .classifier import HPAClassifier
    from .ensemble import ENSEMBLE_FILE, HPAFoldEnsemble

    folder = Path(folder)
    meta_path = folder / MODEL_FILE
    if not meta_path.is_file():
        raise CommandError(
            f"{folder} is not a model folder of hpa-sklearn (no {MODEL_FILE}); create one with "
            "'hpa-sklearn train --out DIR'."
        )
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CommandError(f"{meta_path} is damaged: {exc}") from None
    _check_meta(meta, meta_path)
    try:
        if (folder / ENSEMBLE_FILE).is_file():
            classifier = HPAFoldEnsemble.load(folder)
        else:
            classifier = HPAClassifier.load(folder)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    model_channels = tuple(meta["channels"])
    if classifier.n_outputs_ != N_CLASSES or len(meta["class_names"]) != N_CLASSES:
        raise CommandError(
            f"the model in {folder} predicts {classifier.n_outputs_} classes; the HPA data has "
            f"{N_CLASSES}. Train a model on this data."
        )
    if tuple(classifier.channels_) != model_channels:
        raise CommandError(f"{meta_path}: channels {list(model_channels)} differ from the "
                           f"network's {list(classifier.channels_)}; the folder is damaged.")
    if channels is not None and tuple(channels) != model_channels:
        raise CommandError(
            f"the model in {folder} was trained on channels {','.join(model_channels)}, not "
            f"{','.join(channels)}; drop --channels or train a model for these channels."
        )
    if image_size is not None and image_size != meta["image_size"]:
        raise CommandError(
            f"the model in {folder} was trained on {meta['image_size']} px images, not "
            f"{image_size} px; drop --image-size or train a model for this size."
        )
    return classifier, meta


def _check_output(path, *, folder, what):
    """Fail before any expensive step when the output cannot be written (or would destroy
    something that is not ours)."""
    from ._atomic import check_writable

    path = Path(path)
    if folder:
        if path.exists() and not path.is_dir():
            raise CommandError(f"the {what} {path} exists and is not a folder; choose another "
                               "--out.")
        parent = path.parent
    else:
        if path.is_dir():
            raise CommandError(f"the {what} {path} is a folder; --out names the file to write.")
        parent = path.parent
    try:
        check_writable(parent, what=f"folder of the {what}")
    except PermissionError as exc:
        raise CommandError(str(exc)) from None


def _check_model_out(folder):
    from .classifier import HPAVGG16Classifier  # noqa: F401  (the folder rule lives there)

    folder = Path(folder)
    _check_output(folder, folder=True, what="model folder")
    if folder.is_dir() and any(folder.iterdir()) and not (folder / MODEL_FILE).is_file():
        raise CommandError(
            f"{folder} exists and is not a model folder of hpa-sklearn (it holds "
            f"{', '.join(sorted(p.name for p in folder.iterdir())[:4])}); it would be replaced "
            "whole. Choose a new or empty --out."
        )


# ----------------------------------------------------------------------------- training
def _make_classifier(args, *, checkpoint_dir=None):
    """The classifier of ``--recipe``, with the options the user gave on top."""
    from .preprocessing import ImageAugmenter
    from .recipes import make_classifier

    given = {name: getattr(args, name) for name in (
        "backbone", "input_size", "epochs", "batch_size", "learning_rate", "optimizer",
        "activation", "dropout", "loss", "warmup_epochs")}
    params = {name: value for name, value in given.items() if value is not None}
    if args.lr_schedule is not None:
        params["lr_schedule"] = None if args.lr_schedule == "none" else args.lr_schedule
        params["decay"] = 5e-5 if args.lr_schedule == "none" else 0.0
    if args.tta is not None:
        params["tta"] = None if args.tta == "none" else args.tta
    if args.augment:
        params["augmentation"] = ImageAugmenter(random_state=args.seed)
    if args.early_stopping:
        params["early_stopping"] = True
    classifier = make_classifier(
        args.recipe, channels=args.channels, at_least_one_label=True,
        checkpoint_dir=checkpoint_dir, random_state=args.seed, verbose=_keras_verbose(),
        **params,
    )
    weights = args.weights
    if weights == _DEFAULT_WEIGHTS:  # ImageNet where the backbone has such weights
        weights = "imagenet" if BACKBONES[classifier.backbone].pretrained else None
    return classifier.set_params(weights=weights)


def _resume_command(args, checkpoints):
    """The command that continues this run: the same command line, with the cache and
    checkpoint folders spelled out (so that it finds them whatever the environment says)."""
    import shlex

    from .datasets._cache import default_cache_dir

    argv = list(args.argv)
    if args.cache_dir is None:
        argv += ["--cache-dir", str(default_cache_dir())]
    if args.checkpoint_dir is None:
        argv += ["--checkpoint-dir", str(checkpoints)]
    return "hpa-sklearn " + shlex.join(argv)


def _tuning_split(args, train_only):
    """The folds threshold tuning (and an ensemble) trains on: ``--cv K`` multilabel-stratified
    folds or a 20 % hold-out, over the labelled data only when extra data trains alongside."""
    from .model_selection import (ExtraTrainingSplit, MultilabelStratifiedKFold,
                                  MultilabelStratifiedShuffleSplit)

    if args.cv:
        cv = MultilabelStratifiedKFold(args.cv, random_state=args.seed)
        where = f"{args.cv}-fold out-of-fold"
    else:
        cv = MultilabelStratifiedShuffleSplit(1, test_size=0.2, random_state=args.seed)
        where = "20% held-out"
    if train_only is not None:
        cv = ExtraTrainingSplit(cv, train_only)
    return cv, where


def _training_data(args):
    """The labelled data, with ``--extra-data`` joined behind it (no copy): returns the images,
    labels, the train-only mask (None without extra data) and what to record of it."""
    from .datasets import combine

    data = _load(args, labels=args.labels, image_size=args.image_size, channels=args.channels,
                 image_dir=args.image_dir)
    if data.target is None:
        raise CommandError(f"{args.labels} has no Target column: training needs labels.")
    record = {"training": {"data": str(args.data), "labels": str(args.labels),
                           "n_samples": int(len(data.ids))}}
    if args.extra_data is None:
        return data.images, data.target, None, record
    folder = Path(args.extra_data)
    extra = _load(args, labels=args.extra_labels, image_size=args.image_size,
                  channels=args.channels, image_dir=args.extra_image_dir, data=folder)
    if extra.target is None:
        raise CommandError(f"{args.extra_labels} has no Target column: extra training data "
                           "needs labels.")
    try:
        joined = combine(data, extra)
    except ValueError as exc:
        raise CommandError(f"--extra-data cannot join the training data: {exc}") from None
    train_only = np.zeros(len(joined.ids), dtype=bool)
    train_only[len(data.ids):] = True
    record["extra_training"] = {"data": str(folder), "labels": str(args.extra_labels),
                                "n_samples": int(len(extra.ids))}
    _say(f"Extra training data: {len(extra.ids)} images from {folder}, added to every training "
         "part and never held out.")
    return joined.images, joined.target, train_only, record


def _cmd_train(args):
    from ._training import TrainingInterrupted
    from .ensemble import HPAFoldEnsemble
    from .thresholds import MultilabelThresholdTuner

    if args.resume is not None:
        raise CommandError(
            "--resume is no longer needed: run the same 'hpa-sklearn train' command again and it "
            "continues from its checkpoints (--checkpoint-dir) up to --epochs in total."
        )
    if args.ensemble and not (args.cv and args.cv >= 2):
        raise CommandError("--ensemble keeps the models of the --cv folds: give --cv K (K >= 2).")
    if (args.extra_data is None) != (args.extra_labels is None):
        raise CommandError("--extra-data and --extra-labels go together (the HPAv18 folder and "
                           "its label CSV, e.g. HPAv18RBGY_wodpl.csv).")
    folder = Path(args.out)
    checkpoints = Path(args.checkpoint_dir or folder.with_name(folder.name + ".checkpoints"))
    _check_model_out(folder)
    _check_output(checkpoints, folder=True, what="checkpoint folder")
    classifier = _make_classifier(args, checkpoint_dir=checkpoints)
    X, Y, train_only, record = _training_data(args)
    fit_params = {} if train_only is None else {"train_only": train_only}
    meta = {"image_size": args.image_size, "channels": list(args.channels), **record,
            "recipe": args.recipe, "thresholds": "0.5"}
    from ._console import device_summary

    _say(device_summary())
    _say(f"Checkpoints after every epoch in {checkpoints} (an interrupted run continues from "
         "them when the same command runs again).")
    resume = _resume_command(args, checkpoints)
    model = classifier

    def save(meta):
        try:
            _save_model_dir(folder, model, meta)
        except OSError as exc:
            raise CommandError(
                f"{exc} The trained network is kept in {checkpoints}: run the same command with "
                f"another --out and --checkpoint-dir {checkpoints} to save it without training "
                "again."
            ) from None

    def stopped(exc, what):
        meta.update(interrupted=True, interrupted_by=signal_name(exc.signum),
                    epochs_done=len(classifier.history_.get("loss", []))
                    if classifier.__sklearn_is_fitted__() else 0)
        saved = ""
        if model.__sklearn_is_fitted__():
            save(meta)
            saved = f" The model reached so far is saved in {folder} (it loads and predicts)."
        _say(f"\nStopped by {signal_name(exc.signum)} {what} ({exc}).{saved}\n"
             f"Continue with:\n  {resume}")
        return 128 + int(exc.signum)

    name = getattr(classifier, "backbone", "vgg16")
    if not args.ensemble:
        epochs = classifier.epochs
        _say(f"Training {name} on {len(Y):,} images for {epochs} epoch{'s' * (epochs != 1)}.")
        try:
            classifier.fit(X, Y, **fit_params)
        except TrainingInterrupted as exc:
            return stopped(exc, "during training")
        meta.update(interrupted=False, epochs_done=len(classifier.history_["loss"]))
    if args.tune_thresholds or args.ensemble:
        cv, where = _tuning_split(args, train_only)
        if not args.ensemble:
            meta["thresholds_pending"] = True
            save(meta)  # the model is usable while the thresholds are tuned
            _say(f"Model saved in {folder} (threshold 0.5).")
        _say(f"Training the {where} fold models of {name} "
             + ("(kept as the ensemble) " if args.ensemble else "")
             + "and tuning per-class thresholds on their predictions.")
        tuner = MultilabelThresholdTuner(classifier, cv=cv, refit=False, at_least_one_label=True,
                                         n_bootstrap=THRESHOLD_BOOTSTRAP,
                                         random_state=args.seed, verbose=10)
        try:
            tuner.fit(X, Y, **fit_params)
        except TrainingInterrupted as exc:
            return stopped(exc, "while training the fold models")
        meta.update(thresholds=f"tuned ({where})", oof_macro_f1=float(tuner.best_score_),
                    thresholds_pending=False)
        if args.ensemble:
            model = HPAFoldEnsemble(tuner.estimator_.estimators_,
                                    threshold=tuner.best_thresholds_, at_least_one_label=True)
            meta.update(ensemble=len(model.estimators), interrupted=False,
                        epochs_done=len(model.history_.get("loss", [])))
        else:
            classifier.set_params(threshold=tuner.best_thresholds_)
        _say(f"Out-of-fold macro F1 with tuned thresholds: {tuner.best_score_:.4f}")
    save(meta)
    _say(f"Model saved in {folder}"
         + (f" (an ensemble of {args.cv} fold models)" if args.ensemble else ""))
    if not args.keep_checkpoints:
        import shutil

        shutil.rmtree(checkpoints, ignore_errors=True)
    return 0


def signal_name(signum):
    import signal

    return signal.Signals(signum).name


# ----------------------------------------------------------------------------- predict / evaluate
def _cmd_predict(args):
    from .datasets import write_submission
    from .datasets._kaggle import resolve_csv

    _check_output(args.out, folder=False, what="submission file")
    classifier, meta = _load_model_dir(args.model, channels=args.channels,
                                       image_size=args.image_size)
    data = _load(args, labels=args.ids, image_size=meta["image_size"],
                 channels=tuple(meta["channels"]), image_dir=args.image_dir)
    classifier.set_params(verbose=_keras_verbose(), at_least_one_label=not args.allow_empty)
    if args.tta is not None:
        classifier.set_params(tta=None if args.tta == "none" else args.tta)
    Y_pred = classifier.predict(data.images)
    try:
        path = write_submission(args.out, data.ids, Y_pred,
                                template=resolve_csv(args.data, args.ids))
    except ValueError as exc:
        raise CommandError(f"{exc} (were samples skipped for missing files?)") from None
    _say(f"Submission with {len(data.ids)} rows written to {path}")
    return 0


def _cmd_evaluate(args):
    from .report import write_report

    _check_output(args.out, folder=True, what="report folder")
    classifier, meta = _load_model_dir(args.model, channels=args.channels,
                                       image_size=args.image_size)
    data = _load(args, labels=args.labels, image_size=meta["image_size"],
                 channels=tuple(meta["channels"]), image_dir=args.image_dir)
    if data.target is None:
        raise CommandError(f"{args.labels} has no Target column: evaluation needs labels.")
    classifier.set_params(verbose=_keras_verbose())
    if args.tta is not None:
        classifier.set_params(tta=None if args.tta == "none" else args.tta)
    proba = classifier.predict_proba(data.images)
    report = write_report(args.out, data.target, proba, classifier.threshold,
                          images=data.images, channels=meta["channels"], ids=data.ids,
                          history=classifier.history_, n_boot=args.n_boot,
                          random_state=args.seed, title=f"Evaluation of {args.model}")
    _print_summary(report)
    _say(f"Report written to {Path(args.out) / 'index.html'}")
    return 0


def _print_summary(report):
    s = report["summary"]
    _say(f"\n{'':24}{'threshold 0.5':>24}{'tuned thresholds':>24}")
    for key, label in (("macro_f1", "macro F1"), ("micro_f1", "micro F1")):
        _say(f"{label:24}{s['0.5'][key]:>24.4f}{s['tuned'][key]:>24.4f}")
    ci = {k: "[{:.3f}, {:.3f}]".format(*s[k]["macro_f1_ci95"]) for k in ("0.5", "tuned")}
    _say(f"{'macro F1 95% CI':24}{ci['0.5']:>24}{ci['tuned']:>24}")
    _say(f"{'BCE loss':24}{s['bce_loss']:>24.4f}")


# ----------------------------------------------------------------------------- search
def _plot_search(results, params, path):
    import matplotlib

    from ._atomic import save_figure

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(params), figsize=(3.2 * len(params), 3.2), sharey=True)
    axes = np.atleast_1d(axes)
    scores = results["mean_test_score"].to_numpy(dtype=float)
    for ax, name in zip(axes, params):
        values = results[f"param_{name}"].astype(str)
        levels = sorted(values.unique(), key=lambda v: (len(v), v))
        x = np.array([levels.index(v) for v in values])
        jitter = np.random.default_rng(0).uniform(-0.15, 0.15, len(x))
        ax.scatter(x + jitter, scores, s=12, alpha=0.6, color="#264653")
        ax.set_xticks(range(len(levels)), levels, rotation=45, fontsize=7)
        ax.set_title(name.split("__")[-1], fontsize=9)
    axes[0].set_ylabel("mean CV macro F1")
    fig.suptitle("Search over the report's tuning table (each dot a candidate)", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def _cmd_search(args):
    from sklearn.model_selection import GridSearchCV, RandomizedSearchCV

    from .metrics import macro_f1_scorer
    from .model_selection import MultilabelStratifiedKFold, make_report_search, report_param_grid

    fits_per_worker = args.fits_per_worker
    if fits_per_worker < 0:
        raise CommandError(f"--fits-per-worker must be >= 0 (0: every fit in this process); "
                           f"got {fits_per_worker}.")
    if fits_per_worker and sys.version_info < (3, 11):
        warnings.warn("fits in worker processes need Python >= 3.11; every fit runs in this "
                      "process, whose memory grows with each fit (--fits-per-worker 0).")
        fits_per_worker = 0
    data = _load(args, labels=args.labels, image_size=args.image_size, channels=args.channels,
                 image_dir=args.image_dir)
    if data.target is None:
        raise CommandError(f"{args.labels} has no Target column: a search needs labels.")
    classifier = _make_classifier(args)
    classifier.set_params(verbose=0)
    grid = report_param_grid(step=None)
    cv = MultilabelStratifiedKFold(args.cv, random_state=args.seed)
    if args.halving:
        search = make_report_search(classifier, step=None, resource="epochs",
                                    max_resources=classifier.epochs,
                                    n_candidates=args.n_candidates,
                                    cv=cv, random_state=args.seed, n_jobs=args.search_jobs,
                                    verbose=2)
    elif args.n_candidates:
        search = RandomizedSearchCV(classifier, grid, n_iter=args.n_candidates,
                                    scoring=macro_f1_scorer, cv=cv, random_state=args.seed,
                                    n_jobs=args.search_jobs, verbose=2, refit=False)
    else:
        search = GridSearchCV(classifier, grid, scoring=macro_f1_scorer, cv=cv,
                              n_jobs=args.search_jobs, verbose=2, refit=False)
    if hasattr(search, "refit"):
        search.set_params(refit=False)
    start = time.perf_counter()
    if fits_per_worker:
        # each Keras fit leaks memory that only the end of its process returns: run the fits in
        # worker processes replaced every few fits (the images travel as the cache's file name)
        from .parallel import isolated_fits

        n_workers = args.search_jobs or 1
        _say(f"Fits run in {'one worker process' if n_workers == 1 else 'worker processes'}, "
             f"each replaced after {fits_per_worker} fits (--fits-per-worker; 0 runs them all "
             "in this process).")
        with isolated_fits(max_fits_per_worker=fits_per_worker, n_workers=n_workers):
            search.fit(data.images, data.target)
    else:
        search.fit(data.images, data.target)
    import pandas as pd

    results = pd.DataFrame(search.cv_results_)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from ._atomic import atomic_path

    with atomic_path(out / "cv_results.csv") as tmp:
        results.to_csv(tmp, index=False)
    _plot_search(results, list(grid), out / "search.png")
    best = results.loc[results["rank_test_score"].idxmin()]
    _say(f"\nSearch of {len(results)} fits' candidates took {time.perf_counter() - start:.0f} s.")
    _say("Best candidate (mean CV macro F1 {:.4f}): {}".format(
        best["mean_test_score"], {k: best[f"param_{k}"] for k in grid}))
    _say(f"cv_results_ written to {out / 'cv_results.csv'}, plot to {out / 'search.png'}")
    return 0


# ----------------------------------------------------------------------------- lr-find
def _cmd_lr_find(args):
    out = Path(args.out)
    _check_output(out, folder=False, what="plot")
    X, Y, _, _ = _training_data(args)
    classifier = _make_classifier(args)
    from ._console import device_summary

    _say(device_summary())
    _say(f"Learning-rate range test of {getattr(classifier, 'backbone', 'vgg16')}: "
         f"{args.n_steps} batches, rate from {args.min_lr:g} to {args.max_lr:g}.")
    result = classifier.lr_find(X, Y, min_lr=args.min_lr, max_lr=args.max_lr,
                                n_steps=args.n_steps)
    result.plot(path=out)
    _say(f"Suggested learning rate: {result.suggestion:.2g} (the steepest fall of the loss); "
         f"plot written to {out}")
    return 0


# ----------------------------------------------------------------------------- demo
def _cmd_demo(args):
    from .classifier import HPAVGG16Classifier
    from .datasets import load_hpa, make_hpa_like, write_kaggle_layout, write_submission
    from .model_selection import REPORT_SPLIT, multilabel_train_test_split
    from .preprocessing import ImageAugmenter
    from .report import write_report
    from .thresholds import MultilabelThresholdTuner

    out = Path(args.out)
    started = time.perf_counter()
    _say(f"[1/6] Generating {args.n_samples} HPA-like samples ({args.image_size} px, 4 channels) "
         f"and writing them in the Kaggle layout to {out / 'data'}")
    synthetic = make_hpa_like(args.n_samples, args.image_size, random_state=args.seed)
    write_kaggle_layout(out / "data", synthetic.images, synthetic.ids, synthetic.target, verbose=1)
    _say("[2/6] Loading them back through the cached loader")
    data = load_hpa(out / "data", image_size=args.image_size, cache_dir=out / "cache",
                    n_jobs=args.n_jobs, verbose=1)
    _say(f"      {data.DESCR}")
    rows = np.arange(len(data.ids))
    train, val, test = multilabel_train_test_split(rows, data.target, **REPORT_SPLIT,
                                                   random_state=args.seed)[:3]
    _say(f"[3/6] Split 64/16/20 (multilabel-stratified): {len(train)} train, {len(val)} "
         f"validation, {len(test)} test. Training VGG16 ({args.epochs} epochs, from scratch)")
    X, Y = data.images, data.target
    from ._console import device_summary

    _say(f"      {device_summary()}")
    classifier = HPAVGG16Classifier(
        weights=None, epochs=args.epochs, batch_size=args.batch_size,
        learning_rate=args.learning_rate, augmentation=ImageAugmenter(random_state=args.seed),
        random_state=args.seed, verbose=_keras_verbose(),
    )
    classifier.fit(X[train], Y[train])
    _say("[4/6] Tuning per-class thresholds on the validation part")
    tuner = MultilabelThresholdTuner(classifier, cv="prefit", refit=False,
                                     n_bootstrap=THRESHOLD_BOOTSTRAP,
                                     random_state=args.seed).fit(X[val], Y[val])
    classifier.set_params(threshold=tuner.best_thresholds_, verbose=0)
    _say("[5/6] Evaluating on the test part and writing the report")
    proba = classifier.predict_proba(X[test])
    report = write_report(out / "report", Y[test], proba, tuner.best_thresholds_,
                          images=X[test], ids=data.ids[test], history=classifier.history_,
                          train_target=Y[train], random_state=args.seed,
                          title="hpa-sklearn demo: VGG16 on HPA-like synthetic data")
    _save_model_dir(out / "model", classifier, {
        "image_size": args.image_size, "channels": list(CHANNELS),
        "training": {"data": str(out / "data"), "labels": "train.csv", "n_samples": len(train)},
        "thresholds": "tuned (validation part)", "epochs_done": len(classifier.history_["loss"]),
        "interrupted": False,
    })
    _say("[6/6] Writing a submission-style CSV of the test part")
    submission = write_submission(out / "submission.csv", data.ids[test],
                                  classifier.predict(X[test]))
    _print_summary(report)
    _say(f"\nDone in {time.perf_counter() - started:.0f} s.")
    _say(f"  report:     {out / 'report' / 'index.html'}")
    _say(f"  model:      {out / 'model'}")
    _say(f"  submission: {submission}")
    _say(f"  data:       {out / 'data'} (Kaggle layout; try 'hpa-sklearn train --data "
         f"{out / 'data'} ...')")
    return 0


# ----------------------------------------------------------------------------- cache
def _cmd_cache(args):
    from .datasets import cache_entries, clear_cache
    from .datasets._cache import default_cache_dir, human_size

    folder = Path(args.cache_dir) if args.cache_dir is not None else default_cache_dir()
    if folder.exists() and not folder.is_dir():
        raise CommandError(f"the cache folder {folder} is not a folder (--cache-dir).")
    if not folder.exists():
        if args.cache_dir is not None:
            raise CommandError(f"the cache folder {folder} does not exist (--cache-dir).")
        _say(f"No image cache at {folder}: nothing has been cached there yet.")
        return 0
    if args.action == "clear":
        removed = clear_cache(folder, stale_only=args.stale)
        kind = "stale " if args.stale else ""
        _say(f"Removed {len(removed)} {kind}cache entr{'y' if len(removed) == 1 else 'ies'} "
             f"({human_size(removed['bytes'].sum())}) from {folder}.")
        return 0
    table = cache_entries(folder)
    shown = table[table["stale"]] if args.stale else table
    if len(shown):
        rows = [("KEY", "SIZE", "SHAPE", "CREATED", "STATE", "SOURCE")]
        for entry in shown.itertuples():
            created = ("?" if entry.created is None or entry.created != entry.created
                       else entry.created.tz_convert(None).strftime("%Y-%m-%d %H:%M UTC"))
            shape = "?" if entry.shape is None else "x".join(str(s) for s in entry.shape)
            rows.append((entry.key[:12], human_size(entry.bytes), shape, created, entry.state,
                         entry.source or "?"))
        widths = [max(len(row[i]) for row in rows) for i in range(5)]
        for row in rows:
            _say("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[5])
    stale = table[table["stale"]]
    _say(f"{len(table)} entr{'y' if len(table) == 1 else 'ies'}, "
         f"{human_size(table['bytes'].sum())} in {folder}; {len(stale)} stale "
         f"({human_size(stale['bytes'].sum())})"
         + (": 'hpa-sklearn cache clear --stale' removes them." if len(stale) else "."))
    return 0


# ----------------------------------------------------------------------------- parser
BACKBONE_NAMES = tuple(BACKBONES)
_DEFAULT_WEIGHTS = "default"


def _add_data_args(parser, *, labels=True):
    parser.add_argument("--data", required=True, help="the data folder (Kaggle layout)")
    if labels:
        parser.add_argument("--labels", default="train.csv",
                            help="label CSV, in --data or a path (default: %(default)s)")
    parser.add_argument("--image-dir", default=None,
                        help="image folder, if not train/ (labels) or test/ (template) in --data")
    parser.add_argument("--skip-missing", action="store_true",
                        help="drop samples with missing channel files (with a warning) instead "
                             "of stopping")
    parser.add_argument("--n-jobs", type=int, default=-1,
                        help="decoding processes (default: all cores)")
    parser.add_argument("--cache-dir", default=None,
                        help="decoded-image cache (default: $HPA_SKLEARN_CACHE or "
                             "~/.cache/hpa_sklearn)")


def _add_training_args(parser):
    parser.add_argument("--image-size", type=_number(int, 32), default=64,
                        help="image side in px, >= 32 (default: %(default)s)")
    parser.add_argument("--input-size", type=_number(int, 32), default=None,
                        help="resize the images to this side inside the network (>= 32; "
                             "default: the image size); e.g. load at 512 px, train at 128")
    parser.add_argument("--channels", type=_parse_channels, default=CHANNELS,
                        help="comma-separated channels (default: red,green,blue,yellow)")
    parser.add_argument("--recipe", choices=("report", "library", "cpu", "gpu"),
                        default="library",
                        help="a named configuration (hpa_sklearn.recipes): 'report'/'library' "
                             "VGG16 with the report's values, 'cpu' MobileNetV3-Small at 128 px "
                             "with a cosine schedule and 8-view test-time augmentation, 'gpu' "
                             "DenseNet121 at 512 px (default: %(default)s); the options below "
                             "override it")
    parser.add_argument("--backbone", choices=sorted(BACKBONE_NAMES), default=None,
                        help="the network (default: the recipe's)")
    parser.add_argument("--epochs", type=_number(int, 1), default=None,
                        help="training epochs (default: the recipe's; 10 for VGG16)")
    parser.add_argument("--batch-size", type=_number(int, 1), default=None,
                        help="default: the recipe's (64 for VGG16)")
    parser.add_argument("--learning-rate", type=_number(float, 0, low_open=True), default=None,
                        help="default: the recipe's (1e-4 for VGG16)")
    parser.add_argument("--lr-schedule", choices=("none", "warmup_cosine", "one_cycle", "step",
                                                  "plateau"), default=None,
                        help="learning-rate schedule (default: the recipe's; 'none' with the "
                             "report's Keras 2 decay for VGG16)")
    parser.add_argument("--warmup-epochs", type=_number(float, 0), default=None,
                        help="warm-up of warmup_cosine, in epochs (default: 1)")
    parser.add_argument("--optimizer", default=None, type=str.lower,
                        choices=("adam", "adagrad", "adamax", "sgd", "rmsprop", "adamw", "nadam"),
                        help="default: the recipe's (adam)")
    parser.add_argument("--activation", default=None, type=_parse_activation,
                        help="hidden-layer activation")
    parser.add_argument("--dropout", type=_number(float, 0, high=1), default=None,
                        help="default: the recipe's")
    parser.add_argument("--loss", choices=("binary_crossentropy", "focal"), default=None)
    parser.add_argument("--tta", choices=("none", "flips", "dihedral"), default=None,
                        help="test-time augmentation of the predictions: the mean over 4 flips "
                             "or the 8 rotations and reflections (default: the recipe's)")
    parser.add_argument("--weights", type=_parse_weights, default=_DEFAULT_WEIGHTS,
                        help="'imagenet' (downloaded by Keras), 'none' (from scratch) or a no-top "
                             "weights file of the backbone (default: imagenet, or none for a "
                             "backbone without pretrained weights)")
    parser.add_argument("--augment", action="store_true",
                        help="random flips, rotations, zoom, shifts, brightness in training")
    parser.add_argument("--early-stopping", action="store_true",
                        help="stop on a 10%% multilabel-stratified validation part")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")


def build_parser():
    """The argument parser of ``hpa-sklearn`` (all subcommands)."""
    parser = argparse.ArgumentParser(
        prog="hpa-sklearn",
        description="Classify Human Protein Atlas images (28 locations, multi-label) with a VGG16 "
                    "scikit-learn estimator: train, tune per-class thresholds, evaluate, submit.",
    )
    parser.add_argument("--verbose", action="store_true",
                        help="show the native start-up log lines of TensorFlow/XLA (hidden by "
                             "default; real errors always show)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = sub.add_parser("demo", help="the whole job on the embedded synthetic data",
                          description="Generate HPA-like data, split it 64/16/20, train VGG16, "
                                      "tune per-class thresholds, evaluate and write a report, "
                                      "a model folder and a submission-style CSV.")
    demo.add_argument("--out", default="hpa-sklearn-output/demo",
                      help="output folder (default: %(default)s)")
    demo.add_argument("--n-samples", type=int, default=1500, help="default: %(default)s")
    demo.add_argument("--image-size", type=int, default=32, help="default: %(default)s")
    demo.add_argument("--epochs", type=int, default=12, help="default: %(default)s")
    demo.add_argument("--batch-size", type=int, default=16, help="default: %(default)s")
    demo.add_argument("--learning-rate", type=float, default=3e-4, help="default: %(default)s")
    demo.add_argument("--n-jobs", type=int, default=-1, help="decoding processes")
    demo.add_argument("--seed", type=int, default=0, help="default: %(default)s")
    demo.set_defaults(handler=_cmd_demo)

    train = sub.add_parser("train", help="train a model on a Kaggle-layout folder",
                           description="Train HPAVGG16Classifier on a Kaggle-layout folder, "
                                       "optionally tune per-class thresholds on out-of-fold "
                                       "predictions, and save a model folder (Keras file + JSON).")
    _add_data_args(train)
    _add_training_args(train)
    train.add_argument("--cv", type=int, default=None,
                       help="folds for out-of-fold threshold tuning (default: a 20%% hold-out)")
    train.add_argument("--tune-thresholds", action="store_true",
                       help="tune one threshold per class (macro F1) instead of 0.5")
    train.add_argument("--ensemble", action="store_true",
                       help="keep the --cv K fold models as the model (their mean; the 2018 "
                            "winners' way) instead of training one more on all the data; the "
                            "thresholds are tuned on their out-of-fold predictions")
    train.add_argument("--extra-data", default=None,
                       help="a folder of extra training images (e.g. HPAv18 JPEGs), used in every "
                            "training part and never in a validation or held-out part")
    train.add_argument("--extra-labels", default=None,
                       help="the label CSV of --extra-data (e.g. HPAv18RBGY_wodpl.csv)")
    train.add_argument("--extra-image-dir", default=None,
                       help="the image folder of --extra-data, if not the folder itself")
    train.add_argument("--resume", default=None, help=argparse.SUPPRESS)  # gone: says what to do
    train.add_argument("--out", required=True, help="model folder to write")
    train.add_argument("--checkpoint-dir", default=None,
                       help="where a checkpoint is written after every epoch (default: OUT "
                            "followed by .checkpoints); running the same command again continues "
                            "an interrupted run from it")
    train.add_argument("--keep-checkpoints", action="store_true",
                       help="keep the checkpoint folder after a successful run (default: "
                            "deleted; a kept one lets a later run with a larger --epochs "
                            "continue instead of starting over)")
    train.set_defaults(handler=_cmd_train)

    predict = sub.add_parser("predict", help="write a Kaggle submission",
                             description="Predict every id of a template CSV and write a valid "
                                         "Kaggle submission in the template's order.")
    _add_data_args(predict, labels=False)
    predict.add_argument("--model", required=True, help="model folder from 'train'")
    predict.add_argument("--ids", default="sample_submission.csv",
                         help="template CSV with the ids to predict (default: %(default)s)")
    predict.add_argument("--out", required=True, help="submission CSV to write")
    predict.add_argument("--allow-empty", action="store_true",
                         help="allow rows with no label (default: at least the top class)")
    predict.add_argument("--tta", choices=("none", "flips", "dihedral"), default=None,
                         help="test-time augmentation (default: the model's own setting)")
    predict.add_argument("--channels", type=_parse_channels, default=None, help=argparse.SUPPRESS)
    predict.add_argument("--image-size", type=int, default=None, help=argparse.SUPPRESS)
    predict.set_defaults(handler=_cmd_predict)

    evaluate = sub.add_parser("evaluate", help="write the evaluation report",
                              description="Evaluate a model folder on labelled data: macro F1 "
                                          "with a bootstrap CI, per-class table, plots (HTML).")
    _add_data_args(evaluate)
    evaluate.add_argument("--model", required=True, help="model folder from 'train'")
    evaluate.add_argument("--out", required=True, help="report folder to write")
    evaluate.add_argument("--n-boot", type=int, default=1000, help="bootstrap replicates")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--tta", choices=("none", "flips", "dihedral"), default=None,
                         help="test-time augmentation (default: the model's own setting)")
    evaluate.add_argument("--channels", type=_parse_channels, default=None, help=argparse.SUPPRESS)
    evaluate.add_argument("--image-size", type=int, default=None, help=argparse.SUPPRESS)
    evaluate.set_defaults(handler=_cmd_evaluate)

    search = sub.add_parser("search", help="search the report's tuning table",
                            description="Search the original report's tuning table (batch size, "
                                        "learning rate, optimizer, activation, dropout: 720 "
                                        "combinations) with macro F1 on multilabel-stratified "
                                        "folds; writes cv_results.csv and a plot.")
    _add_data_args(search)
    _add_training_args(search)
    search.add_argument("--grid", choices=("report",), default="report",
                        help="the parameter grid (the report's table)")
    search.add_argument("--halving", action="store_true",
                        help="successive halving with epochs as the resource (up to --epochs)")
    search.add_argument("--n-candidates", type=int, default=None,
                        help="draw this many combinations at random instead of all 720")
    search.add_argument("--cv", type=int, default=3, help="folds (default: 3)")
    search.add_argument("--search-jobs", type=int, default=None, help="parallel fits")
    search.add_argument("--fits-per-worker", type=int, default=8,
                        help="run the fits in worker processes, each replaced by a fresh one "
                             "after this many fits, so that the memory every Keras fit leaks "
                             "goes back to the system (0: all fits in this process, whose "
                             "memory grows with each; default: %(default)s)")
    search.add_argument("--out", required=True, help="folder for cv_results.csv and the plot")
    search.set_defaults(handler=_cmd_search)

    lr_find = sub.add_parser("lr-find", help="learning-rate range test",
                             description="Train a fresh network for a few batches while the "
                                         "learning rate grows geometrically, plot the loss "
                                         "against the rate and suggest one (--learning-rate).")
    _add_data_args(lr_find)
    _add_training_args(lr_find)
    lr_find.add_argument("--min-lr", type=float, default=1e-7, help="default: %(default)s")
    lr_find.add_argument("--max-lr", type=float, default=1.0, help="default: %(default)s")
    lr_find.add_argument("--n-steps", type=int, default=100, help="batches (default: 100)")
    lr_find.add_argument("--out", default="lr_find.png", help="the plot (default: %(default)s)")
    lr_find.set_defaults(handler=_cmd_lr_find, extra_data=None, extra_labels=None,
                         extra_image_dir=None)

    cache = sub.add_parser("cache", help="list or clear the decoded-image cache",
                           description="List the entries of the decoded-image cache of load_hpa "
                                       "(size, shape, source, stale or not), or delete them.")
    actions = cache.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, text in (("list", "list the entries (a stale one's source files changed)"),
                         ("clear", "delete entries (all, or with --stale the stale ones)")):
        command = actions.add_parser(action, help=text,
                                     description=text[0].upper() + text[1:] + ".")
        command.add_argument("--stale", action="store_true", help="only the stale entries")
        command.add_argument("--cache-dir", default=None,
                             help="the cache folder (default: $HPA_SKLEARN_CACHE or "
                                  "~/.cache/hpa_sklearn)")
    cache.set_defaults(handler=_cmd_cache)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"hpa-sklearn: warning: {message}", file=sys.stderr if file is None else file)


def _terminate(signum, frame):
    """SIGTERM outside training (decoding, predicting, writing): stop like Ctrl-C. Training
    replaces this handler with its own graceful stop (see hpa_sklearn._training)."""
    raise KeyboardInterrupt


_terminate.replaceable_by_training = True


def main(argv=None):
    """Run ``hpa-sklearn``; returns the exit status."""
    import signal

    warnings.showwarning = _show_warning  # one line per warning, without source lines
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else list(argv)
    args.channels_given = "--channels" in args.argv
    args.image_size_given = "--image-size" in args.argv
    if not args.verbose:
        # TensorFlow's C++ INFO/WARNING lines (oneDNN, CUDA probing) drown the progress output;
        # a user who sets TF_CPP_MIN_LOG_LEVEL keeps their own level
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from ._console import quiet_native_logs

    previous = None
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        previous = signal.signal(signal.SIGTERM, _terminate)
    # the filter works on file descriptor 2: only for the real command, not for main([...]) calls
    # from Python (a test runner, a notebook), whose stderr belongs to the caller
    try:
        with quiet_native_logs(enabled=argv is None and not args.verbose):
            try:
                return args.handler(args)
            except KeyboardInterrupt:
                print("hpa-sklearn: interrupted", file=sys.stderr)
                return 130
            except (CommandError, ValueError, FileNotFoundError, RuntimeError, OSError) as exc:
                print(f"hpa-sklearn {args.command}: error: {exc}", file=sys.stderr)
                return 2
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
