"""Training a network from a :class:`~hpa_sklearn._engine.config.TrainingConfig`: build and compile
(or restore a checkpoint), the training loop with checkpoints and signals, the time budget, device
placement, ``partial_fit`` and the learning-rate range test.

The estimator (:class:`~hpa_sklearn.HPAClassifier`) turns its parameters into a configuration and
calls :func:`fit_network`; nothing here knows the estimator class.
"""

import contextlib
import contextvars
import hashlib
import json
import logging
import math
import random
from pathlib import Path

import keras
import numpy as np

from .._io.atomic import atomic_folder
from .._io.locks import exclusive
from .._io.model_folder import BEST_WEIGHTS_FILE, MODEL_FILE, read_manifest, write_manifest
from .._io.ownership import replaceable
from ..exceptions import InputError, OutputRefusedError
from .._warnings import warn
from .backbones import get_backbone
from .config import FittedNetwork, fitted_from_record
from .feeding import ImageBatches, TrainingBatches
from .losses import LOSSES
from .lr_range import run_range_test
from .network import build_network
from .optimizers import OPTIMIZERS
from .saving import load_network
from .schedules import PLATEAU_MIN_RATIO, get_schedule, make_schedule
from .training import (
    TrainingInterrupted,
    TrainingMonitor,
    TrainingState,
    data_fingerprint,
    restore_seed_generator_states,
    seed_generator_states,
    stop_on_signals,
)

_STATS_SAMPLES = 512  # images used to estimate the per-channel mean and variance
_CHECKPOINTS_USED = contextvars.ContextVar("hpa_sklearn_checkpoints_used", default=None)


# ----------------------------------------------------------------------------- helpers
@contextlib.contextmanager
def seeded(seed):
    """Seed Python, NumPy and the Keras backend for reproducible weights, dropout and batches, and
    restore the caller's Python and NumPy random states afterwards."""
    py_state, np_state = random.getstate(), np.random.get_state()
    determinism = None
    try:
        keras.utils.set_random_seed(seed)
        if keras.backend.backend() == "tensorflow":  # guarded: TensorFlow-only switch
            from tensorflow.python.framework import config as tf_config

            determinism = tf_config.is_op_determinism_enabled()
            tf_config.enable_op_determinism()
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
        if determinism is False:
            from tensorflow.python.framework import config as tf_config

            tf_config.disable_op_determinism()


@contextlib.contextmanager
def _dtype_policy(name):
    """Create layers under the Keras dtype policy ``name`` (None: leave the policy as it is)."""
    previous = keras.config.dtype_policy()
    if name is not None:
        keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


class _FirstTraces(logging.Filter):
    """Drops TensorFlow's "triggered tf.function retracing" warning. The library feeds batches
    of one shape (see :mod:`~hpa_sklearn._engine.feeding`), so each network traces its steps
    once; but TensorFlow's detector counts traces per code object across networks, and reports
    the first trace of each network of a cross-validation as a retrace."""

    def filter(self, record):
        return "triggered tf.function retracing" not in record.getMessage()


_FIRST_TRACES = _FirstTraces()


@contextlib.contextmanager
def first_traces_quiet():
    """Within the block, the first trace of each new network is not reported as a retrace."""
    logger = logging.getLogger("tensorflow")
    logger.addFilter(_FIRST_TRACES)
    try:
        yield
    finally:
        logger.removeFilter(_FIRST_TRACES)


@contextlib.contextmanager
def track_checkpoints():
    """Collect the checkpoint folders the fits inside the block use (created or resumed), so that
    a workflow can remove exactly those once its results are saved. Yields the list."""
    used = []
    token = _CHECKPOINTS_USED.set(used)
    try:
        yield used
    finally:
        _CHECKPOINTS_USED.reset(token)


def _channel_moments(X, rows, scale):
    """Per-channel mean and variance of ``X[rows] * scale``, in chunks (no float copy of X)."""
    total = np.zeros(X.shape[-1])
    total_sq = np.zeros(X.shape[-1])
    count = 0
    for start in range(0, len(rows), 64):
        chunk = np.asarray(X[np.sort(rows[start : start + 64])], dtype=np.float64) * scale
        total += chunk.sum(axis=(0, 1, 2))
        total_sq += np.square(chunk).sum(axis=(0, 1, 2))
        count += chunk.shape[0] * chunk.shape[1] * chunk.shape[2]
    mean = total / count
    variance = np.maximum(total_sq / count - mean**2, 1e-6)
    return mean, variance


def _built_f1(n_outputs):
    """Keras' macro F1 metric with its variables created now: built lazily, it would create them
    inside the first traced training step, and TensorFlow then traces the whole step twice."""
    metric = keras.metrics.F1Score(average="macro", threshold=0.5, name="f1")
    metric.update_state(np.zeros((1, n_outputs), "float32"), np.zeros((1, n_outputs), "float32"))
    metric.reset_state()
    return metric


def input_dtype_of(X):
    return "uint8" if X.dtype == np.uint8 else "float32"


def validation_split(config, Y, seed, train_only=None):
    """The rows trained on and the rows held out for early stopping (None without it),
    multilabel-stratified; rows marked ``train_only`` are never held out."""
    rows = np.arange(len(Y))
    if not config.early_stopping:
        return rows, None
    from iterstrat.ml_stratifiers import MultilabelStratifiedShuffleSplit

    candidates = rows if train_only is None else rows[~train_only]
    n_val = int(round(config.validation_fraction * len(candidates)))
    if n_val < 1 or len(Y) - n_val < 1:
        raise InputError(
            f"validation_fraction={config.validation_fraction} of {len(candidates)} samples "
            "leaves an empty training or validation part; use more samples or another fraction.")
    splitter = MultilabelStratifiedShuffleSplit(
        n_splits=1, test_size=config.validation_fraction, random_state=seed)
    train, val = next(splitter.split(candidates, Y[candidates]))
    train = np.concatenate([candidates[train], np.setdiff1d(rows, candidates)])
    return np.sort(train), np.sort(candidates[val])


def _positive_weights(config, Y):
    if isinstance(config.class_weight, str):  # "balanced"
        positives = Y.sum(axis=0).astype(float)
        ratio = np.divide(len(Y) - positives, positives, out=np.ones_like(positives),
                          where=positives > 0)
        return np.clip(ratio, 1.0, 100.0)
    if config.class_weight is None:
        return None
    weights = np.asarray(config.class_weight, dtype=float)
    if weights.shape != (Y.shape[1],) or not np.all(np.isfinite(weights)) or (weights <= 0).any():
        raise InputError(f"class_weight must be 'balanced' or one positive weight per label "
                         f"({Y.shape[1]}); got {config.class_weight!r}.")
    return weights


def _planned_epochs(config, state):
    """The run's length in epochs: ``epochs``, or under a time budget the epochs it fits (once
    measured; until then ``epochs``, the most it may plan)."""
    if config.time_budget is not None and state.planned_epochs is not None:
        return state.planned_epochs
    return config.epochs


def _learning_rate(config, steps_per_epoch, epochs):
    return make_schedule(config.lr_schedule, config.learning_rate, decay=config.decay,
                         epochs=epochs, steps_per_epoch=steps_per_epoch,
                         warmup_epochs=config.warmup_epochs)


def _make_optimizer(config, steps_per_epoch, epochs):
    if isinstance(config.optimizer, keras.optimizers.Optimizer):
        return config.optimizer.__class__.from_config(config.optimizer.get_config())
    return OPTIMIZERS[config.optimizer.lower()].make(
        _learning_rate(config, steps_per_epoch, epochs))


# ----------------------------------------------------------------------------- devices
def n_replicas(config, model=None):
    """Devices each batch is split across (1 without ``distribution``)."""
    if config.distribution is None:
        return 1
    if keras.backend.backend() == "jax":
        return len(keras.distribution.list_devices())
    if model is None:  # TensorFlow, before the model (and its strategy) exists
        import tensorflow as tf

        return max(1, len(tf.config.list_logical_devices("GPU")))
    return model.distribute_strategy.num_replicas_in_sync


def device_scope(config, building=False):
    """The scope of the ``distribution`` strategy: Keras' DataParallel under JAX (building,
    training and predicting); under TensorFlow a MirroredStrategy while the model and its
    optimizer are created (the model keeps it for training and prediction)."""
    if config.distribution is None:
        return contextlib.nullcontext()
    if keras.backend.backend() == "jax":
        return keras.distribution.DataParallel(devices=keras.distribution.list_devices()).scope()
    if building:
        import tensorflow as tf

        return tf.distribute.MirroredStrategy().scope()
    return contextlib.nullcontext()


# ----------------------------------------------------------------------------- checkpoints
def checkpoint_folder(config, X, Y, sample_weight, train_only=None):
    """``checkpoint_dir/fit-<key>``: the key digests the data and ``config.key`` (the parameters
    that shape training)."""
    if config.checkpoint_dir is None:
        return None
    blob = json.dumps({"params": config.key, "data": data_fingerprint(X, Y, sample_weight),
                       "train_only": None if train_only is None else
                       hashlib.sha256(np.packbits(train_only).tobytes()).hexdigest()},
                      sort_keys=True, default=repr)
    return Path(config.checkpoint_dir) / f"fit-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"


def write_checkpoint(config, folder, network, state):
    """Write the checkpoint ``folder`` whole: a model folder (kind ``checkpoint``) whose manifest
    holds the training state."""
    with atomic_folder(folder, replaceable=replaceable("checkpoint")) as tmp:
        network.model.save(tmp / MODEL_FILE)
        if network.best_weights is not None:
            np.savez(tmp / BEST_WEIGHTS_FILE,
                     **{f"w{i}": w for i, w in enumerate(network.best_weights)})
        record = dict(network.record(), history_=state.history)
        write_manifest(tmp, kind="checkpoint", estimator={**config.record, "fitted": record},
                       training=state.to_json())
    return folder


def _restore_checkpoint(config, folder, X, Y):
    """The network and training state of ``folder``; ``ValueError`` when it cannot be used."""
    manifest = read_manifest(folder)
    if manifest["kind"] != "checkpoint" or "training" not in manifest:
        raise InputError(f"{folder} is not a checkpoint")
    state = TrainingState.from_json(manifest["training"], folder / "hpa-sklearn.json")
    model = load_network(folder / MODEL_FILE)
    network = fitted_from_record(manifest["estimator"].get("fitted", {}), model, folder)
    if (network.image_shape != tuple(X.shape[1:]) or network.n_outputs != Y.shape[1]
            or network.input_dtype != input_dtype_of(X)):
        raise InputError("it was written for data of another shape")
    restore_seed_generator_states(model, state.seed_states, folder)
    if state.learning_rate is not None:  # "plateau" lowers a rate Keras does not save
        model.optimizer.learning_rate = state.learning_rate
    best = folder / BEST_WEIGHTS_FILE
    if best.is_file():
        with np.load(best) as arrays:
            network.best_weights = [arrays[f"w{i}"] for i in range(len(arrays.files))]
    network.history = state.history
    if config.verbose:
        print(f"Resuming from {folder}: {state.epochs_done} epoch(s)"
              + (f" and {state.batches_done} batch(es)" if state.batches_done else "")
              + " done.", flush=True)
    return network, state


# ----------------------------------------------------------------------------- building
def _build(config, X, Y, channels, seed, train_only):
    """A new compiled network for ``X, Y`` and its fresh training state."""
    input_dtype = input_dtype_of(X)
    train, _ = validation_split(config, Y, seed, train_only)
    stats_rows = np.random.default_rng(seed).permutation(train)[:_STATS_SAMPLES]
    mean, variance = _channel_moments(X, stats_rows, 1.0 / 255.0 if input_dtype == "uint8" else 1.0)
    augmentation = ([] if config.augmentation is None else config.augmentation.make_layers(
        config.augmentation.layer_seed(fallback=seed)))
    replicas = n_replicas(config)
    steps = TrainingBatches.count_batches(len(train), config.batch_size, replicas)
    with device_scope(config, building=True), _dtype_policy(config.mixed_precision):
        model = build_network(
            backbone=config.backbone, image_shape=tuple(int(s) for s in X.shape[1:]),
            n_outputs=Y.shape[1], input_dtype=input_dtype, mean=mean, variance=variance,
            channels=channels, weights=config.weights, yellow_init=config.yellow_init,
            input_size=config.input_size, augmentation_layers=augmentation,
            pooling=config.pooling, hidden_units=config.hidden_units,
            activation=config.activation, dropout=config.dropout, seed=seed)
        gamma_loss = LOSSES[config.loss].make(focal_gamma=config.focal_gamma,
                                              pos_weight=_positive_weights(config, Y[train]))
        model.compile(
            optimizer=_make_optimizer(config, steps, config.epochs), loss=gamma_loss,
            metrics=[_built_f1(Y.shape[1])],
            jit_compile=config.jit_compile)
        # the optimizer's slots now too: created in the first traced step, they would make
        # TensorFlow trace the step twice (as the lazily built metric would)
        model.optimizer.build(model.trainable_variables)
    schedule = get_schedule(config.lr_schedule)
    state = TrainingState(seed=seed, learning_rate=(
        float(config.learning_rate) if schedule is not None and schedule.follows_loss else None))
    network = FittedNetwork(model=model, n_outputs=Y.shape[1],
                            image_shape=tuple(int(s) for s in X.shape[1:]),
                            input_dtype=input_dtype, channels=tuple(channels),
                            history=state.history)
    return network, state


def _initialize(config, X, Y, channels, checkpoint, train_only):
    """Restore the fit from ``checkpoint`` if there is one for this data, else build anew."""
    reason = None
    if checkpoint is not None and (checkpoint / "hpa-sklearn.json").is_file():
        try:
            return _restore_checkpoint(config, checkpoint, X, Y)
        except ValueError as exc:
            reason = exc
    if checkpoint is not None and checkpoint.exists() and not (
            checkpoint.is_dir() and (replaceable("checkpoint")(checkpoint)
                                     or not any(checkpoint.iterdir()))):
        # the first checkpoint would be refused after an epoch of work: refuse before it
        raise OutputRefusedError(
            f"the checkpoint folder {checkpoint} " + (f"cannot be used ({reason}) and " if reason
                                                      else "")
            + "holds files that were not written as a checkpoint of hpa-sklearn, so it is not "
            "replaced; delete it (or give another checkpoint_dir) to train afresh.")
    if reason is not None:
        warn(f"the checkpoint {checkpoint} cannot be used ({reason}); training starts afresh and "
             "overwrites it.", UserWarning)
    with seeded(config.seed):
        return _build(config, X, Y, channels, config.seed, train_only)


# ----------------------------------------------------------------------------- the loop
def _stretch_schedule(config, network, state, steps_per_epoch):
    """Under a time budget: give the optimizer the schedule of the planned length (the train
    step is traced again, so that the new schedule takes effect)."""
    schedule = get_schedule(config.lr_schedule)
    if schedule is None or not schedule.depends_on_length or state.planned_epochs is None:
        return
    if isinstance(config.optimizer, keras.optimizers.Optimizer):
        return
    network.model.optimizer.learning_rate = _learning_rate(config, steps_per_epoch,
                                                           state.planned_epochs)
    network.model.train_function = None


def train(config, network, X, Y, sample_weight, state, checkpoint, *, rows=None, epochs=None,
          train_only=None):
    """Train ``network`` from ``state`` up to ``epochs`` in total (default: the configuration's,
    or what the time budget fits), checkpointing to ``checkpoint`` (None: none)."""
    if rows is None:
        train_rows, val = validation_split(config, Y, state.seed, train_only)
    else:
        train_rows, val = rows, None
    replicas = n_replicas(config, network.model)
    per_epoch = TrainingBatches.count_batches(len(train_rows), config.batch_size, replicas)
    budget = config.time_budget if epochs is None else None

    def target():
        return epochs if epochs is not None else _planned_epochs(config, state)

    if budget is not None:
        _stretch_schedule(config, network, state, per_epoch)  # a resumed, measured run
    if not state.finished and state.epochs_done < target():
        def batches(first_epoch, first_batch, end_epoch):
            return TrainingBatches(X, Y, sample_weight, indices=train_rows,
                                   batch_size=config.batch_size, seed=state.seed,
                                   start_epoch=first_epoch, start_batch=first_batch,
                                   end_epoch=end_epoch, workers=config.workers,
                                   multiple=replicas)

        val_data = None
        if val is not None:
            val_data = ImageBatches(X, Y, indices=val, batch_size=config.batch_size,
                                    shuffle=replicas > 1, seed=state.seed,
                                    workers=config.workers, multiple=replicas)
        save = None
        if checkpoint is not None:
            def save(current, best):
                network.best_weights = best
                return write_checkpoint(config, checkpoint, network, current)

            save.folder = checkpoint
        schedule = get_schedule(config.lr_schedule)
        with stop_on_signals() as request, device_scope(config), first_traces_quiet():
            monitor = TrainingMonitor(
                state, request=request, save=save, early_stopping=val is not None,
                patience=config.patience, best_weights=network.best_weights,
                first_epoch_offset=state.batches_done,
                plateau_floor=(config.learning_rate * PLATEAU_MIN_RATIO
                               if schedule is not None and schedule.follows_loss else None),
                budget=budget, max_epochs=config.epochs)
            common = dict(validation_data=val_data, callbacks=[*config.callbacks, monitor],
                          verbose=config.verbose, shuffle=False)

            def run(end_epoch):
                data = batches(state.epochs_done, state.batches_done, end_epoch)
                try:
                    network.model.fit(data, steps_per_epoch=len(data) if state.batches_done
                                      else data.batches_per_epoch, epochs=end_epoch,
                                      initial_epoch=state.epochs_done, **common)
                finally:
                    data.close()

            try:
                if state.batches_done:  # finish the epoch an interruption cut short
                    run(state.epochs_done + 1)
                if budget is not None and state.planned_epochs is None and not state.finished:
                    run(state.epochs_done + 1)  # the timed epoch: the budget plans the rest
                    _stretch_schedule(config, network, state, per_epoch)
                if not state.finished and state.epochs_done < target():
                    run(target())
            finally:
                network.best_weights = monitor.best_weights
    # the checkpoint keeps the last weights (a longer run continues them); with early stopping
    # the network ends on the best validation epoch's
    if val is not None and network.best_weights is not None:
        network.model.set_weights(network.best_weights)
    network.history = state.history
    return network


def fit_network(config, X, Y, sample_weight=None, train_only=None, channels=None):
    """Train a network on checked data (see :meth:`hpa_sklearn.HPAClassifier.fit`); returns the
    :class:`~hpa_sklearn._engine.config.FittedNetwork`. With ``checkpoint_dir`` the fit holds
    the lock of its checkpoint folder (a second process with the same fit is refused)."""
    checkpoint = checkpoint_folder(config, X, Y, sample_weight, train_only)
    lock = contextlib.nullcontext() if checkpoint is None else exclusive(
        checkpoint, what="checkpoint folder",
        advice="two fits of the same data and parameters would write the same checkpoint; wait "
               "for that one to finish (running this again then restores its result), or give "
               "another checkpoint folder")
    with lock:
        if checkpoint is not None:
            used = _CHECKPOINTS_USED.get()
            if used is not None and checkpoint not in used:
                used.append(checkpoint)
        network, state = _initialize(config, X, Y, channels, checkpoint, train_only)
        try:
            with seeded(state.seed):
                return train(config, network, X, Y, sample_weight, state, checkpoint,
                             train_only=train_only)
        except TrainingInterrupted as exc:
            network.history = state.history
            exc.network = network  # the estimator keeps the weights reached
            raise


def continue_network(config, network, X, Y, sample_weight):
    """One more epoch of ``network`` on ``X, Y`` (``partial_fit``)."""
    done = len(network.history.get("loss", []))
    state = TrainingState(seed=config.seed + done, epochs_done=done, history=network.history)
    network.best_weights = None
    with seeded(state.seed):
        return train(config, network, X, Y, sample_weight, state, None,
                     rows=np.arange(len(X)), epochs=done + 1)


def range_test(config, X, Y, sample_weight, channels, *, min_lr, max_lr, n_steps):
    """The learning-rate range test on a fresh network of ``config`` (a constant rate)."""
    network, state = _initialize(config, X, Y, channels, None, None)
    per_epoch = TrainingBatches.count_batches(len(X), config.batch_size, 1)
    data = TrainingBatches(X, Y, sample_weight, indices=np.arange(len(X)),
                           batch_size=config.batch_size, seed=state.seed,
                           end_epoch=math.ceil(n_steps / per_epoch), workers=config.workers)
    try:
        with seeded(state.seed), stop_on_signals():
            return run_range_test(network.model, data, min_lr=min_lr, max_lr=max_lr,
                                  n_steps=min(n_steps, len(data)), verbose=config.verbose)
    finally:
        data.close()


def check_weights(config):
    """Refuse weights asked of a backbone that has none (before any work)."""
    get_backbone(config.backbone).check_weights(config.weights)


__all__ = ["check_weights", "continue_network", "fit_network", "range_test",
           "seed_generator_states", "seeded", "track_checkpoints"]
