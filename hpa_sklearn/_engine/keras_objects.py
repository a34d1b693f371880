"""The Keras classes the library defines, in one module: the right-angle rotation layer of the
augmentation, the (focal, class-weighted) loss, and the learning-rate schedules. Each is registered
with Keras (package "hpa_sklearn"), so that a saved network holding it loads in any process that
imports this module (:mod:`hpa_sklearn._engine.saving` does). Backend-agnostic: only
``keras.ops``."""

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="hpa_sklearn")
class RandomRot90(keras.layers.Layer):
    """Rotate each image of a batch by a random multiple of 90 degrees (training only).

    Microscopy has no "up": the four right-angle rotations (with flips, the whole dihedral group)
    are exact, lossless augmentations. Needs square images.
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def call(self, inputs, training=False):
        if not training:
            return inputs
        batch = ops.shape(inputs)[0]
        k = keras.random.randint((batch, 1, 1, 1), 0, 4, seed=self.seed_generator)
        transposed = ops.transpose(inputs, (0, 2, 1, 3))
        rot90 = ops.flip(transposed, axis=2)
        rot180 = ops.flip(ops.flip(inputs, axis=1), axis=2)
        rot270 = ops.flip(transposed, axis=1)
        out = ops.where(k == 1, rot90, inputs)
        out = ops.where(k == 2, rot180, out)
        return ops.where(k == 3, rot270, out)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


@keras.saving.register_keras_serializable(package="hpa_sklearn")
class MultilabelFocalLoss(keras.losses.Loss):
    """Mean over labels of the (focal) binary cross-entropy, positives weighted per label.

    ``gamma=0`` and no weights is plain binary cross-entropy. With ``gamma > 0`` each term is
    multiplied by ``(1 - p_t) ** gamma`` (Lin et al., focal loss), which down-weights the many easy
    negatives of rare HPA classes. ``pos_weight`` (one value per label) multiplies the positive terms.
    """

    def __init__(self, gamma=0.0, pos_weight=None, epsilon=1e-7, name="multilabel_focal_loss",
                 **kwargs):
        super().__init__(name=name, **kwargs)
        self.gamma = float(gamma)
        self.pos_weight = None if pos_weight is None else [float(w) for w in pos_weight]
        self.epsilon = float(epsilon)

    def call(self, y_true, y_pred):
        y_pred = ops.cast(y_pred, "float32")
        y_true = ops.cast(y_true, "float32")
        p = ops.clip(y_pred, self.epsilon, 1.0 - self.epsilon)
        positive = -y_true * ops.log(p)
        negative = -(1.0 - y_true) * ops.log(1.0 - p)
        if self.gamma:
            positive = positive * ops.power(1.0 - p, self.gamma)
            negative = negative * ops.power(p, self.gamma)
        if self.pos_weight is not None:
            positive = positive * ops.convert_to_tensor(self.pos_weight, dtype="float32")
        return ops.mean(positive + negative, axis=-1)

    def get_config(self):
        return {
            **super().get_config(),
            "gamma": self.gamma,
            "pos_weight": self.pos_weight,
            "epsilon": self.epsilon,
        }


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
