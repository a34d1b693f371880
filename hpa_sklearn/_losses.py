"""The training loss: binary cross-entropy per label, optionally focal and class-weighted."""

import keras
from keras import ops


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
