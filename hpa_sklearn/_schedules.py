"""Learning-rate schedules of the classifiers (``lr_schedule``), as Keras schedules of the step.

Each is registered with Keras so that a saved network (with its optimizer) loads back.

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

import math

import keras
from keras import ops

LR_SCHEDULES = ("warmup_cosine", "one_cycle", "step", "plateau")
PLATEAU_FACTOR = 0.5
PLATEAU_PATIENCE = 2
PLATEAU_MIN_RATIO = 1e-3
# schedules whose shape depends on the total number of steps (so on ``epochs``)
DEPENDS_ON_LENGTH = ("warmup_cosine", "one_cycle", "step")


@keras.saving.register_keras_serializable(package="hpa_sklearn")
class WarmupCosine(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up over ``warmup_steps`` from ``initial / 100``, then cosine decay to 0."""

    def __init__(self, initial, total_steps, warmup_steps):
        self.initial = float(initial)
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        warm = max(self.warmup_steps, 1)
        start = self.initial / 100.0
        rising = start + (self.initial - start) * step / warm
        span = max(self.total_steps - self.warmup_steps, 1)
        progress = ops.clip((step - self.warmup_steps) / span, 0.0, 1.0)
        falling = 0.5 * self.initial * (1.0 + ops.cos(math.pi * progress))
        return ops.where(step < self.warmup_steps, rising, falling)

    def get_config(self):
        return {"initial": self.initial, "total_steps": self.total_steps,
                "warmup_steps": self.warmup_steps}


@keras.saving.register_keras_serializable(package="hpa_sklearn")
class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """Up from ``peak / 25`` to ``peak`` over ``pct`` of the steps, cosine down to ``peak / 1e4``."""

    def __init__(self, peak, total_steps, pct=0.3):
        self.peak = float(peak)
        self.total_steps = int(total_steps)
        self.pct = float(pct)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        up_steps = max(self.pct * self.total_steps, 1.0)
        down_steps = max(self.total_steps - up_steps, 1.0)
        start, end = self.peak / 25.0, self.peak / 1e4
        up = ops.clip(step / up_steps, 0.0, 1.0)
        down = ops.clip((step - up_steps) / down_steps, 0.0, 1.0)
        rising = start + (self.peak - start) * 0.5 * (1.0 - ops.cos(math.pi * up))
        falling = end + (self.peak - end) * 0.5 * (1.0 + ops.cos(math.pi * down))
        return ops.where(step < up_steps, rising, falling)

    def get_config(self):
        return {"peak": self.peak, "total_steps": self.total_steps, "pct": self.pct}


def make_schedule(name, learning_rate, *, decay, epochs, steps_per_epoch, warmup_epochs):
    """The learning rate (a float or a Keras schedule) that the optimizer is created with."""
    total = max(1, epochs * steps_per_epoch)
    if name is None:
        if decay:
            return keras.optimizers.schedules.InverseTimeDecay(learning_rate, decay_steps=1,
                                                               decay_rate=decay)
        return float(learning_rate)
    if name == "warmup_cosine":
        warmup = min(total - 1, int(round(warmup_epochs * steps_per_epoch)))
        return WarmupCosine(learning_rate, total, max(warmup, 0))
    if name == "one_cycle":
        return OneCycle(learning_rate, total)
    if name == "step":
        boundaries = sorted({max(1, total // 2), max(2, (3 * total) // 4)})
        values = [learning_rate * f for f in (1.0, 0.1, 0.01)][: len(boundaries) + 1]
        return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)
    if name == "plateau":
        return float(learning_rate)  # the training loop lowers it
    raise ValueError(f"lr_schedule must be None or one of {LR_SCHEDULES}; got {name!r}.")
