"""Custom Keras objects of the network (backend-agnostic: only ``keras.ops``), registered so that a
saved ``.keras`` model loads back without extra arguments."""

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
