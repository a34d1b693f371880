"""Image transformers: :class:`ChannelSelector` (pick, reorder or mix stain channels) and
:class:`ImageAugmenter` (the augmentation policy, as a transformer or inside the classifier)."""

import numbers

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted

from ._validation import check_image_array
from .exceptions import InputError
from ._constants import CHANNELS, HPA_DISPLAY_COLOURS

# Named channel choices. "hpa_display" is the HPA's RGB rendering of the four stains.
CHANNEL_PRESETS = {
    "all": ("red", "green", "blue", "yellow"),
    "rgb": ("red", "green", "blue"),
    "hpa_display": tuple(
        {name: colour[k] for name, colour in HPA_DISPLAY_COLOURS.items() if colour[k]}
        for k in range(3)
    ),
}


def _channel_label(spec):
    if isinstance(spec, (str, numbers.Integral)):
        return str(spec)
    return "+".join(f"{w:g}*{name}" for name, w in spec.items())


class ChannelSelector(TransformerMixin, BaseEstimator):
    """Select, reorder or mix the stain channels on the last axis of an image array.

    Works on any array whose last axis holds the channels: images ``(n, height, width,
    channels)``, or a table ``(n, channels)`` of per-sample or per-pixel values.

    Parameters
    ----------
    channels : str or sequence, default="all"
        The output channels, in order. Each item is a channel name of ``input_channels``, an integer
        position on the last axis, or a mapping ``{name or position: weight}`` whose weighted sum
        forms a mixed channel (clipped to 0..255 and rounded for uint8 input). Presets: ``"all"``
        (red, green, blue, yellow), ``"rgb"`` (the original report's three channels: red, green,
        blue) and ``"hpa_display"`` (red + yellow/2, green + yellow/2, blue: the HPA's RGB rendering
        of the four stains).
    input_channels : sequence of str or None, default=("red", "green", "blue", "yellow")
        Names of the input's channels, in the order of its last axis. None: the channels are
        unnamed and ``channels`` must use positions.

    Attributes
    ----------
    channels_out_ : tuple of str
        Names of the output channels (a mix is written ``"1*red+0.5*yellow"``).
    n_features_in_ : int
        Number of input channels (the last axis) seen in :meth:`fit`.

    See Also
    --------
    hpa_sklearn.HPAVGG16Classifier : Takes the selected channels.

    Notes
    -----
    A selection of adjacent channels in their order (``"rgb"`` of RGBY input) is returned as a view:
    a memory-mapped image set stays on disk. Any other selection or mix makes a copy of the output
    size; on data too large for memory choose the channels when loading
    (``load_hpa(channels=...)``) instead.

    Examples
    --------
    >>> import numpy as np
    >>> from hpa_sklearn import ChannelSelector
    >>> X = np.zeros((2, 32, 32, 4), dtype=np.uint8); X[..., 3] = 200; X[..., 0] = 100
    >>> selector = ChannelSelector("hpa_display").fit(X)
    >>> selector.channels_out_
    ('1*red+0.5*yellow', '1*green+0.5*yellow', '1*blue')
    >>> Xt = selector.transform(X)
    >>> Xt.shape, Xt.dtype, int(Xt[0, 0, 0, 0]), int(Xt[0, 0, 0, 1])
    ((2, 32, 32, 3), dtype('uint8'), 200, 100)
    """

    def __init__(self, channels="all", input_channels=CHANNELS):
        self.channels = channels
        self.input_channels = input_channels

    def _position(self, key, j, n_in):
        names = self.input_channels
        if isinstance(key, numbers.Integral) and not isinstance(key, bool):
            if not 0 <= key < (n_in if names is None else len(names)):
                raise InputError(
                    f"channels[{j}] is position {key}, outside the "
                    f"{n_in if names is None else len(names)} input channels."
                )
            return int(key)
        if names is None:
            raise InputError(
                f"channels[{j}] names {key!r} but input_channels=None (unnamed channels); use "
                "integer positions or set input_channels."
            )
        if key not in names:
            raise InputError(
                f"channels[{j}] names {key!r}, which is not an input channel; "
                f"input_channels={tuple(names)}."
            )
        return list(names).index(key)

    def _weights(self, n_in):
        """The (n_in, n_out) mixing matrix, the output names, and whether it is a plain selection."""
        spec = self.channels
        if isinstance(spec, str):
            if spec not in CHANNEL_PRESETS:
                raise InputError(
                    f"channels={spec!r} is not a preset; use one of {sorted(CHANNEL_PRESETS)} or "
                    "a list of channel names or positions."
                )
            spec = CHANNEL_PRESETS[spec]
        spec = list(spec)
        if not spec:
            raise InputError("channels is empty; select at least one channel.")
        matrix = np.zeros((n_in, len(spec)))
        for j, item in enumerate(spec):
            mix = {item: 1.0} if not isinstance(item, dict) else dict(item)
            if not mix:
                raise InputError(f"channels[{j}] is an empty mix.")
            for key, weight in mix.items():
                if not isinstance(weight, numbers.Real) or not np.isfinite(weight):
                    raise InputError(f"channels[{j}]: weight of {key!r} must be a finite number.")
                matrix[self._position(key, j, n_in), j] = weight
        labels = tuple(_channel_label(item) for item in spec)
        plain = not any(isinstance(item, dict) for item in spec)
        return matrix, labels, plain

    def _check_X(self, X, reset):
        names = self.input_channels
        if names is not None and (
            isinstance(names, str) or len(names) == 0 or len(set(names)) != len(names)
        ):
            raise InputError(f"input_channels must be distinct channel names or None; got {names!r}.")
        X = check_array(X, allow_nd=True, dtype="numeric", ensure_all_finite=True)
        n_in = X.shape[-1]
        expected = n_in if reset else self.n_features_in_
        if self.input_channels is not None and reset and n_in != len(self.input_channels):
            raise InputError(
                f"X has {n_in} channels on its last axis but input_channels names "
                f"{len(self.input_channels)} ({tuple(self.input_channels)}); set input_channels "
                "to the input's channels."
            )
        if n_in != expected:
            raise InputError(
                f"X has {n_in} features, but ChannelSelector is expecting {expected} features "
                "as input (channels on the last axis)."
            )
        return X

    def fit(self, X, y=None):
        """Check ``X`` and the channel choice; learns nothing from the data.

        Parameters
        ----------
        X : array of shape (..., n_input_channels)
        y : ignored

        Returns
        -------
        self : ChannelSelector
        """
        X = self._check_X(X, reset=True)
        _, self.channels_out_, _ = self._weights(X.shape[-1])
        self.n_features_in_ = X.shape[-1]
        return self

    def transform(self, X):
        """Return ``X`` with the chosen channels; the dtype is kept (mixes of integers: float64).

        Parameters
        ----------
        X : array of shape (..., n_input_channels)

        Returns
        -------
        X_out : array of shape (..., n_output_channels)
        """
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        matrix, _, plain = self._weights(X.shape[-1])
        if plain:
            positions = np.argmax(matrix, axis=0)
            first = positions[0]
            if np.array_equal(positions, np.arange(first, first + len(positions))):
                # a contiguous run of channels: a view, so a memmap stays on disk
                return X[..., first : first + len(positions)]
            return X[..., positions]
        dtype = X.dtype if np.issubdtype(X.dtype, np.floating) else np.float64
        mixed = np.tensordot(X.astype(dtype, copy=False), matrix.astype(dtype), axes=([-1], [0]))
        if X.dtype == np.uint8:
            return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
        return mixed

    def get_feature_names_out(self, input_features=None):
        """Names of the output channels."""
        check_is_fitted(self)
        return np.asarray(self.channels_out_, dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


class ImageAugmenter(TransformerMixin, BaseEstimator):
    """The augmentation policy: random flips, right-angle rotations, rotation, zoom, shifts and
    brightness, as Keras preprocessing layers.

    Two uses:

    * handed to :class:`~hpa_sklearn.HPAVGG16Classifier` (``augmentation=ImageAugmenter(...)``) it
      becomes layers of the network, active in training only, with a fresh random draw for every
      image of every epoch, on the device; prediction is untouched. This is the recommended use.
    * as a Pipeline step, ``fit_transform`` returns ONE augmented copy of the training images and
      ``transform`` returns its input unchanged, so test data is never augmented.

    Parameters
    ----------
    rotation : float, default=20.0
        Largest rotation, in degrees, either way (0 disables).
    zoom : float, default=0.1
        Largest zoom in or out, as a fraction (0 disables).
    shift : float, default=0.1
        Largest shift along each axis, as a fraction of the size (0 disables).
    horizontal_flip, vertical_flip : bool, default=True
        Random mirror images.
    rot90 : bool, default=True
        Random rotation by 0, 90, 180 or 270 degrees (square images; microscopy has no "up").
    brightness : float, default=0.1
        Largest brightness change, as a fraction of the value range (0 disables).
    fill_mode : {"reflect", "constant", "nearest", "wrap"}, default="reflect"
        How pixels outside the image are filled after rotation, zoom and shifts.
    random_state : int, RandomState or None, default=None
        Seed of the random draws; in the classifier, None takes the classifier's ``random_state``.

    Attributes
    ----------
    n_channels_in_ : int
        Channels of the images seen in :meth:`fit`.

    Examples
    --------
    >>> import numpy as np
    >>> from hpa_sklearn import ImageAugmenter
    >>> X = np.random.default_rng(0).integers(0, 255, (4, 32, 32, 4), dtype=np.uint8)
    >>> augmenter = ImageAugmenter(random_state=0)
    >>> X_aug = augmenter.fit_transform(X)      # one augmented copy
    >>> X_aug.shape, X_aug.dtype, bool((X_aug != X).any())
    ((4, 32, 32, 4), dtype('uint8'), True)
    >>> augmenter.transform(X) is X            # test data is never augmented
    True
    """

    _BATCH = 64

    def __init__(self, rotation=20.0, zoom=0.1, shift=0.1, horizontal_flip=True,
                 vertical_flip=True, rot90=True, brightness=0.1, fill_mode="reflect",
                 random_state=None):
        self.rotation = rotation
        self.zoom = zoom
        self.shift = shift
        self.horizontal_flip = horizontal_flip
        self.vertical_flip = vertical_flip
        self.rot90 = rot90
        self.brightness = brightness
        self.fill_mode = fill_mode
        self.random_state = random_state

    def _check_params(self):
        for name, upper in (("rotation", 180.0), ("zoom", 0.9), ("shift", 0.9), ("brightness", 1.0)):
            value = getattr(self, name)
            if not isinstance(value, numbers.Real) or not 0 <= value <= upper:
                raise InputError(f"{name} must be a number in [0, {upper}]; got {value!r}.")
        if self.fill_mode not in ("reflect", "constant", "nearest", "wrap"):
            raise InputError(
                f"fill_mode must be 'reflect', 'constant', 'nearest' or 'wrap'; got {self.fill_mode!r}."
            )

    def make_layers(self, seed=None, *, value_range=(0.0, 1.0), image_shape=None):
        """The Keras layers of this policy (training-only augmentation), for a model of one's own.

        Parameters
        ----------
        seed : int, default=None
            Seeds the layers (each its own stream); None uses ``random_state``.
        value_range : tuple of float, default=(0.0, 1.0)
            The pixel range the layers see (for the brightness change).
        image_shape : tuple, default=None
            ``(height, width, channels)`` of the images the layers will see; checked against
            the policy (``rot90`` needs square images) so that a mismatch fails here, before any
            training, and not inside the Keras graph.

        Returns
        -------
        layers : list of keras.layers.Layer
        """
        import keras

        from ._engine.keras_objects import RandomRot90

        self._check_params()
        if image_shape is not None and self.rot90 and image_shape[0] != image_shape[1]:
            raise InputError(
                f"ImageAugmenter(rot90=True) needs square images; the network sees "
                f"{image_shape[0]}x{image_shape[1]} px. Set rot90=False, or make the images "
                "square (load_hpa resizes to squares; input_size= resizes inside the network)."
            )
        seed = self._seed() if seed is None else int(seed)
        layers = []
        flips = {(True, True): "horizontal_and_vertical", (True, False): "horizontal",
                 (False, True): "vertical"}.get((bool(self.horizontal_flip), bool(self.vertical_flip)))
        if flips:
            layers.append(keras.layers.RandomFlip(flips, seed=seed))
        if self.rot90:
            layers.append(RandomRot90(seed=seed + 1))
        if self.rotation:
            layers.append(keras.layers.RandomRotation(
                self.rotation / 360.0, fill_mode=self.fill_mode, seed=seed + 2))
        if self.zoom:
            layers.append(keras.layers.RandomZoom(
                (-self.zoom, self.zoom), fill_mode=self.fill_mode, seed=seed + 3))
        if self.shift:
            layers.append(keras.layers.RandomTranslation(
                self.shift, self.shift, fill_mode=self.fill_mode, seed=seed + 4))
        if self.brightness:
            layers.append(keras.layers.RandomBrightness(
                self.brightness, value_range=value_range, seed=seed + 5))
        return layers

    def _seed(self, fallback=None):
        if self.random_state is None and fallback is not None:
            return int(fallback)
        return int(check_random_state(self.random_state).randint(0, 2**31 - 16))

    def layer_seed(self, fallback):
        """The seed :meth:`make_layers` gets inside a classifier: ``random_state`` when it is
        set, else the classifier's ``fallback`` seed."""
        return self._seed(fallback=fallback)

    def fit(self, X, y=None):
        """Check the images and the policy.

        Parameters
        ----------
        X : array of shape (n_samples, height, width, channels)
        y : ignored

        Returns
        -------
        self : ImageAugmenter
        """
        self._check_params()
        X = check_image_array(X, min_size=1)
        if self.rot90 and X.shape[1] != X.shape[2]:
            raise InputError(
                f"rot90=True needs square images; got {X.shape[1]}x{X.shape[2]}. Set rot90=False."
            )
        self.n_channels_in_ = X.shape[-1]
        return self

    def transform(self, X):
        """Return ``X`` unchanged (held-out and test images are never augmented).

        Parameters
        ----------
        X : array of shape (n_samples, height, width, channels)

        Returns
        -------
        X : the same array
        """
        check_is_fitted(self)
        return check_image_array(X, min_size=1, n_channels=self.n_channels_in_)

    def fit_transform(self, X, y=None, **fit_params):
        """Fit, then return one augmented copy of ``X`` (same shape and dtype).

        Parameters
        ----------
        X : array of shape (n_samples, height, width, channels)
        y : ignored

        Returns
        -------
        X_augmented : array like ``X``
        """
        from keras import ops

        self.fit(X)
        is_uint8 = X.dtype == np.uint8
        top = 255.0 if is_uint8 else 1.0
        layers = self.make_layers(self._seed(), value_range=(0.0, top))
        out = np.empty_like(X)
        for start in range(0, len(X), self._BATCH):
            batch = np.asarray(X[start : start + self._BATCH], dtype=np.float32)
            for layer in layers:
                batch = layer(batch, training=True)
            batch = ops.convert_to_numpy(batch)
            if is_uint8:
                batch = np.clip(np.rint(batch), 0, 255)
            out[start : start + self._BATCH] = batch
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.non_deterministic = self.random_state is None
        return tags
