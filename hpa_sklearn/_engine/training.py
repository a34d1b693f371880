"""The training loop's safety: graceful stops on signals, per-epoch checkpoints, exact resume.

A fit that runs for hours must survive what ends processes on shared machines: Ctrl-C (SIGINT),
a scheduler's or ``docker stop``'s SIGTERM, and a SIGKILL or out-of-memory kill.

* :func:`stop_on_signals` turns SIGINT and SIGTERM into a request that the training loop honours
  after the batch in progress (a second Ctrl-C stops at once).
* :class:`TrainingMonitor`, a Keras callback, keeps the history, runs early stopping with a state
  that can be saved, writes a checkpoint after every epoch and, on a stop request, after the last
  finished batch, then raises :class:`TrainingInterrupted`.
* A checkpoint is a complete model folder (network with its optimizer state, parameters) whose
  manifest also holds the :class:`TrainingState`: epochs and batches done, the partial epoch's
  running metrics, the states of the random generators of dropout and augmentation, early
  stopping's state, the time spent and planned under a time budget. Written through
  :func:`hpa_sklearn._io.atomic.atomic_folder`, it is always whole: a SIGKILL loses at most the
  work since the last checkpoint.
* Under a time budget, :class:`TrainingMonitor` measures the first epoch, plans the epochs that
  fit (the trainer stretches the learning-rate schedule to them) and stops training when the
  budget is spent.

The batch order of every epoch is a function of the seed and the epoch number, so a resumed fit
reads the same batches as an uninterrupted one and, on the CPU, ends with the same weights.
"""

import contextlib
import hashlib
import json
import signal
import threading
import time
from dataclasses import asdict, dataclass, field

import keras
import numpy as np

from .._io.schema import Any, Bool, Const, Int, List, Map, Num, Obj, Optional, check
from .schedules import PLATEAU_FACTOR, PLATEAU_PATIENCE
from ..exceptions import InputError

_FORMAT = 2
_FINGERPRINT_ROWS = 16  # image rows hashed to recognise the training data


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped on a signal at a consistent point (after a finished batch).

    A subclass of ``KeyboardInterrupt``, so that code which stops on Ctrl-C stops on it too and
    scikit-learn's searches do not record it as a failed fit. The classifier keeps the weights
    reached (it can be saved and predicts); with ``checkpoint_dir`` set, a checkpoint of that
    point was written and the same ``fit`` call continues from it.

    Attributes
    ----------
    signum : int
        The signal received (``signal.SIGINT`` or ``signal.SIGTERM``).
    checkpoint : pathlib.Path or None
        The checkpoint written, or None without ``checkpoint_dir``.
    epochs_done : int
        Complete epochs trained so far.
    batches_done : int
        Batches of the epoch in progress trained before the stop.
    """

    def __init__(self, signum, checkpoint, epochs_done, batches_done):
        self.signum = signum
        self.checkpoint = checkpoint
        self.epochs_done = epochs_done
        self.batches_done = batches_done
        name = signal.Signals(signum).name
        where = f"after {epochs_done} epoch(s) and {batches_done} batch(es)"
        saved = f"; checkpoint {checkpoint}" if checkpoint is not None else ""
        super().__init__(f"training stopped by {name} {where}{saved}")


class StopRequest:
    """Set by the signal handlers of :func:`stop_on_signals`; read by the training loop."""

    def __init__(self):
        self.signum = None


@contextlib.contextmanager
def stop_on_signals():
    """Within the block, SIGINT and SIGTERM request a stop instead of ending the process.

    Only in the main thread, and only for signals whose handler is Python's default or marked
    ``replaceable_by_training`` (any other handler the application installed is left alone). A
    second SIGINT raises ``KeyboardInterrupt`` at once, for a user who does not want to wait for
    the batch in progress. Yields the :class:`StopRequest`.
    """
    request = StopRequest()
    previous = {}
    if threading.current_thread() is threading.main_thread():

        def handler(signum, frame):
            if request.signum is not None and signum == signal.SIGINT:
                raise KeyboardInterrupt
            request.signum = signum

        defaults = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL}
        for signum, default in defaults.items():
            current = signal.getsignal(signum)
            if current is default or getattr(current, "replaceable_by_training", False):
                previous[signum] = signal.signal(signum, handler)
    try:
        yield request
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@dataclass
class TrainingState:
    """Where a fit stands; saved in a checkpoint's manifest (``training``)."""

    seed: int
    epochs_done: int = 0
    batches_done: int = 0  # batches of epoch ``epochs_done`` already trained
    partial_logs: dict = field(default_factory=dict)  # running metrics of that partial epoch
    seed_states: list = field(default_factory=list)  # dropout / augmentation generator states
    best: float = float("inf")  # early stopping: best validation loss ...
    best_epoch: int = 0  # ... the epoch (1-based) that reached it
    wait: int = 0  # ... and epochs since
    stopped_early: bool = False
    history: dict = field(default_factory=dict)
    learning_rate: float = None  # lr_schedule="plateau": the current rate (Keras does not save it)
    lr_best: float = float("inf")  # ... the best monitored loss so far
    lr_wait: int = 0  # ... and epochs since
    seconds: float = 0.0  # training time spent (all calls together), for the time budget
    epoch_seconds: float = None  # time budget: the measured time of an epoch ...
    planned_epochs: int = None  # ... and the epochs the budget fits (the schedule's length)
    budget_spent: bool = False  # the time budget ended the training

    @property
    def finished(self):
        return self.stopped_early or self.budget_spent

    def to_json(self):
        data = asdict(self)
        for key in ("best", "lr_best"):  # JSON has no infinity
            if data[key] == float("inf"):
                data[key] = None
        return {"format": _FORMAT, **data}

    @classmethod
    def from_json(cls, data, where):
        data = check(data, _STATE_SCHEMA, where, path="training")
        fields = {k: v for k, v in data.items() if k != "format"}
        for key in ("best", "lr_best"):
            if fields.get(key) is None:
                fields[key] = float("inf")
        return cls(**fields)


_COUNT = Int(minimum=0)
_STATE_SCHEMA = Obj(
    {"format": Const(_FORMAT), "seed": _COUNT, "epochs_done": _COUNT, "batches_done": _COUNT,
     "partial_logs": Map(Num()), "seed_states": List(Any()), "best": Optional(Num()),
     "best_epoch": _COUNT, "wait": _COUNT, "stopped_early": Bool(), "history": Map(List(Num())),
     "learning_rate": Optional(Num(minimum=0)), "lr_best": Optional(Num()), "lr_wait": _COUNT,
     "seconds": Num(minimum=0), "epoch_seconds": Optional(Num(minimum=0)),
     "planned_epochs": Optional(Int(minimum=1)), "budget_spent": Bool()},
)


def seed_generator_states(model):
    """The states of the model's random generators (dropout, augmentation), in model order."""
    return [np.asarray(v).tolist() for v in model.variables if v.path.endswith("seed_generator_state")]


def restore_seed_generator_states(model, states, where):
    """Give the model's random generators the saved ``states`` (Keras does not save them)."""
    variables = [v for v in model.variables if v.path.endswith("seed_generator_state")]
    if len(variables) != len(states):
        raise InputError(
            f"{where}: {len(states)} random generator states for {len(variables)} generators."
        )
    for variable, value in zip(variables, states):
        variable.assign(np.asarray(value, dtype=variable.dtype))


def data_fingerprint(X, Y, sample_weight=None):
    """A short digest that tells one training set from another without reading it all: shape,
    dtype, all labels and weights, and a few image rows spread over the set."""
    digest = hashlib.sha256()
    digest.update(json.dumps([list(map(int, X.shape)), str(X.dtype)]).encode())
    digest.update(np.ascontiguousarray(Y).tobytes())
    if sample_weight is not None:
        digest.update(np.ascontiguousarray(sample_weight, dtype=np.float32).tobytes())
    rows = np.unique(np.linspace(0, len(X) - 1, min(len(X), _FINGERPRINT_ROWS)).astype(int))
    for row in rows:
        digest.update(np.ascontiguousarray(np.asarray(X[int(row)])).tobytes())
    return digest.hexdigest()[:24]


def _merge_logs(partial, logs, batches_before, batches_after):
    """Metrics of an epoch trained in two parts: the batch-weighted mean of each part's value."""
    total = batches_before + batches_after
    merged = dict(logs)
    for key, value in partial.items():
        if key in logs and not key.startswith("val_"):
            merged[key] = (value * batches_before + logs[key] * batches_after) / total
    return merged


class TrainingMonitor(keras.callbacks.Callback):
    """Keeps ``state`` (history, early stopping), checkpoints, and honours stop requests.

    Parameters
    ----------
    state : TrainingState
    request : StopRequest
    save : callable(state, best_weights) -> path, with attribute ``folder``; or None
        Writes a checkpoint of the model and ``state`` (None: no checkpoints).
    early_stopping : bool
    patience : int
    best_weights : list of arrays or None
        The weights of the best epoch so far (early stopping), from a checkpoint.
    plateau_floor : float or None
        With a learning rate that halves on plateaus (``state.learning_rate`` set), the lowest
        rate it may reach.
    first_epoch_offset : int
        Batches of the first epoch trained before this fit call (a resumed partial epoch).
    budget : float or None
        Seconds of training allowed (all calls together, ``state.seconds`` counting the earlier
        ones): the first epoch is timed, ``state.planned_epochs`` set to the epochs that fit (at
        most ``max_epochs``), and training stops after the batch that spends the budget.
    max_epochs : int or None
        The most epochs a budget may plan.
    """

    def __init__(self, state, *, request, save, early_stopping, patience, best_weights=None,
                 first_epoch_offset=0, plateau_floor=None, budget=None, max_epochs=None):
        super().__init__()
        self.state = state
        self.request = request
        self.save = save
        self.early_stopping = early_stopping
        self.patience = patience
        self.offset = first_epoch_offset
        self.best_weights = best_weights
        self.plateau_floor = plateau_floor
        self.budget = budget
        self.max_epochs = max_epochs
        self._batches = 0
        self._logs = {}
        self._mark = time.monotonic()
        self._batch_ends = []

    def _clock(self):
        """Add the time since the last call to ``state.seconds``; return the total."""
        now = time.monotonic()
        self.state.seconds += now - self._mark
        self._mark = now
        return self.state.seconds

    def on_train_begin(self, logs=None):
        self._mark = time.monotonic()

    def on_epoch_begin(self, epoch, logs=None):
        self._batches = 0
        self._batch_ends = [time.monotonic()]

    def on_train_batch_end(self, batch, logs=None):
        self._batches += 1
        self._logs = dict(logs or {})
        if self.request.signum is not None:
            self.interrupt()
        if self.budget is not None:
            self._batch_ends.append(time.monotonic())
            if self._clock() >= self.budget:
                self.state.budget_spent = True
                self.model.stop_training = True

    def _plan(self):
        """After the first timed epoch: the epochs the budget fits, from its measured speed (the
        first batch, which compiles, left out)."""
        state = self.state
        ends = np.asarray(self._batch_ends)
        steps = np.diff(ends)
        per_batch = float(np.median(steps[1:])) if len(steps) > 2 else float(steps.sum())
        tail = time.monotonic() - ends[-1]  # validation and the checkpoint's bookkeeping
        state.epoch_seconds = per_batch * max(self._batches, 1) + tail
        remaining = self.budget - state.seconds
        more = int(remaining // state.epoch_seconds) if state.epoch_seconds > 0 else 0
        state.planned_epochs = int(min(self.max_epochs, max(state.epochs_done,
                                                            state.epochs_done + more)))

    def interrupt(self, save=True):
        """Checkpoint the partial epoch (unless just done) and raise :class:`TrainingInterrupted`."""
        state = self.state
        done = self.offset + self._batches
        if self._batches:
            before = self.offset
            state.partial_logs = _merge_logs(state.partial_logs, self._floats(self._logs), before,
                                             self._batches) if before else self._floats(self._logs)
            state.batches_done = done
        state.seed_states = seed_generator_states(self.model)
        self._clock()
        path = None
        if self.save:
            path = self.save(state, self.best_weights) if save else self.save.folder
        raise TrainingInterrupted(self.request.signum, path, state.epochs_done, state.batches_done)

    @staticmethod
    def _floats(logs):
        return {k: float(v) for k, v in logs.items()}

    def _plateau(self, value):
        """Halve the learning rate after PLATEAU_PATIENCE epochs without a better ``value``."""
        state = self.state
        if value is None:
            return
        if value < state.lr_best:
            state.lr_best, state.lr_wait = float(value), 0
            return
        state.lr_wait += 1
        if state.lr_wait >= PLATEAU_PATIENCE:
            state.learning_rate = max(state.learning_rate * PLATEAU_FACTOR, self.plateau_floor)
            state.lr_wait = 0
            self.model.optimizer.learning_rate = state.learning_rate

    def on_epoch_end(self, epoch, logs=None):
        state = self.state
        logs = self._floats(logs or {})
        if self.offset:  # the first epoch was begun by an earlier, interrupted fit
            logs = _merge_logs(state.partial_logs, logs, self.offset, self._batches)
            self.offset = 0
        for key, value in logs.items():
            state.history.setdefault(key, []).append(value)
        state.epochs_done = epoch + 1
        state.batches_done = 0
        state.partial_logs = {}
        if self.early_stopping and "val_loss" in logs:
            if logs["val_loss"] < state.best:
                state.best, state.best_epoch, state.wait = logs["val_loss"], epoch + 1, 0
                self.best_weights = self.model.get_weights()
            else:
                state.wait += 1
                if state.wait >= self.patience:
                    state.stopped_early = True
                    self.model.stop_training = True
        if self.plateau_floor is not None and state.learning_rate is not None:
            self._plateau(logs.get("val_loss", logs.get("loss")))
        self._clock()
        if self.budget is not None:
            if state.planned_epochs is None and not state.budget_spent:
                self._plan()
            if state.epochs_done >= (state.planned_epochs or self.max_epochs):
                self.model.stop_training = True
        state.seed_states = seed_generator_states(self.model)
        if self.save:
            self.save(state, self.best_weights)
        if self.request.signum is not None and not state.stopped_early:
            self._batches = 0
            self.interrupt(save=False)
