"""The backbones :class:`~hpa_sklearn.HPAClassifier` can use: which ``keras.applications``
network, how its ImageNet weights expect their input, and how their first kernel is extended to the
HPA's four stains.

Every backbone takes images of any size >= 32 px and 1 to 4 channels. "smallcnn" is the one not
from ``keras.applications``: a plain batch-normalized CNN (8 convolutions, 1.2 M weights) that
trains from scratch only, about 6 times faster per image than VGG16 on a CPU. With pretrained
weights the network is built for the input's channels and the 3-channel ImageNet weights are
copied layer by layer; the one kernel whose input axis differs (the first convolution's) is
mapped channel by channel (:func:`extend_first_kernel`; also for 3 channels, whose order may
differ from the kernel's). That kernel is found as the first one over 3 input channels, not by
layer name, so the same code serves every architecture.

Examples
--------
>>> from hpa_sklearn.backbones import BACKBONES, get_backbone
>>> sorted(BACKBONES)
['densenet121', 'efficientnetv2b0', 'mobilenetv3small', 'resnet50', 'smallcnn', 'vgg16']
>>> get_backbone("densenet121").kernel_order
'rgb'
"""

import os
import warnings
from dataclasses import dataclass, field

import numpy as np
from ..exceptions import InputError, WeightsUnavailableError

# Standard deviation of ImageNet pixels in 0..255 units (mean over R, G, B of 58.4, 57.1, 57.4).
IMAGENET_PIXEL_STD = 57.6
YELLOW_INITS = ("red", "mean", "zeros")
_MIN_SIZE = 32


@dataclass(frozen=True)
class Backbone:
    """One entry of :data:`BACKBONES`.

    Attributes
    ----------
    name : str
        The value of ``backbone``.
    application : str
        The ``keras.applications`` constructor, or the name of a network defined here (then
        without pretrained weights).
    options : dict
        Extra keyword arguments of the constructor (e.g. no built-in preprocessing: inputs are
        standardized by the classifier).
    kernel_order : {"bgr", "rgb"}
        Channel order of the pretrained first kernel ("caffe" weights are BGR).
    input_std : float
        Spread of the inputs the ImageNet weights were trained on: standardized images are
        multiplied by it (57.6 for "caffe" 0..255 inputs, 1 for "torch" standardized inputs,
        0.45 for "tf" inputs in -1..1).
    he_init : bool
        From scratch, re-initialize the convolutions with He et al.'s scheme (for networks
        without normalization layers, whose signal fades under Keras' Glorot default).
    note : str
        What the backbone is good for.
    cam_layer : str or None
        The layer of the backbone whose feature map Grad-CAM weighs
        (:meth:`~hpa_sklearn.HPAClassifier.explain`): its last convolutional block, named here
        where the backbone's output is not that block (VGG16's ends with a max pooling, which
        halves the map); None means the backbone's output. The layer must cut the backbone's
        graph (no skip connection around it).
    """

    name: str
    application: str
    options: dict = field(default_factory=dict)
    kernel_order: str = "rgb"
    input_std: float = 1.0
    he_init: bool = False
    note: str = ""
    cam_layer: str = None

    @property
    def pretrained(self):
        """Whether ImageNet weights exist for this backbone."""
        return self.application not in _OWN_NETWORKS

    def check_weights(self, weights):
        """A ``ValueError`` where ``weights`` are asked of a backbone that has none."""
        if weights is not None and not self.pretrained:
            raise InputError(f"backbone {self.name!r} has no pretrained weights; got weights="
                             f"{weights!r}. Pass weights=None (it trains from scratch) or choose "
                             "another backbone.")


BACKBONES = {
    spec.name: spec
    for spec in (
        Backbone("vgg16", "VGG16", kernel_order="bgr", input_std=IMAGENET_PIXEL_STD,
                 he_init=True, cam_layer="block5_conv3",
                 note="the original report's network (13 plain convolutions, 15 M weights, no "
                      "normalization)"),
        Backbone("resnet50", "ResNet50", kernel_order="bgr", input_std=IMAGENET_PIXEL_STD,
                 note="residual, batch-normalized (24 M weights)"),
        Backbone("densenet121", "DenseNet121", kernel_order="rgb", input_std=1.0,
                 note="the 2018 competition's 1st place backbone (7 M weights)"),
        Backbone("efficientnetv2b0", "EfficientNetV2B0", {"include_preprocessing": False},
                 kernel_order="rgb", input_std=IMAGENET_PIXEL_STD / 127.5,
                 note="EfficientNetV2-B0 (6 M weights)"),
        Backbone("mobilenetv3small", "MobileNetV3Small", {"include_preprocessing": False},
                 kernel_order="rgb", input_std=IMAGENET_PIXEL_STD / 127.5,
                 note="small and fast: the one that trains well on a CPU (1 M weights)"),
        Backbone("smallcnn", "SmallCNN", {"widths": (32, 64, 128, 256)},
                 note="a plain batch-normalized CNN from scratch (8 convolutions, 1.2 M weights; "
                      "no pretrained weights): quick on a CPU"),
    )
}


def small_cnn(input_shape, widths=(32, 64, 128, 256), seed=0, name="smallcnn"):
    """A plain batch-normalized CNN: per width, two 3x3 convolutions (batch norm, ReLU), then
    2x2 max pooling between the blocks. No top; He-initialized from ``seed``.

    Examples
    --------
    >>> from hpa_sklearn.backbones import small_cnn
    >>> small_cnn((32, 32, 4)).output_shape
    (None, 4, 4, 256)
    """
    import keras

    x = inputs = keras.Input(shape=tuple(input_shape), name="image")
    for i, width in enumerate(widths):
        if i:
            x = keras.layers.MaxPooling2D(name=f"block{i + 1}_pool")(x)
        for j in range(2):
            x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False,
                                    kernel_initializer=keras.initializers.HeNormal(
                                        seed=seed + 2 * i + j),
                                    name=f"block{i + 1}_conv{j + 1}")(x)
            x = keras.layers.BatchNormalization(name=f"block{i + 1}_bn{j + 1}")(x)
            x = keras.layers.Activation("relu", name=f"block{i + 1}_relu{j + 1}")(x)
    return keras.Model(inputs, x, name=name)


_OWN_NETWORKS = {"SmallCNN": small_cnn}


def get_backbone(name):
    """The :class:`Backbone` named ``name``; a ``ValueError`` lists the names otherwise."""
    try:
        return BACKBONES[name]
    except (KeyError, TypeError):
        raise InputError(
            f"backbone must be one of {sorted(BACKBONES)}; got {name!r}."
        ) from None


def _index(order):
    return {name: i for i, name in enumerate(("blue", "green", "red") if order == "bgr"
                                             else ("red", "green", "blue"))}


def extend_first_kernel(kernel, channels, yellow_init="red", kernel_order="rgb"):
    """Map a pretrained first kernel ``(kh, kw, 3, filters)`` to inputs named ``channels``.

    red, green and blue take their own slice (``kernel_order`` says where it is stored); yellow
    takes the red slice (as the 2018 winners did), the mean of the three, or zeros
    (``yellow_init``); a channel of any other name takes the mean of the three.

    Examples
    --------
    >>> import numpy as np
    >>> from hpa_sklearn.backbones import extend_first_kernel
    >>> kernel = np.arange(3.0).reshape(1, 1, 3, 1)  # stored B, G, R
    >>> extend_first_kernel(kernel, ("red", "green", "blue", "yellow"), "red", "bgr").ravel()
    array([2., 1., 0., 2.])
    """
    kernel = np.asarray(kernel)
    index = _index(kernel_order)
    mean = kernel.mean(axis=2)
    slices = []
    for name in channels:
        if name in index:
            slices.append(kernel[:, :, index[name]])
        elif name == "yellow" and yellow_init == "red":
            slices.append(kernel[:, :, index["red"]])
        elif name == "yellow" and yellow_init == "zeros":
            slices.append(np.zeros_like(mean))
        else:
            slices.append(mean)
    return np.stack(slices, axis=2)


def _construct(spec, input_shape, weights, seed=0):
    import keras

    if not spec.pretrained:
        return _OWN_NETWORKS[spec.application](input_shape, seed=seed, **spec.options)
    constructor = getattr(keras.applications, spec.application)
    with warnings.catch_warnings():  # "usually expects 1 or 3 input channels": 2 and 4 are ours
        warnings.filterwarnings("ignore", message=".*input channels", category=UserWarning)
        warnings.filterwarnings("ignore", message=".*input_shape.*is undefined or non-square",
                                category=UserWarning)
        warnings.filterwarnings("ignore", message=".*weights for input shape", category=UserWarning)
        return constructor(include_top=False, weights=weights, input_shape=input_shape,
                           **spec.options)


def pretrained_source(spec, weights):
    """The 3-channel backbone with ``weights`` ("imagenet", downloaded once and cached by Keras, or
    a file), or a :class:`~hpa_sklearn.exceptions.WeightsUnavailableError` saying what to do."""
    spec.check_weights(weights)
    source = "imagenet" if weights == "imagenet" else os.fspath(weights)
    if source != "imagenet" and not os.path.isfile(source):
        raise FileNotFoundError(
            f"weights file not found: {source}. Pass weights=None, 'imagenet', or the path of a "
            f"{spec.application} no-top weights file."
        )
    try:
        return _construct(spec, (_MIN_SIZE, _MIN_SIZE, 3), source)
    except Exception as exc:  # download or file-format failure: say what to do instead
        hint = ("the ImageNet weights could not be downloaded" if source == "imagenet"
                else f"{source} is not a 3-channel {spec.application} no-top weights file")
        error = WeightsUnavailableError(
            f"{hint} ({type(exc).__name__}: {str(exc)[:200]}). Pass weights=None to train from "
            f"scratch, or weights='/path/to/{spec.application.lower()}_notop weights file' "
            "(Keras caches downloaded ones in ~/.keras/models/)."
        )
        error.reason = f"{hint}: {type(exc).__name__}: {str(exc)[:200]}"
        raise error from None


def build_backbone(name, input_shape, *, weights=None, channels=None, yellow_init="red",
                   seed=0):
    """The convolutional base of backbone ``name`` for images of ``input_shape`` (no top).

    Parameters
    ----------
    name : str
        A key of :data:`BACKBONES`.
    input_shape : tuple
        ``(height, width, channels)``, sides >= 32, 1 to 4 channels.
    weights : None, "imagenet" or path
        Random initialization, or 3-channel pretrained weights copied into the network (the first
        kernel extended to ``channels``).
    channels : sequence of str
        Names of the input channels (default: red, green, blue, yellow truncated).
    yellow_init : {"red", "mean", "zeros"}
    seed : int
        Seeds the He initialization of backbones without normalization, from scratch.

    Returns
    -------
    keras.Model
    """
    import keras

    spec = get_backbone(name)
    height, width, n_channels = input_shape
    if min(height, width) < _MIN_SIZE:
        raise InputError(f"backbone {name!r} needs images of at least {_MIN_SIZE} px; got "
                         f"{height}x{width}.")
    channels = tuple(channels) if channels is not None else (
        ("green",) if n_channels == 1 else ("red", "green", "blue", "yellow")[:n_channels])
    spec.check_weights(weights)
    base = _construct(spec, tuple(input_shape), None, seed=seed)
    if weights is None:
        if spec.he_init:
            convolutions = [layer for layer in base.layers
                            if isinstance(layer, keras.layers.Conv2D)]
            for i, layer in enumerate(convolutions):
                layer.kernel.assign(keras.initializers.HeNormal(seed=seed + i)(layer.kernel.shape))
        return base
    source = pretrained_source(spec, weights)
    target_layers = [layer for layer in base.layers if layer.weights]
    source_layers = [layer for layer in source.layers if layer.weights]
    if len(target_layers) != len(source_layers):
        raise InputError(f"{spec.application}: {len(source_layers)} layers with weights in the "
                           f"pretrained network, {len(target_layers)} in ours.")
    first = next(i for i, layer in enumerate(source_layers)
                 if layer.weights[0].ndim == 4 and layer.weights[0].shape[2] == 3)
    for i, (target, origin) in enumerate(zip(target_layers, source_layers)):
        values = origin.get_weights()
        if i == first:  # the first convolution: its kernel takes the input's channels
            values = [extend_first_kernel(values[0], channels, yellow_init, spec.kernel_order),
                      *values[1:]]
        shapes = [w.shape for w in target.get_weights()]
        if [v.shape for v in values] != shapes:
            raise InputError(
                f"{spec.application}: layer {target.name} has weights of shapes {shapes}, the "
                f"pretrained one {[v.shape for v in values]}; only the first convolution's "
                "input channels may differ."
            )
        target.set_weights(values)
    return base
