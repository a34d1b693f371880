"""The Keras model behind :class:`~hpa_sklearn.HPAClassifier`.

Graph: image (uint8 or float) -> cast and rescale to [0, 1] -> optional resize -> augmentation
layers (training only) -> per-channel standardization (to the spread the backbone's pretrained
weights expect) -> convolutional base of the backbone (1 to 4 input channels) -> pooling -> hidden
dense layers with dropout -> sigmoid per label (float32).
"""

import keras
import numpy as np

from .backbones import build_backbone, get_backbone

def build_network(*, backbone, image_shape, n_outputs, input_dtype, mean, variance, channels,
                  weights, yellow_init, input_size, augmentation_layers, pooling, hidden_units,
                  activation, dropout, seed):
    """Build (not compile) the classifier network; see the module docstring for the graph.

    Every random initializer and dropout layer gets its own seed derived from ``seed``: nothing
    draws from Python's global ``random``, which other threads of the process (a Dask worker's
    event loop, say) may consume at any time.
    """
    height, width, n_channels = image_shape
    inputs = keras.Input(shape=image_shape, dtype=input_dtype, name="image")
    scale = 1.0 / 255.0 if input_dtype == "uint8" else 1.0
    x = keras.layers.Rescaling(scale, name="rescale")(inputs)
    if input_size is not None and (input_size, input_size) != (height, width):
        x = keras.layers.Resizing(input_size, input_size, interpolation="bilinear",
                                  antialias=True, name="resize")(x)
        height = width = input_size
    for layer in augmentation_layers:
        x = layer(x)
    spec = get_backbone(backbone)
    target_std = spec.input_std if weights is not None else 1.0
    x = keras.layers.Normalization(axis=-1, mean=mean,
                                   variance=np.asarray(variance) / target_std**2,
                                   name="standardize")(x)
    base = build_backbone(backbone, (height, width, n_channels), weights=weights,
                          channels=channels, yellow_init=yellow_init, seed=seed)
    x = base(x)
    if pooling == "avg":
        x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    elif pooling == "max":
        x = keras.layers.GlobalMaxPooling2D(name="pool")(x)
    else:
        x = keras.layers.Flatten(name="pool")(x)
    for i, units in enumerate(hidden_units):
        x = keras.layers.Dense(units, activation=activation, name=f"hidden_{i}",
                               kernel_initializer=keras.initializers.GlorotUniform(seed + 100 + i))(x)
        if dropout:
            x = keras.layers.Dropout(dropout, seed=seed + 200 + i, name=f"dropout_{i}")(x)
    outputs = keras.layers.Dense(n_outputs, activation="sigmoid", dtype="float32", name="labels",
                                 kernel_initializer=keras.initializers.GlorotUniform(seed + 300))(x)
    return keras.Model(inputs, outputs, name=f"hpa_{backbone}")
