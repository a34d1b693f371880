"""The Keras model behind :class:`~hpa_sklearn.HPAVGG16Classifier`.

Graph: image (uint8 or float) -> cast and rescale to [0, 1] -> optional resize -> augmentation
layers (training only) -> per-channel standardization -> VGG16 convolutional base (1 to 4 input
channels) -> pooling -> hidden dense layers with dropout -> sigmoid per label (float32).
"""

import os
import warnings

import keras
import numpy as np

# Standard deviation of ImageNet pixels in 0..255 units (mean over R, G, B of 58.4, 57.1, 57.4).
# The ImageNet VGG16 weights expect inputs of that spread ("caffe" preprocessing); standardized inputs
# are scaled to it when pretrained weights are used.
IMAGENET_PIXEL_STD = 57.6

# The ImageNet VGG16 file stores its first kernel for BGR input (caffe order).
_BGR_INDEX = {"blue": 0, "green": 1, "red": 2}
YELLOW_INITS = ("red", "mean", "zeros")


def first_kernel_for_channels(kernel, channels, yellow_init="red"):
    """Adapt the first convolution's ImageNet kernel ``(kh, kw, 3, filters)``, stored in BGR order,
    to inputs whose channels are named ``channels``.

    red, green and blue take their own slice; yellow takes the red slice (as the 2018 winners did),
    the mean of the three slices, or zeros (``yellow_init``); a channel of any other name takes the
    mean of the three.
    """
    kernel = np.asarray(kernel)
    mean = kernel.mean(axis=2)
    slices = []
    for name in channels:
        if name in _BGR_INDEX:
            slices.append(kernel[:, :, _BGR_INDEX[name]])
        elif name == "yellow" and yellow_init == "red":
            slices.append(kernel[:, :, _BGR_INDEX["red"]])
        elif name == "yellow" and yellow_init == "zeros":
            slices.append(np.zeros_like(mean))
        else:
            slices.append(mean)
    return np.stack(slices, axis=2)


def _pretrained_weights(weights):
    """Per-layer weights of the 3-channel VGG16 base from ``"imagenet"`` or a weights file."""
    source = "imagenet" if weights == "imagenet" else os.fspath(weights)
    if source != "imagenet" and not os.path.isfile(source):
        raise FileNotFoundError(
            f"weights file not found: {source}. Pass weights=None, 'imagenet', or the path of a "
            "VGG16 no-top weights file (e.g. vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5)."
        )
    try:
        base = keras.applications.VGG16(include_top=False, weights=source, input_shape=(32, 32, 3))
    except Exception as exc:  # download or file-format failure: say what to do instead
        hint = (
            "the ImageNet weights could not be downloaded"
            if source == "imagenet"
            else f"{source} is not a 3-channel VGG16 no-top weights file"
        )
        raise RuntimeError(
            f"{hint} ({type(exc).__name__}: {exc}). Pass weights=None to train from scratch, or "
            "weights='/path/to/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5' (the Keras "
            "file, which keras.applications.VGG16 caches in ~/.keras/models/)."
        ) from exc
    return {layer.name: layer.get_weights() for layer in base.layers if layer.weights}


def build_network(*, image_shape, n_outputs, input_dtype, mean, variance, channels, weights,
                  yellow_init, input_size, augmentation_layers, pooling, hidden_units, activation,
                  dropout, seed):
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
    pretrained = weights is not None
    if pretrained:
        variance = np.asarray(variance) / (IMAGENET_PIXEL_STD / 255.0) ** 2
    x = keras.layers.Normalization(axis=-1, mean=mean, variance=variance, name="standardize")(x)
    with warnings.catch_warnings():  # "usually expects 1 or 3 input channels": 2 and 4 are ours
        warnings.filterwarnings("ignore", message=".*input channels", category=UserWarning)
        base = keras.applications.VGG16(include_top=False, weights=None,
                                        input_shape=(height, width, n_channels))
    if not pretrained:
        # Keras' VGG16 initializes with Glorot, under which the signal of 13 plain ReLU convolutions
        # fades and training from scratch stalls; He initialization (He et al. 2015, who trained
        # VGG from scratch with it) keeps it alive.
        convolutions = [layer for layer in base.layers if isinstance(layer, keras.layers.Conv2D)]
        for i, layer in enumerate(convolutions):
            he = keras.initializers.HeNormal(seed=seed + i)
            layer.kernel.assign(he(layer.kernel.shape))
    if pretrained:
        source = _pretrained_weights(weights)
        for layer in base.layers:
            if layer.name in source:
                values = source[layer.name]
                if layer.name == "block1_conv1":
                    values = [first_kernel_for_channels(values[0], channels, yellow_init), values[1]]
                layer.set_weights(values)
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
    return keras.Model(inputs, outputs, name="hpa_vgg16")
