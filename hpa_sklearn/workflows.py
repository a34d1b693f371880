"""Whole jobs as library functions: :func:`train_model` (fit, out-of-fold per-class thresholds, an
optional fold ensemble, save), which ``hpa-sklearn train`` and ``hpa-sklearn demo`` run.

Each workflow writes only its named outputs and the checkpoints of its own fits (which it removes
once the model is saved), and can be stopped at any point: training stops after the batch in
progress, the model reached is saved, and running the same call again continues.
"""

import contextlib
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from sklearn.base import clone

from ._engine.trainer import track_checkpoints
from ._engine.training import TrainingInterrupted
from ._io.ownership import owned_kind
from .ensemble import HPAFoldEnsemble
from .exceptions import InputError
from .model_selection import (
    ExtraTrainingSplit,
    MultilabelStratifiedKFold,
    MultilabelStratifiedShuffleSplit,
)
from .thresholds import MultilabelThresholdTuner

#: thresholds averaged over bootstrap resamples of the tuning rows: the same macro F1 on new
#: data as the plain per-class optimum, with far fewer spurious labels (docs/benchmarks.md,
#: "Threshold strategies")
THRESHOLD_BOOTSTRAP = 100


@dataclass
class TrainingResult:
    """What :func:`train_model` produced.

    Attributes
    ----------
    model : HPAClassifier or HPAFoldEnsemble
        The model, with its thresholds (tuned or 0.5).
    run : dict
        The record of the run kept in the model folder (thresholds, out-of-fold macro F1, epochs
        done, interrupted or not, ...).
    interrupted : TrainingInterrupted or None
        The stop, when a signal ended training early (the model reached is in ``model``).
    checkpoints : list of Path
        The checkpoint folders the fits used.
    """

    model: object
    run: dict
    interrupted: object = None
    checkpoints: list = field(default_factory=list)


def tuning_split(cv, *, random_state=0, train_only=None):
    """The folds thresholds are tuned on: an int K gives K multilabel-stratified folds, a float a
    single hold-out of that fraction; with ``train_only`` (extra data) those rows are only ever
    trained on. Returns ``(splitter, description)``."""
    if isinstance(cv, bool) or cv is None:
        raise InputError(f"cv must be a number of folds (>= 2) or a hold-out fraction; got {cv!r}.")
    if isinstance(cv, int):
        if cv < 2:
            raise InputError(f"cv must be at least 2 folds; got {cv}.")
        splitter = MultilabelStratifiedKFold(cv, random_state=random_state)
        where = f"{cv}-fold out-of-fold"
    elif isinstance(cv, float) and 0 < cv < 1:
        splitter = MultilabelStratifiedShuffleSplit(1, test_size=cv, random_state=random_state)
        where = f"{cv:.0%} held-out"
    else:
        splitter, where = cv, "given folds"
    if train_only is not None:
        splitter = ExtraTrainingSplit(splitter, train_only)
    return splitter, where


def _n_folds(splitter, X, Y):
    try:
        return int(splitter.get_n_splits(X, Y))
    except (AttributeError, TypeError):
        return len(list(splitter))


def _epochs_done(model):
    history = getattr(model, "history_", None) or {}
    return len(history.get("loss", []))


def remove_checkpoints(folders, root, *, created_root):
    """Remove the checkpoint folders a run used (each only if it is a checkpoint of the library),
    then ``root`` itself when this run created it and it is empty. Nothing else is touched."""
    for folder in folders:
        if owned_kind(folder) == "checkpoint":
            shutil.rmtree(folder, ignore_errors=True)
    if created_root and root is not None:
        with contextlib.suppress(OSError):
            Path(root).rmdir()  # only an empty folder goes


def train_model(X, Y, classifier, *, tune_thresholds=True, cv=0.2, ensemble=False,
                train_only=None, time_budget=None, random_state=0, out=None, run=None,
                say=print):
    """Train ``classifier`` on ``X, Y``, tune per-class thresholds on out-of-fold predictions,
    optionally keep the fold models as the model, and save it to ``out``.

    The steps, each checkpointed when ``classifier.checkpoint_dir`` is set:

    1. unless ``ensemble``: fit ``classifier`` on all the data (then saved to ``out`` with
       threshold 0.5, so that a usable model exists while the thresholds are tuned);
    2. with ``tune_thresholds`` or ``ensemble``: fit one clone per fold of ``cv`` and choose each
       class's threshold on their out-of-fold probabilities (averaged over
       :data:`THRESHOLD_BOOTSTRAP` bootstrap resamples; every image gets at least one label);
    3. save the model with its thresholds and the ``run`` record to ``out``.

    Parameters
    ----------
    X : array of shape (n_samples, height, width, channels)
    Y : array of shape (n_samples, n_labels)
    classifier : HPAClassifier
    tune_thresholds : bool, default=True
    cv : int, float or splitter, default=0.2
        K folds (int), a hold-out fraction (float) or a splitter / list of folds.
    ensemble : bool, default=False
        Keep the fold models (their mean) as the model instead of fitting one on all the data.
        An ensemble of one fold is saved as that classifier.
    train_only : array of bool, default=None
        Rows only ever trained on (external data).
    time_budget : float, default=None
        Seconds of training for the whole job, shared equally by its fits (overrides the
        classifier's own ``time_budget``).
    random_state : int, default=0
        Seeds the folds and the bootstrap.
    out : str or Path, default=None
        The model folder to write (None: nothing is saved).
    run : dict, default=None
        What to record of the run (data, recipe, ...); the workflow adds its own facts.
    say : callable, default=print
        Where progress messages go.

    Returns
    -------
    result : TrainingResult

    Examples
    --------
    >>> from hpa_sklearn import HPAClassifier
    >>> from hpa_sklearn.workflows import train_model
    >>> from hpa_sklearn.datasets import make_hpa_like
    >>> X, Y = make_hpa_like(n_samples=40, image_size=32, random_state=0, return_X_y=True)
    >>> clf = HPAClassifier(backbone="smallcnn", weights=None, epochs=1, batch_size=8,
    ...                     decay=0.0, verbose=0, random_state=0)
    >>> result = train_model(X, Y, clf, cv=2, say=lambda message: None)
    >>> result.model.threshold.shape, result.run["thresholds"]
    ((28,), 'tuned (2-fold out-of-fold)')
    """
    run = dict(run or {})
    fit_params = {} if train_only is None else {"train_only": train_only}
    splitter, where = tuning_split(cv, random_state=random_state, train_only=train_only)
    n_folds = _n_folds(splitter, X, Y) if (tune_thresholds or ensemble) else 0
    n_fits = n_folds + (0 if ensemble else 1)
    if time_budget is not None:
        share = time_budget / max(n_fits, 1)
        classifier = clone(classifier).set_params(time_budget=share)
        run["time_budget"] = float(time_budget)
    name = getattr(classifier, "backbone", type(classifier).__name__)
    run.setdefault("thresholds", "0.5")
    result = TrainingResult(model=classifier, run=run)

    def save(model):
        if out is not None:
            model.save(out, run=run)

    with track_checkpoints() as used:
        result.checkpoints = used
        try:
            if not ensemble:
                epochs = classifier.epochs
                budget = (f" for {math.floor(classifier.time_budget)} s" if classifier.time_budget
                          else f" for {epochs} epoch{'s' * (epochs != 1)}")
                say(f"Training {name} on {len(Y):,} images{budget}.")
                classifier.fit(X, Y, **fit_params)
                run.update(interrupted=False, epochs_done=_epochs_done(classifier))
            if tune_thresholds or ensemble:
                if not ensemble and out is not None:
                    run["thresholds_pending"] = True
                    save(classifier)
                    say(f"Model saved in {out} (threshold 0.5) while the thresholds are tuned.")
                models = (f"the {where} fold models" if where != "given folds" else
                          "the model of the given split" if _n_folds(splitter, X, Y) == 1 else
                          "the models of the given folds")
                say(f"Training {models} of {name}"
                    + (" (kept as the ensemble)" if ensemble else "")
                    + " and tuning per-class thresholds on their predictions.")
                tuner = MultilabelThresholdTuner(
                    classifier, cv=splitter, refit=False, at_least_one_label=True,
                    n_bootstrap=THRESHOLD_BOOTSTRAP, random_state=random_state, verbose=0)
                tuner.fit(X, Y, **fit_params)
                run.update(thresholds=f"tuned ({where})", oof_macro_f1=float(tuner.best_score_),
                           thresholds_pending=False)
                members = tuner.estimator_.estimators_
                if ensemble and len(members) > 1:
                    result.model = HPAFoldEnsemble.from_fitted(
                        members, threshold=tuner.best_thresholds_, at_least_one_label=True)
                    run.update(ensemble=len(members))
                elif ensemble:
                    result.model = members[0].set_params(threshold=tuner.best_thresholds_,
                                                         at_least_one_label=True)
                else:
                    classifier.set_params(threshold=tuner.best_thresholds_,
                                          at_least_one_label=True)
                run.update(interrupted=False, epochs_done=_epochs_done(result.model))
                say(f"Out-of-fold macro F1 with tuned thresholds: {tuner.best_score_:.4f}")
            else:
                classifier.set_params(at_least_one_label=True)
        except TrainingInterrupted as exc:
            result.interrupted = exc
            run.update(interrupted=True, interrupted_by=_signal_name(exc.signum),
                       epochs_done=_epochs_done(classifier))
            if not ensemble and classifier.__sklearn_is_fitted__():
                save(classifier)  # the model reached (all of it, while thresholds were tuned)
            return result
        save(result.model)
    return result


def _signal_name(signum):
    import signal

    return signal.Signals(signum).name
