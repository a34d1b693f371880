"""``HPAVGG16Classifier``: VGG16 (Keras 3) as a scikit-learn multi-label classifier of HPA images."""

import contextlib
import json
import numbers
import os
import random
from pathlib import Path

import keras
import numpy as np
from scikeras.wrappers import KerasClassifier
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_random_state
from sklearn.utils._tags import ClassifierTags

from ._decision import apply_thresholds
from ._feeding import ImageBatches
from ._losses import MultilabelFocalLoss
from .metrics import macro_f1
from ._network import YELLOW_INITS, build_network
from ._validation import check_image_array, check_label_matrix, check_thresholds
from .datasets._constants import CHANNELS
from .preprocessing import ImageAugmenter

_OPTIMIZERS = {"adam": "Adam", "adagrad": "Adagrad", "adamax": "Adamax", "sgd": "SGD",
               "rmsprop": "RMSprop", "adamw": "AdamW", "nadam": "Nadam"}
_STATS_SAMPLES = 512  # images used to estimate the per-channel mean and variance
_SAVE_FORMAT = 1


@contextlib.contextmanager
def _seeded(seed):
    """Seed Python, NumPy and the Keras backend for reproducible weights, dropout and batches, and
    restore the caller's Python and NumPy random states afterwards."""
    py_state, np_state = random.getstate(), np.random.get_state()
    determinism = None
    try:
        keras.utils.set_random_seed(seed)
        if keras.backend.backend() == "tensorflow":  # guarded: TensorFlow-only switch
            from tensorflow.python.framework import config as tf_config

            determinism = tf_config.is_op_determinism_enabled()
            tf_config.enable_op_determinism()
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
        if determinism is False:
            from tensorflow.python.framework import config as tf_config

            tf_config.disable_op_determinism()


@contextlib.contextmanager
def _dtype_policy(name):
    """Create layers under the Keras dtype policy ``name`` (None: leave the policy as it is)."""
    previous = keras.config.dtype_policy()
    if name is not None:
        keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _channel_moments(X, rows, scale):
    """Per-channel mean and variance of ``X[rows] * scale``, in chunks (no float copy of X)."""
    total = np.zeros(X.shape[-1])
    total_sq = np.zeros(X.shape[-1])
    count = 0
    for start in range(0, len(rows), 64):
        chunk = np.asarray(X[np.sort(rows[start : start + 64])], dtype=np.float64) * scale
        total += chunk.sum(axis=(0, 1, 2))
        total_sq += np.square(chunk).sum(axis=(0, 1, 2))
        count += chunk.shape[0] * chunk.shape[1] * chunk.shape[2]
    mean = total / count
    variance = np.maximum(total_sq / count - mean**2, 1e-6)
    return mean, variance


def _default_channels(n_channels):
    """Channel names assumed when ``channels=None``: RGBY order truncated, green alone for one."""
    return ("green",) if n_channels == 1 else CHANNELS[:n_channels]


class HPAVGG16Classifier(KerasClassifier):
    """VGG16 multi-label classifier of HPA fluorescence images, as a scikit-learn estimator.

    A subclass of scikeras' ``KerasClassifier`` that takes image arrays ``(n, height, width,
    channels)`` (uint8 0..255 or float 0..1, 1 to 4 channels in the order red, green, blue, yellow)
    and a 0/1 label matrix ``(n, n_labels)``. Batches are fed from the array as it is (a memory-mapped
    cache from :func:`~hpa_sklearn.datasets.load_hpa` included): neither a float copy nor a backend
    copy of the whole set is made. Inside the network each batch is cast, rescaled, optionally
    resized and augmented (training only), and standardized per channel.

    The defaults are the original report's chosen values: batch 64, Adam, learning rate 1e-4 with
    Keras 2 decay 5e-5, relu, dropout 0.2, binary cross-entropy, threshold 0.5.

    Parameters
    ----------
    weights : None, "imagenet" or path, default="imagenet"
        Initial weights of the VGG16 base: random (None), ImageNet (downloaded once by Keras), or a
        VGG16 no-top weights file in the ImageNet layout. With 1, 2 or 4 channels the first
        convolution's 3-channel kernel is adapted (see ``yellow_init``).
    input_size : int, default=None
        Resize images to this side inside the network (None: use them as they come; >= 32).
    channels : sequence of str, default=None
        Names of the input channels, used to map the pretrained first kernel. None assumes
        ("red", "green", "blue", "yellow")[:n] (and ("green",) for one channel).
    yellow_init : {"red", "mean", "zeros"}, default="red"
        First-kernel slice for the yellow channel with pretrained weights: a copy of the red slice
        (the 2018 winners' choice), the mean of the three, or zeros.
    pooling : {"avg", "max", "flatten"}, default="avg"
        How the last feature map becomes a vector.
    hidden_units : int or sequence of int, default=512
        Sizes of the hidden dense layers of the head (() for none).
    activation : str, default="relu"
        Activation of the hidden layers (the report tuned "relu", "sigmoid", "tanh").
    dropout : float, default=0.2
        Dropout rate after each hidden layer.
    optimizer : str or keras.optimizers.Optimizer, default="adam"
        "adam", "adagrad", "adamax" (the report's table), "sgd", "rmsprop", "adamw", "nadam", or an
        optimizer instance (used as given: ``learning_rate`` and ``decay`` then do not apply).
    learning_rate : float, default=1e-4
        Initial learning rate.
    decay : float, default=5e-5
        Keras 2's ``decay``: the rate at step t is ``learning_rate / (1 + decay * t)``.
    batch_size : int, default=64
        Images per training and prediction batch.
    epochs : int, default=10
        Passes over the training data (the resource of a successive-halving search).
    loss : {"binary_crossentropy", "focal"}, default="binary_crossentropy"
        Per-label binary cross-entropy, or focal loss with ``focal_gamma``.
    focal_gamma : float, default=2.0
        Focusing parameter of the focal loss.
    class_weight : None, "balanced" or array of shape (n_labels,), default=None
        Weights of the positive terms of each label's loss. "balanced" uses n_negative / n_positive
        of the training labels, clipped to [1, 100].
    augmentation : ImageAugmenter, default=None
        Random augmentation applied in training only (as Keras layers, a fresh draw every epoch).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data (multilabel-stratified), stop when its
        loss has not improved for ``patience`` epochs and keep the best weights.
    validation_fraction : float, default=0.1
        Share of the training data held out for early stopping.
    patience : int, default=5
        Epochs without improvement before stopping.
    threshold : float or array of shape (n_labels,), default=0.5
        Decision threshold(s) of :meth:`predict`: label j is predicted when its probability
        is at least ``threshold[j]``. :class:`~hpa_sklearn.MultilabelThresholdTuner` learns one
        per class.
    at_least_one_label : bool, default=False
        Every HPA image has at least one label: give a row with none the label closest to its
        threshold (highest probability / threshold).
    callbacks : list of keras.callbacks.Callback, default=None
        Extra Keras callbacks for training.
    mixed_precision : {None, "mixed_float16", "mixed_bfloat16"}, default=None
        Keras dtype policy of the network on a GPU: computations in 16 bits, variables, the sigmoid
        output and the loss in float32 (float16 adds Keras' loss scaling).
    distribution : {None, "data_parallel"}, default=None
        Train on every accelerator of the machine, each batch split across them: Keras'
        ``DataParallel`` distribution under JAX, ``tf.distribute.MirroredStrategy`` under
        TensorFlow (not available under PyTorch).
    jit_compile : bool or "auto", default="auto"
        Compile the training and prediction steps (XLA), as ``keras.Model.compile``.
    workers : int, default=2
        Threads preparing batches ahead of the device while it computes (Keras ``PyDataset``
        workers); 1 prepares each batch when it is needed.
    random_state : int, RandomState or None, default=None
        Seeds weights, dropout, batch order, the early-stopping split and augmentation. The same
        integer gives the same predictions on CPU.
    verbose : int, default=1
        Keras progress output of fit and predict (0 silent).

    Attributes
    ----------
    model_ : keras.Model
        The trained network.
    classes_ : ndarray of shape (n_labels,)
        Label indices ``0 .. n_labels - 1``.
    n_outputs_ : int
        Number of labels.
    image_shape_ : tuple
        ``(height, width, channels)`` of the training images; predict needs the same.
    input_dtype_ : str
        "uint8" or "float32": the kind of pixel values the network was fitted on.
    channels_ : tuple of str
        Channel names used for the pretrained kernel mapping.
    history_ : dict of lists
        Per-epoch ``loss``, ``f1`` (macro F1 at 0.5), and ``val_loss``, ``val_f1`` with early stopping.

    See Also
    --------
    hpa_sklearn.MultilabelThresholdTuner : Per-class thresholds from out-of-fold predictions.
    hpa_sklearn.ChannelSelector : Choose the input channels in a Pipeline.
    hpa_sklearn.datasets.load_hpa : Loads Kaggle-layout data as the uint8 arrays this takes.

    Examples
    --------
    >>> from hpa_sklearn import HPAVGG16Classifier
    >>> from hpa_sklearn.datasets import make_hpa_like
    >>> X, Y = make_hpa_like(n_samples=16, image_size=32, random_state=0, return_X_y=True)
    >>> clf = HPAVGG16Classifier(weights=None, epochs=1, batch_size=8, verbose=0, random_state=0)
    >>> clf.fit(X, Y).predict_proba(X[:2]).shape
    (2, 28)
    >>> clf.predict(X[:1]).shape
    (1, 28)
    """

    # scikeras reads these; they are not parameters of this estimator
    model = None
    build_fn = None
    warm_start = False
    _routing_prefixes = frozenset()

    def __init__(
        self,
        *,
        weights="imagenet",
        input_size=None,
        channels=None,
        yellow_init="red",
        pooling="avg",
        hidden_units=512,
        activation="relu",
        dropout=0.2,
        optimizer="adam",
        learning_rate=1e-4,
        decay=5e-5,
        batch_size=64,
        epochs=10,
        loss="binary_crossentropy",
        focal_gamma=2.0,
        class_weight=None,
        augmentation=None,
        early_stopping=False,
        validation_fraction=0.1,
        patience=5,
        threshold=0.5,
        at_least_one_label=False,
        callbacks=None,
        mixed_precision=None,
        distribution=None,
        jit_compile="auto",
        workers=2,
        random_state=None,
        verbose=1,
    ):
        self.weights = weights
        self.input_size = input_size
        self.channels = channels
        self.yellow_init = yellow_init
        self.pooling = pooling
        self.hidden_units = hidden_units
        self.activation = activation
        self.dropout = dropout
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.decay = decay
        self.batch_size = batch_size
        self.epochs = epochs
        self.loss = loss
        self.focal_gamma = focal_gamma
        self.class_weight = class_weight
        self.augmentation = augmentation
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.threshold = threshold
        self.at_least_one_label = at_least_one_label
        self.callbacks = callbacks
        self.mixed_precision = mixed_precision
        self.distribution = distribution
        self.jit_compile = jit_compile
        self.workers = workers
        self.random_state = random_state
        self.verbose = verbose

    # ----------------------------------------------------------------------------- parameters
    def _check_params(self):
        def positive_int(name, minimum=1):
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
                raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}.")

        positive_int("batch_size")
        positive_int("epochs")
        positive_int("patience")
        if self.weights is not None and self.weights != "imagenet" and not isinstance(
            self.weights, (str, os.PathLike)
        ):
            raise ValueError(
                f"weights must be None, 'imagenet' or a path to a weights file; got {self.weights!r}."
            )
        if self.input_size is not None:
            positive_int("input_size", 32)
        if self.yellow_init not in YELLOW_INITS:
            raise ValueError(f"yellow_init must be one of {YELLOW_INITS}; got {self.yellow_init!r}.")
        if self.pooling not in ("avg", "max", "flatten"):
            raise ValueError(f"pooling must be 'avg', 'max' or 'flatten'; got {self.pooling!r}.")
        units = self._hidden_units()
        if any(not isinstance(u, numbers.Integral) or u < 1 for u in units):
            raise ValueError(f"hidden_units must be positive integers; got {self.hidden_units!r}.")
        try:
            keras.activations.get(self.activation)
        except (ValueError, TypeError):
            raise ValueError(
                f"activation {self.activation!r} is not a Keras activation; the report tuned "
                "'relu', 'sigmoid' and 'tanh'."
            ) from None
        for name, low, high in (("dropout", 0.0, 1.0), ("validation_fraction", 0.0, 1.0)):
            value = getattr(self, name)
            if not isinstance(value, numbers.Real) or not low <= value < high:
                raise ValueError(f"{name} must be a number in [{low}, {high}); got {value!r}.")
        for name in ("learning_rate",):
            value = getattr(self, name)
            if not isinstance(value, numbers.Real) or not value > 0:
                raise ValueError(f"{name} must be a positive number; got {value!r}.")
        if not isinstance(self.decay, numbers.Real) or self.decay < 0:
            raise ValueError(f"decay must be a number >= 0; got {self.decay!r}.")
        if isinstance(self.optimizer, str) and self.optimizer.lower() not in _OPTIMIZERS:
            raise ValueError(
                f"optimizer {self.optimizer!r} is unknown; use one of {sorted(_OPTIMIZERS)} or a "
                "keras.optimizers.Optimizer."
            )
        if self.loss not in ("binary_crossentropy", "focal"):
            raise ValueError(f"loss must be 'binary_crossentropy' or 'focal'; got {self.loss!r}.")
        if not isinstance(self.focal_gamma, numbers.Real) or self.focal_gamma < 0:
            raise ValueError(f"focal_gamma must be a number >= 0; got {self.focal_gamma!r}.")
        if self.augmentation is not None and not isinstance(self.augmentation, ImageAugmenter):
            raise ValueError(
                f"augmentation must be an ImageAugmenter or None; got {type(self.augmentation).__name__}."
            )
        if self.mixed_precision not in (None, "mixed_float16", "mixed_bfloat16"):
            raise ValueError(
                "mixed_precision must be None, 'mixed_float16' or 'mixed_bfloat16'; got "
                f"{self.mixed_precision!r}."
            )
        if self.distribution not in (None, "data_parallel"):
            raise ValueError(
                f"distribution must be None or 'data_parallel'; got {self.distribution!r}."
            )
        if self.distribution and keras.backend.backend() not in ("jax", "tensorflow"):
            raise ValueError(
                f"distribution='data_parallel' needs the JAX or TensorFlow backend of Keras; this "
                f"is {keras.backend.backend()!r}. Set KERAS_BACKEND=jax or tensorflow."
            )
        if self.jit_compile not in (True, False, "auto"):
            raise ValueError(f"jit_compile must be True, False or 'auto'; got {self.jit_compile!r}.")
        positive_int("workers")
        if self.early_stopping and not self.validation_fraction > 0:
            raise ValueError("early_stopping=True needs validation_fraction > 0.")

    def _hidden_units(self):
        units = self.hidden_units
        return (units,) if isinstance(units, numbers.Integral) else tuple(units)

    def _make_optimizer(self):
        if isinstance(self.optimizer, keras.optimizers.Optimizer):
            return self.optimizer.__class__.from_config(self.optimizer.get_config())
        schedule = self.learning_rate
        if self.decay:
            schedule = keras.optimizers.schedules.InverseTimeDecay(
                self.learning_rate, decay_steps=1, decay_rate=self.decay
            )
        name = _OPTIMIZERS[self.optimizer.lower()]
        return keras.optimizers.get({"class_name": name, "config": {"learning_rate": schedule}})

    def _make_loss(self, Y):
        gamma = self.focal_gamma if self.loss == "focal" else 0.0
        pos_weight = None
        if isinstance(self.class_weight, str):
            if self.class_weight != "balanced":
                raise ValueError(
                    f"class_weight must be None, 'balanced' or one weight per label; got "
                    f"{self.class_weight!r}."
                )
            positives = Y.sum(axis=0).astype(float)
            ratio = np.divide(len(Y) - positives, positives, out=np.ones_like(positives),
                              where=positives > 0)
            pos_weight = np.clip(ratio, 1.0, 100.0)
        elif self.class_weight is not None:
            pos_weight = check_thresholds(self.class_weight, Y.shape[1], name="class_weight")
            if (pos_weight <= 0).any():
                raise ValueError("class_weight values must be positive.")
        return MultilabelFocalLoss(gamma=gamma, pos_weight=pos_weight)

    def _seed(self):
        if isinstance(self.random_state, numbers.Integral):
            return int(self.random_state)
        return int(check_random_state(self.random_state).randint(0, 2**31 - 1024))

    # ----------------------------------------------------------------------------- fitting
    def _validation_split(self, Y, seed):
        rows = np.arange(len(Y))
        if not self.early_stopping:
            return rows, None
        from .model_selection import MultilabelStratifiedShuffleSplit

        n_val = int(round(self.validation_fraction * len(Y)))
        if n_val < 1 or len(Y) - n_val < 1:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} of {len(Y)} samples leaves an "
                "empty training or validation part; use more samples or another fraction."
            )
        splitter = MultilabelStratifiedShuffleSplit(
            n_splits=1, test_size=self.validation_fraction, random_state=seed
        )
        train, val = next(splitter.split(rows, Y))
        return np.sort(train), np.sort(val)

    def fit(self, X, y, sample_weight=None):
        """Build the network and train it on images ``X`` and labels ``y``.

        Parameters
        ----------
        X : array of shape (n_samples, height, width, channels)
            uint8 (0..255) or float (0..1) images, channels last; a memmap is read batch by batch.
        y : array of shape (n_samples, n_labels)
            0/1 label matrix (multi-label even when every row has one label).
        sample_weight : array of shape (n_samples,), default=None
            Per-image weights of the loss.

        Returns
        -------
        self : HPAVGG16Classifier
        """
        self._check_params()
        X = check_image_array(X, min_size=32 if self.input_size is None else 1)
        Y = check_label_matrix(y, name="y", n_samples=len(X))
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, dtype=np.float32)
            if sample_weight.shape != (len(X),):
                raise ValueError(
                    f"sample_weight must have shape ({len(X)},); got {sample_weight.shape}."
                )
        channels = _default_channels(X.shape[-1]) if self.channels is None else tuple(self.channels)
        if len(channels) != X.shape[-1]:
            raise ValueError(
                f"channels names {len(channels)} channels {channels} but X has {X.shape[-1]}."
            )
        check_thresholds(self.threshold, Y.shape[1])

        seed = self._seed()
        self.classes_ = np.arange(Y.shape[1])
        self.n_outputs_ = Y.shape[1]
        self.image_shape_ = tuple(int(s) for s in X.shape[1:])
        self.input_dtype_ = "uint8" if X.dtype == np.uint8 else "float32"
        self.channels_ = channels
        with _seeded(seed):
            train, val = self._validation_split(Y, seed)
            stats_rows = np.random.default_rng(seed).permutation(train)[:_STATS_SAMPLES]
            mean, variance = _channel_moments(
                X, stats_rows, 1.0 / 255.0 if self.input_dtype_ == "uint8" else 1.0
            )
            augmentation = (
                [] if self.augmentation is None
                else self.augmentation._make_layers(self.augmentation._seed(fallback=seed))
            )
            with self._device_scope(building=True), _dtype_policy(self.mixed_precision):
                self.model_ = build_network(
                    image_shape=self.image_shape_,
                    n_outputs=self.n_outputs_,
                    input_dtype=self.input_dtype_,
                    mean=mean,
                    variance=variance,
                    channels=channels,
                    weights=self.weights,
                    yellow_init=self.yellow_init,
                    input_size=self.input_size,
                    augmentation_layers=augmentation,
                    pooling=self.pooling,
                    hidden_units=self._hidden_units(),
                    activation=self.activation,
                    dropout=self.dropout,
                    seed=seed,
                )
                self.model_.compile(
                    optimizer=self._make_optimizer(),
                    loss=self._make_loss(Y[train]),
                    metrics=[keras.metrics.F1Score(average="macro", threshold=0.5, name="f1")],
                    jit_compile=self.jit_compile,
                )
            self.history_ = {}
            self._train(X, Y, sample_weight, train, val, seed, epochs=self.epochs)
        return self

    def _n_replicas(self):
        """Devices each batch is split across (1 without ``distribution``)."""
        if self.distribution is None:
            return 1
        if keras.backend.backend() == "jax":
            return len(keras.distribution.list_devices())
        return self.model_.distribute_strategy.num_replicas_in_sync  # TensorFlow

    def _device_scope(self, building=False):
        """The scope of the ``distribution`` strategy: Keras' DataParallel under JAX (building,
        training and predicting); under TensorFlow a MirroredStrategy while the model and its
        optimizer are created (the model keeps it for training and prediction)."""
        if self.distribution is None:
            return contextlib.nullcontext()
        if keras.backend.backend() == "jax":
            devices = keras.distribution.list_devices()
            return keras.distribution.DataParallel(devices=devices).scope()
        if building:  # TensorFlow (guarded by _check_params): the strategy binds at creation
            import tensorflow as tf

            return tf.distribute.MirroredStrategy().scope()
        return contextlib.nullcontext()

    def _train(self, X, Y, sample_weight, train, val, seed, *, epochs):
        replicas = self._n_replicas()
        data = ImageBatches(X, Y, sample_weight, indices=train, batch_size=self.batch_size,
                            shuffle=True, seed=seed, workers=self.workers, multiple=replicas)
        val_data = None
        callbacks = list(self.callbacks or [])
        if val is not None:
            val_data = ImageBatches(X, Y, indices=val, batch_size=self.batch_size,
                                    shuffle=replicas > 1, seed=seed, workers=self.workers,
                                    multiple=replicas)
            callbacks.append(keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=self.patience, restore_best_weights=True))
        def record(epoch, logs):
            # per epoch, so that an interrupted fit keeps the history of its completed epochs
            for key, value in (logs or {}).items():
                self.history_.setdefault(key, []).append(float(value))

        callbacks.append(keras.callbacks.LambdaCallback(on_epoch_end=record))
        start = len(self.history_.get("loss", []))
        with self._device_scope():
            self.model_.fit(
                data, validation_data=val_data, epochs=start + epochs, initial_epoch=start,
                callbacks=callbacks, verbose=self.verbose, shuffle=False,
            )

    def partial_fit(self, X, y, sample_weight=None):
        """Train one more epoch on ``X, y`` (the first call builds the network like :meth:`fit`).

        Parameters
        ----------
        X : array of shape (n_samples, height, width, channels)
        y : array of shape (n_samples, n_labels)
        sample_weight : array of shape (n_samples,), default=None

        Returns
        -------
        self : HPAVGG16Classifier
        """
        if not self.__sklearn_is_fitted__():
            epochs, self.epochs = self.epochs, 1
            try:
                return self.fit(X, y, sample_weight)
            finally:
                self.epochs = epochs
        X = self._check_predict_X(X)
        Y = check_label_matrix(y, name="y", n_samples=len(X))
        if Y.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {Y.shape[1]} labels; the classifier has {self.n_outputs_}.")
        seed = self._seed() + len(self.history_.get("loss", []))
        with _seeded(seed):
            self._train(X, Y, sample_weight, np.arange(len(X)), None, seed, epochs=1)
        return self

    # ----------------------------------------------------------------------------- prediction
    def __sklearn_is_fitted__(self):
        return hasattr(self, "model_")

    def _check_predict_X(self, X):
        if not self.__sklearn_is_fitted__():
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet; call fit(X, y) first."
            )
        X = check_image_array(X, min_size=1)
        if tuple(X.shape[1:]) != self.image_shape_:
            raise ValueError(
                f"X has images of shape {tuple(X.shape[1:])} (height, width, channels) but the "
                f"classifier was fitted on {self.image_shape_}; load or select the same size and "
                "channels."
            )
        if ("uint8" if X.dtype == np.uint8 else "float32") != self.input_dtype_:
            raise ValueError(
                f"X has dtype {X.dtype} but the classifier was fitted on {self.input_dtype_} "
                "pixels (uint8 means 0..255, float means 0..1); convert X the same way."
            )
        return X

    def predict_proba(self, X):
        """Probability of each label for each image.

        Parameters
        ----------
        X : array of shape (n_samples, height, width, channels)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_labels)
            Always 2-D, also for a single image.
        """
        X = self._check_predict_X(X)
        data = ImageBatches(X, batch_size=self.batch_size, workers=self.workers,
                            multiple=self._n_replicas())
        with self._device_scope():
            proba = self.model_.predict(data, verbose=self.verbose if len(data) > 1 else 0)
        # data-parallel prediction pads the last batch: keep one row per image
        return np.asarray(proba[: len(X)], dtype=np.float32).reshape(len(X), self.n_outputs_)

    def predict(self, X):
        """0/1 labels: ``predict_proba(X) >= threshold`` (per label), with the optional fallback.

        Parameters
        ----------
        X : array of shape (n_samples, height, width, channels)

        Returns
        -------
        Y_pred : ndarray of shape (n_samples, n_labels), uint8
        """
        return apply_thresholds(self.predict_proba(X), self.threshold,
                                at_least_one_label=self.at_least_one_label)

    def score(self, X, y, sample_weight=None):
        """Macro F1 of :meth:`predict` (the competition's metric; zero_division=0).

        Parameters
        ----------
        X : array of shape (n_samples, height, width, channels)
        y : array of shape (n_samples, n_labels)
        sample_weight : array of shape (n_samples,), default=None

        Returns
        -------
        score : float
        """
        return float(macro_f1(y, self.predict(X), sample_weight=sample_weight))

    # ----------------------------------------------------------------------------- persistence
    def save(self, path):
        """Save the fitted classifier to a folder: ``model.keras`` (the network) and
        ``estimator.json`` (parameters and fitted attributes). No pickle is involved.

        Extra Keras ``callbacks`` are not saved. Returns the folder as a Path.
        """
        if not self.__sklearn_is_fitted__():
            raise NotFittedError("fit the classifier before saving it.")
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        params = self.get_params(deep=False)
        params["callbacks"] = None
        if isinstance(params["augmentation"], ImageAugmenter):
            params["augmentation"] = {"ImageAugmenter": params["augmentation"].get_params()}
        if isinstance(params["optimizer"], keras.optimizers.Optimizer):
            params["optimizer"] = {"keras": keras.optimizers.serialize(params["optimizer"])}
        for key in ("threshold", "class_weight"):
            if isinstance(params[key], np.ndarray):
                params[key] = params[key].tolist()
        if isinstance(params["random_state"], np.random.RandomState):
            params["random_state"] = None
        for key in ("weights",):
            if isinstance(params[key], os.PathLike):
                params[key] = os.fspath(params[key])
        state = {
            "format": _SAVE_FORMAT,
            "class": type(self).__name__,
            "params": params,
            "fitted": {
                "classes_": self.classes_.tolist(),
                "n_outputs_": self.n_outputs_,
                "image_shape_": list(self.image_shape_),
                "input_dtype_": self.input_dtype_,
                "channels_": list(self.channels_),
                "history_": self.history_,
            },
        }
        self.model_.save(path / "model.keras")
        tmp = path / ".estimator.json.tmp"
        tmp.write_text(json.dumps(state, indent=2))
        os.replace(tmp, path / "estimator.json")
        return path

    @classmethod
    def load(cls, path):
        """Load a classifier saved with :meth:`save`; its predictions are identical.

        Raises ``ValueError`` (naming the folder) when the folder is not such a save.
        """
        path = Path(path)
        meta_path, model_path = path / "estimator.json", path / "model.keras"
        if not (meta_path.is_file() and model_path.is_file()):
            raise ValueError(
                f"{path} is not a saved {cls.__name__}: it must hold estimator.json and model.keras."
            )
        try:
            state = json.loads(meta_path.read_text())
            params, fitted = state["params"], state["fitted"]
        except (ValueError, KeyError) as exc:
            raise ValueError(f"{meta_path} is damaged or not written by save(): {exc}") from None
        if state.get("format") != _SAVE_FORMAT:
            raise ValueError(f"{meta_path} has save format {state.get('format')}; expected {_SAVE_FORMAT}.")
        if isinstance(params.get("augmentation"), dict):
            params["augmentation"] = ImageAugmenter(**params["augmentation"]["ImageAugmenter"])
        if isinstance(params.get("optimizer"), dict):
            params["optimizer"] = keras.optimizers.deserialize(params["optimizer"]["keras"])
        for key in ("hidden_units", "channels"):
            if isinstance(params.get(key), list):
                params[key] = tuple(params[key])
        estimator = cls(**params)
        estimator.model_ = keras.saving.load_model(model_path)
        estimator.classes_ = np.asarray(fitted["classes_"])
        estimator.n_outputs_ = int(fitted["n_outputs_"])
        estimator.image_shape_ = tuple(fitted["image_shape_"])
        estimator.input_dtype_ = fitted["input_dtype_"]
        estimator.channels_ = tuple(fitted["channels_"])
        estimator.history_ = fitted["history_"]
        return estimator

    # ----------------------------------------------------------------------------- sklearn
    def set_params(self, **params):
        """Set parameters; nested ones (``augmentation__rotation``) go to the nested estimator.

        Returns
        -------
        self : HPAVGG16Classifier
        """
        for key in params:
            name, nested, _ = key.partition("__")
            if nested and not hasattr(getattr(self, name, None), "set_params"):
                raise ValueError(
                    f"Invalid parameter {key!r} for {type(self).__name__}: {name!r} has no nested "
                    f"parameters (its value is {getattr(self, name, None)!r}). For optimizer "
                    "settings pass a keras.optimizers.Optimizer instance as optimizer."
                )
        return BaseEstimator.set_params(self, **params)

    def __sklearn_tags__(self):
        tags = BaseEstimator.__sklearn_tags__(self)
        tags.estimator_type = "classifier"
        tags.classifier_tags = ClassifierTags(multi_class=False, multi_label=True, poor_score=True)
        tags.target_tags.required = True
        tags.target_tags.single_output = False
        tags.target_tags.multi_output = True
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.non_deterministic = True
        return tags

    def __repr__(self, N_CHAR_MAX=700):
        return BaseEstimator.__repr__(self, N_CHAR_MAX=N_CHAR_MAX)
