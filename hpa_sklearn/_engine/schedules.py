"""Learning-rate schedules of the classifiers (``lr_schedule``): the table :data:`SCHEDULES`.

An entry of the table is the whole of a schedule: the classifier's parameter constraint, the
command line's ``--lr-schedule`` choices and the documentation's list are read from it (without
importing Keras). The library's own schedules are Keras schedules of the step in
:mod:`hpa_sklearn._engine.keras_objects`.

* ``None``: constant, or the Keras 2 ``decay`` of the original report: ``lr / (1 + decay * t)``.
* ``"warmup_cosine"``: linear warm-up from ``lr / 100`` over ``warmup_epochs``, then cosine decay
  to 0 at the last step.
* ``"one_cycle"``: up from ``lr / 25`` to ``lr`` over the first 30 % of the steps, then cosine
  down to ``lr / 1e4`` (Smith's one-cycle policy, as fastai schedules it).
* ``"step"``: ``lr``, times 0.1 after half of the epochs, times 0.01 after three quarters.
* ``"plateau"``: constant, halved when the monitored loss (the validation loss with early
  stopping, else the training loss) has not improved for :data:`PLATEAU_PATIENCE` epochs, down to
  ``lr / 1000`` (done by the training loop, which keeps its state in the checkpoints).
"""

from dataclasses import dataclass
from typing import Callable
from ..exceptions import InputError

PLATEAU_FACTOR = 0.5
PLATEAU_PATIENCE = 2
PLATEAU_MIN_RATIO = 1e-3


@dataclass(frozen=True)
class Schedule:
    """One entry of :data:`SCHEDULES`.

    Attributes
    ----------
    name : str
        The value of ``lr_schedule``.
    make : callable
        ``make(learning_rate, total_steps=, steps_per_epoch=, warmup_epochs=)``: the learning
        rate the optimizer is created with (a float or a Keras schedule).
    depends_on_length : bool
        Its shape depends on the number of steps of the run (so on ``epochs``, or on the epochs
        a time budget fits): a longer run is a different schedule, not a continuation.
    follows_loss : bool
        The training loop lowers the rate when the monitored loss stalls (its state lives in
        the checkpoints).
    description : str
    """

    name: str
    make: Callable
    depends_on_length: bool = False
    follows_loss: bool = False
    description: str = ""


def _warmup_cosine(lr, *, total_steps, steps_per_epoch, warmup_epochs):
    from .keras_objects import WarmupCosine

    warmup = min(total_steps - 1, int(round(warmup_epochs * steps_per_epoch)))
    return WarmupCosine(lr, total_steps, max(warmup, 0))


def _one_cycle(lr, *, total_steps, **_):
    from .keras_objects import OneCycle

    return OneCycle(lr, total_steps)


def _step(lr, *, total_steps, steps_per_epoch, warmup_epochs):
    import keras

    boundaries = sorted({max(1, total_steps // 2), max(2, (3 * total_steps) // 4)})
    values = [lr * f for f in (1.0, 0.1, 0.01)][: len(boundaries) + 1]
    return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)


SCHEDULES = {
    entry.name: entry
    for entry in (
        Schedule("warmup_cosine", _warmup_cosine, depends_on_length=True,
                 description="linear warm-up over warmup_epochs, then cosine decay to 0"),
        Schedule("one_cycle", _one_cycle,
                 depends_on_length=True,
                 description="up to learning_rate over 30% of the steps, then cosine down "
                             "(one-cycle)"),
        Schedule("step", _step, depends_on_length=True,
                 description="times 0.1 after half and again after three quarters of the run"),
        Schedule("plateau", lambda lr, **_: float(lr), follows_loss=True,
                 description="halved when the monitored loss has not improved for 2 epochs"),
    )
}


def get_schedule(name):
    """The :class:`Schedule` named ``name`` (None: constant, no entry)."""
    if name is None:
        return None
    try:
        return SCHEDULES[name]
    except (KeyError, TypeError):
        raise InputError(f"lr_schedule must be None or one of {sorted(SCHEDULES)}; got "
                         f"{name!r}.") from None


def make_schedule(name, learning_rate, *, decay, epochs, steps_per_epoch, warmup_epochs):
    """The learning rate (a float or a Keras schedule) that the optimizer is created with:
    ``name=None`` is constant, or the Keras 2 ``decay`` of the original report."""
    total = max(1, epochs * steps_per_epoch)
    if name is None:
        import keras

        if decay:
            return keras.optimizers.schedules.InverseTimeDecay(learning_rate, decay_steps=1,
                                                               decay_rate=decay)
        return float(learning_rate)
    return get_schedule(name).make(learning_rate, total_steps=total,
                                   steps_per_epoch=steps_per_epoch, warmup_epochs=warmup_epochs)
