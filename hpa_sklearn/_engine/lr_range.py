"""The learning-rate range test behind :meth:`hpa_sklearn.HPAClassifier.lr_find`."""

from dataclasses import dataclass

import keras
import numpy as np

_SMOOTHING = 0.98  # exponential moving average of the batch losses (bias-corrected)
_DIVERGED = 4.0  # stop once the smoothed loss exceeds this multiple of its minimum


@dataclass
class LRRangeTest:
    """The result of a learning-rate range test.

    Attributes
    ----------
    learning_rates : ndarray
        The rate of each batch trained (geometric from ``min_lr``).
    losses : ndarray
        The training loss of each batch.
    smoothed : ndarray
        Their exponential moving average (bias-corrected), which the suggestion reads.
    suggestion : float
        The rate where the smoothed loss falls fastest (steepest negative slope against the
        logarithm of the rate, before its minimum): a good ``learning_rate`` to start from.
    """

    learning_rates: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    suggestion: float

    def plot(self, ax=None, path=None):
        """Plot the (smoothed) loss against the learning rate, log scale, the suggestion marked;
        save it to ``path`` when given. Returns the matplotlib axes."""
        import matplotlib

        if path is not None and ax is None:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        own = ax is None
        if own:
            fig, ax = plt.subplots(figsize=(5.5, 3.6))
        ax.plot(self.learning_rates, self.losses, color="#bbbbbb", lw=0.8, label="batch loss")
        ax.plot(self.learning_rates, self.smoothed, color="#264653", lw=1.8, label="smoothed")
        ax.axvline(self.suggestion, color="#e76f51", ls="--",
                   label=f"suggested {self.suggestion:.1e}")
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("training loss")
        ax.set_title("Learning-rate range test")
        top = np.nanmin(self.smoothed) * _DIVERGED if len(self.smoothed) else None
        if top is not None and np.isfinite(top):
            ax.set_ylim(top=max(top, np.nanmax(self.smoothed[: max(1, len(self.smoothed) // 2)])))
        ax.legend(fontsize=8)
        if path is not None:
            from .._io.atomic import save_figure

            ax.figure.tight_layout()
            save_figure(ax.figure, path, dpi=110)
            if own:
                plt.close(ax.figure)
        return ax


def suggest(learning_rates, smoothed):
    """The rate of steepest descent of ``smoothed`` against log(rate), before its minimum."""
    lrs = np.asarray(learning_rates, dtype=float)
    loss = np.asarray(smoothed, dtype=float)
    end = int(np.nanargmin(loss)) + 1 if len(loss) else 0
    if end < 3:
        return float(lrs[max(end - 1, 0)] / 10.0) if len(lrs) else float("nan")
    slopes = np.gradient(loss[:end], np.log(lrs[:end]))
    return float(lrs[int(np.argmin(slopes))])


class _Sweep(keras.callbacks.Callback):
    def __init__(self, rates, verbose):
        super().__init__()
        self.rates = rates
        self.verbose = verbose
        self.losses = []
        self._running = []
        self._best = np.inf
        self._average = 0.0

    def on_train_batch_begin(self, batch, logs=None):
        self.model.optimizer.learning_rate = float(self.rates[len(self.losses)])

    def on_train_batch_end(self, batch, logs=None):
        # Keras reports the running mean of the epoch's batch losses: recover this batch's
        running = float((logs or {}).get("loss", np.nan))
        previous = self._running[-1] if self._running else 0.0
        count = len(self._running)
        self._running.append(running)
        loss = running * (count + 1) - previous * count
        self.losses.append(loss)
        self._average = _SMOOTHING * self._average + (1 - _SMOOTHING) * loss
        smooth = self._average / (1 - _SMOOTHING ** len(self.losses))
        self._best = min(self._best, smooth)
        if (not np.isfinite(smooth) or smooth > _DIVERGED * self._best
                or len(self.losses) >= len(self.rates)):
            self.model.stop_training = True


def run_range_test(model, data, *, min_lr, max_lr, n_steps, verbose=0):
    """Train ``model`` (compiled, with a constant learning rate) on ``n_steps`` batches of
    ``data`` with the rate growing from ``min_lr`` to ``max_lr``; return :class:`LRRangeTest`."""
    rates = np.geomspace(min_lr, max_lr, n_steps)
    sweep = _Sweep(rates, verbose)
    model.fit(data, steps_per_epoch=n_steps, epochs=1, callbacks=[sweep],
              verbose=verbose, shuffle=False)
    losses = np.asarray(sweep.losses)
    smoothed = np.empty_like(losses)
    average = 0.0
    for i, loss in enumerate(losses):
        average = _SMOOTHING * average + (1 - _SMOOTHING) * loss
        smoothed[i] = average / (1 - _SMOOTHING ** (i + 1))
    used = rates[: len(losses)]
    return LRRangeTest(learning_rates=used, losses=losses, smoothed=smoothed,
                       suggestion=suggest(used, smoothed))
