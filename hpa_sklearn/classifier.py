"""``HPAClassifier`` (any backbone of :mod:`hpa_sklearn.backbones`) and ``HPAVGG16Classifier``
(the original report's VGG16): Keras networks as scikit-learn multi-label classifiers of HPA images.
"""

import contextlib
import hashlib
import json
import math
import numbers
import os
import random
import warnings
from numbers import Integral, Real
from pathlib import Path

import keras
import numpy as np
from scikeras.wrappers import KerasClassifier
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils._tags import ClassifierTags

from ._atomic import atomic_folder, recover_folder
from ._decision import apply_thresholds
from ._feeding import ImageBatches, TrainingBatches, tta_transforms
from ._losses import MultilabelFocalLoss
from ._lr_range import run_range_test
from ._network import build_network
from ._persistence import (
    ESTIMATOR_FILE,
    MODEL_FILE,
    SAVE_FORMAT,
    is_checkpoint_folder,
    is_saved_folder,
    key_value,
    read_estimator_json,
)
from ._schedules import DEPENDS_ON_LENGTH, LR_SCHEDULES, PLATEAU_MIN_RATIO, make_schedule
from ._training import (
    BEST_WEIGHTS_FILE,
    TRAINING_FILE,
    TrainingMonitor,
    TrainingState,
    data_fingerprint,
    restore_seed_generator_states,
    stop_on_signals,
)
from ._validation import check_image_array, check_label_matrix, check_thresholds
from .backbones import BACKBONES, YELLOW_INITS
from .datasets import CHANNELS
from .metrics import macro_f1
from .preprocessing import ImageAugmenter

_OPTIMIZERS = {"adam": "Adam", "adagrad": "Adagrad", "adamax": "Adamax", "sgd": "SGD",
               "rmsprop": "RMSprop", "adamw": "AdamW", "nadam": "Nadam"}
_STATS_SAMPLES = 512  # images used to estimate the per-channel mean and variance


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


class HPAClassifier(KerasClassifier):
    """Multi-label classifier of HPA fluorescence images on a Keras backbone, as a scikit-learn
    estimator.

    Takes image arrays ``(n, height, width, channels)`` (uint8 0..255 or float 0..1, 1 to 4
    channels in the order red, green, blue, yellow) and a 0/1 label matrix ``(n, n_labels)``.
    Batches are fed from the array as it is (a memory-mapped cache from
    :func:`~hpa_sklearn.datasets.load_hpa` or a combined view included): neither a float copy nor a
    backend copy of the whole set is made. Inside the network each batch is cast, rescaled,
    optionally resized and augmented (training only), and standardized per channel to the spread
    the backbone's pretrained weights expect.

    The backbone is any of :data:`hpa_sklearn.backbones.BACKBONES` (VGG16, ResNet50, DenseNet121,
    EfficientNetV2-B0, MobileNetV3-Small, and a small batch-normalized CNN), a parameter like any
    other (``GridSearchCV`` can search it). The other defaults are the original report's chosen
    values (batch 64, Adam, learning rate 1e-4 with Keras 2 decay 5e-5, relu, dropout 0.2, binary
    cross-entropy, threshold 0.5); :func:`hpa_sklearn.recipes.make_classifier` gives named
    configurations that learn more (the "cpu" recipe: MobileNetV3-Small with a warm-up and cosine
    schedule).

    Parameters
    ----------
    backbone : str, default="vgg16"
        The convolutional base: "vgg16", "resnet50", "densenet121", "efficientnetv2b0",
        "mobilenetv3small" or "smallcnn" (from scratch only; see :mod:`hpa_sklearn.backbones`).
    weights : None, "imagenet" or path, default="imagenet"
        Initial weights of the backbone: random (None), ImageNet (downloaded once by Keras), or a
        no-top weights file of that backbone in the ImageNet (3-channel) layout. The first
        convolution's 3-channel kernel is mapped to the input's channels (see ``yellow_init``).
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
        optimizer instance (used as given: ``learning_rate``, ``decay`` and ``lr_schedule`` then
        do not apply).
    learning_rate : float, default=1e-4
        Initial (or peak) learning rate.
    decay : float, default=5e-5
        Keras 2's ``decay`` (with ``lr_schedule=None`` only): the rate at step t is
        ``learning_rate / (1 + decay * t)``.
    lr_schedule : {None, "warmup_cosine", "one_cycle", "step", "plateau"}, default=None
        How the learning rate moves: constant (or ``decay``); linear warm-up over
        ``warmup_epochs`` then cosine decay to 0; one-cycle (up to ``learning_rate`` over 30 % of
        the steps, then down); times 0.1 after half and again after three quarters of the
        epochs; halved when the loss (the validation loss with early stopping) has not improved
        for 2 epochs. :meth:`lr_find` suggests a ``learning_rate``.
    warmup_epochs : float, default=1.0
        Length of the warm-up of "warmup_cosine", in epochs.
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
    tta : {None, "flips", "dihedral"}, default=None
        Test-time augmentation of :meth:`predict_proba`: the mean of the probabilities of the
        image and its flips (4 views), or of its 8 rotations and reflections (square images).
        Microscopy has no "up", so these views are as valid as the original; the threshold tuner,
        the command line and the report all predict through it.
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
        Threads preparing batches ahead of the device while it computes; 1 prepares each batch
        when it is needed.
    checkpoint_dir : str or Path, default=None
        Folder of training checkpoints. Each fit writes ``checkpoint_dir/fit-<key>/`` (a saved
        classifier with its optimizer state, plus the training state) after every epoch, and
        after the last finished batch when SIGINT or SIGTERM stops it; ``<key>`` digests the
        parameters that shape training (all but ``threshold``, ``at_least_one_label``, ``tta``,
        ``verbose``, ``callbacks``, ``workers``, and ``epochs`` where the schedule does not
        depend on it) and the data. A later ``fit`` with the same key continues where that one
        stopped, with the same batches and optimizer state (on the CPU, the same weights as an
        uninterrupted fit), up to ``epochs`` in total; a finished one is restored without
        training. So a killed cross-validation or search resumes by being run again. Delete the
        folder to retrain.
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
    HPAVGG16Classifier : The original report's VGG16, with its chosen defaults.
    hpa_sklearn.MultilabelThresholdTuner : Per-class thresholds from out-of-fold predictions.
    hpa_sklearn.recipes.make_classifier : Named configurations (the report's, the CPU recipe, ...).
    hpa_sklearn.datasets.load_hpa : Loads Kaggle-layout data as the uint8 arrays this takes.

    Notes
    -----
    scikeras builds the Keras model through ``model`` / ``_keras_build_fn`` and feeds NumPy arrays
    to ``keras.Model.fit``; those hooks are replaced here, because Keras' array path copies the
    whole input into one backend tensor (130 GB as float32 for the Kaggle set at 512 px), because
    scikeras decides between multi-label and one-hot targets from the data (a multi-label
    estimator must stay multi-label), and because training needs checkpoints, signal handling and
    a batch order that a resumed fit can reproduce. ``fit`` is two named steps:
    ``_initialize`` (build and compile the network, or restore a checkpoint) and ``_train``.
    What remains of scikeras is its scikit-learn plumbing (``get_params``, ``clone``, pickling).

    Examples
    --------
    >>> from hpa_sklearn import HPAClassifier
    >>> from hpa_sklearn.datasets import make_hpa_like
    >>> X, Y = make_hpa_like(n_samples=16, image_size=32, random_state=0, return_X_y=True)
    >>> clf = HPAClassifier(backbone="mobilenetv3small", weights=None, epochs=1, batch_size=8,
    ...                     lr_schedule="warmup_cosine", learning_rate=1e-3, decay=0.0,
    ...                     tta="flips", verbose=0, random_state=0)
    >>> clf.fit(X, Y).predict_proba(X[:2]).shape
    (2, 28)
    """

    # scikeras reads these; they are not parameters of this estimator
    model = None
    build_fn = None
    warm_start = False
    _routing_prefixes = frozenset()

    _parameter_constraints = {
        "backbone": [StrOptions(set(BACKBONES))],
        "weights": [None, str, os.PathLike],
        "input_size": [None, Interval(Integral, 32, None, closed="left")],
        "channels": [None, "array-like"],
        "yellow_init": [StrOptions(set(YELLOW_INITS))],
        "pooling": [StrOptions({"avg", "max", "flatten"})],
        "hidden_units": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "activation": [str],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "optimizer": [str, keras.optimizers.Optimizer],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "decay": [Interval(Real, 0, None, closed="left")],
        "lr_schedule": [None, StrOptions(set(LR_SCHEDULES))],
        "warmup_epochs": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "loss": [StrOptions({"binary_crossentropy", "focal"})],
        "focal_gamma": [Interval(Real, 0, None, closed="left")],
        "class_weight": [None, StrOptions({"balanced"}), "array-like"],
        "augmentation": [None, ImageAugmenter],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "patience": [Interval(Integral, 1, None, closed="left")],
        "tta": [None, StrOptions({"flips", "dihedral"})],
        "threshold": [Interval(Real, None, None, closed="neither"), "array-like"],
        "at_least_one_label": ["boolean"],
        "callbacks": [None, list],
        "mixed_precision": [None, StrOptions({"mixed_float16", "mixed_bfloat16"})],
        "distribution": [None, StrOptions({"data_parallel"})],
        "jit_compile": ["boolean", StrOptions({"auto"})],
        "workers": [Interval(Integral, 1, None, closed="left")],
        "checkpoint_dir": [None, str, os.PathLike],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        backbone="vgg16",
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
        lr_schedule=None,
        warmup_epochs=1.0,
        batch_size=64,
        epochs=10,
        loss="binary_crossentropy",
        focal_gamma=2.0,
        class_weight=None,
        augmentation=None,
        early_stopping=False,
        validation_fraction=0.1,
        patience=5,
        tta=None,
        threshold=0.5,
        at_least_one_label=False,
        callbacks=None,
        mixed_precision=None,
        distribution=None,
        jit_compile="auto",
        workers=2,
        checkpoint_dir=None,
        random_state=None,
        verbose=1,
    ):
        self.backbone = backbone
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
        self.lr_schedule = lr_schedule
        self.warmup_epochs = warmup_epochs
        self.batch_size = batch_size
        self.epochs = epochs
        self.loss = loss
        self.focal_gamma = focal_gamma
        self.class_weight = class_weight
        self.augmentation = augmentation
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.tta = tta
        self.threshold = threshold
        self.at_least_one_label = at_least_one_label
        self.callbacks = callbacks
        self.mixed_precision = mixed_precision
        self.distribution = distribution
        self.jit_compile = jit_compile
        self.workers = workers
        self.checkpoint_dir = checkpoint_dir
        self.random_state = random_state
        self.verbose = verbose

    # ----------------------------------------------------------------------------- parameters
    def _check_params(self):
        """Validate the parameters: each against ``_parameter_constraints`` (scikit-learn's
        declarative validation, whose errors name the parameter and the value), then the rules
        that tie several together."""
        self._validate_params()
        if isinstance(self.optimizer, str) and self.optimizer.lower() not in _OPTIMIZERS:
            raise ValueError(
                f"optimizer {self.optimizer!r} is unknown; use one of {sorted(_OPTIMIZERS)} or a "
                "keras.optimizers.Optimizer."
            )
        units = self._hidden_units()
        if any(not isinstance(u, numbers.Integral) or isinstance(u, bool) or u < 1
               for u in units):
            raise ValueError(f"hidden_units must be positive integers; got {self.hidden_units!r}.")
        try:
            keras.activations.get(self.activation)
        except (ValueError, TypeError):
            raise ValueError(
                f"activation {self.activation!r} is not a Keras activation; the report tuned "
                "'relu', 'sigmoid' and 'tanh'."
            ) from None
        BACKBONES[self.backbone].check_weights(self.weights)
        if self.lr_schedule is not None and self.decay:
            raise ValueError(
                f"decay={self.decay} applies with lr_schedule=None only; set decay=0 to use "
                f"lr_schedule={self.lr_schedule!r}."
            )
        if self.lr_schedule is not None and isinstance(self.optimizer, keras.optimizers.Optimizer):
            raise ValueError(
                f"lr_schedule={self.lr_schedule!r} needs the optimizer by name (an optimizer "
                "instance keeps its own learning rate); pass optimizer='adam', say."
            )
        if self.distribution and keras.backend.backend() not in ("jax", "tensorflow"):
            raise ValueError(
                f"distribution='data_parallel' needs the JAX or TensorFlow backend of Keras; this "
                f"is {keras.backend.backend()!r}. Set KERAS_BACKEND=jax or tensorflow."
            )

    def _hidden_units(self):
        units = self.hidden_units
        return (units,) if isinstance(units, numbers.Integral) else tuple(units)

    def _make_optimizer(self, steps_per_epoch):
        if isinstance(self.optimizer, keras.optimizers.Optimizer):
            return self.optimizer.__class__.from_config(self.optimizer.get_config())
        schedule = make_schedule(self.lr_schedule, self.learning_rate, decay=self.decay,
                                 epochs=self.epochs, steps_per_epoch=steps_per_epoch,
                                 warmup_epochs=self.warmup_epochs)
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
    def _validation_split(self, Y, seed, train_only=None):
        """The rows trained on and the rows held out for early stopping (None without it),
        multilabel-stratified; rows marked ``train_only`` are never held out."""
        rows = np.arange(len(Y))
        if not self.early_stopping:
            return rows, None
        from .model_selection import MultilabelStratifiedShuffleSplit

        candidates = rows if train_only is None else rows[~train_only]
        n_val = int(round(self.validation_fraction * len(candidates)))
        if n_val < 1 or len(Y) - n_val < 1:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} of {len(candidates)} samples "
                "leaves an empty training or validation part; use more samples or another "
                "fraction."
            )
        splitter = MultilabelStratifiedShuffleSplit(
            n_splits=1, test_size=self.validation_fraction, random_state=seed
        )
        train, val = next(splitter.split(candidates, Y[candidates]))
        train = np.concatenate([candidates[train], np.setdiff1d(rows, candidates)])
        return np.sort(train), np.sort(candidates[val])

    def _check_fit_data(self, X, y, sample_weight, train_only=None):
        """Validate the parameters and the training data, before anything expensive."""
        self._check_params()
        X = check_image_array(X, min_size=32 if self.input_size is None else 1)
        Y = check_label_matrix(y, name="y", n_samples=len(X))
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, dtype=np.float32)
            if sample_weight.shape != (len(X),):
                raise ValueError(
                    f"sample_weight must have shape ({len(X)},); got {sample_weight.shape}."
                )
            if not np.all(np.isfinite(sample_weight)) or (sample_weight < 0).any():
                raise ValueError("sample_weight must be finite and >= 0.")
        channels = _default_channels(X.shape[-1]) if self.channels is None else tuple(self.channels)
        if len(channels) != X.shape[-1]:
            raise ValueError(
                f"channels names {len(channels)} channels {channels} but X has {X.shape[-1]}."
            )
        check_thresholds(self.threshold, Y.shape[1])
        if self.augmentation is not None:
            side = self.input_size
            shape = (side, side) if side is not None else X.shape[1:3]
            self.augmentation.make_layers(0, image_shape=shape)  # refuses what cannot work
        if train_only is not None:
            train_only = np.asarray(train_only)
            if train_only.shape != (len(X),) or train_only.dtype != bool:
                raise ValueError(f"train_only must be one boolean per sample ({len(X)}); got "
                                 f"{train_only.dtype} of shape {train_only.shape}.")
        return X, Y, sample_weight, channels, train_only

    def fit(self, X, y, sample_weight=None, train_only=None):
        """Build the network and train it on images ``X`` and labels ``y``.

        With ``checkpoint_dir`` set, a checkpoint is written after every epoch and a fit that was
        interrupted (a signal, a kill) continues from its last checkpoint when ``fit`` is called
        again with the same parameters and data; a finished one is restored at once. SIGINT and
        SIGTERM stop training after the batch in progress and raise
        :class:`~hpa_sklearn.TrainingInterrupted` (the classifier keeps the weights reached).

        Parameters
        ----------
        X : array of shape (n_samples, height, width, channels)
            uint8 (0..255) or float (0..1) images, channels last; a memmap is read batch by batch.
        y : array of shape (n_samples, n_labels)
            0/1 label matrix (multi-label even when every row has one label).
        sample_weight : array of shape (n_samples,), default=None
            Per-image weights of the loss.
        train_only : array of bool of shape (n_samples,), default=None
            Rows that are trained on but never held out for early stopping (external data such
            as HPAv18: see :class:`~hpa_sklearn.model_selection.ExtraTrainingSplit`).

        Returns
        -------
        self : HPAClassifier
        """
        X, Y, sample_weight, channels, train_only = self._check_fit_data(X, y, sample_weight,
                                                                         train_only)
        checkpoint = self._checkpoint_folder(X, Y, sample_weight, train_only)
        state = self._initialize(X, Y, channels, checkpoint, train_only)
        with _seeded(state.seed):
            self._train(X, Y, sample_weight, state, checkpoint, train_only=train_only)
        return self

    def _checkpoint_folder(self, X, Y, sample_weight, train_only=None):
        """``checkpoint_dir/fit-<key>``: the key digests the data and the parameters that shape
        training (``epochs`` only where the learning-rate schedule depends on it)."""
        if self.checkpoint_dir is None:
            return None
        ignored = {"verbose", "callbacks", "checkpoint_dir", "workers", "threshold",
                   "at_least_one_label", "tta"}
        if self.lr_schedule not in DEPENDS_ON_LENGTH:
            ignored.add("epochs")  # a resumed fit may train longer on the same schedule
        params = {k: key_value(v) for k, v in self.get_params(deep=False).items()
                  if k not in ignored}
        blob = json.dumps({"class": type(self).__name__, "params": params,
                           "data": data_fingerprint(X, Y, sample_weight),
                           "train_only": None if train_only is None else
                           hashlib.sha256(np.packbits(train_only).tobytes()).hexdigest()},
                          sort_keys=True,
                          default=repr)
        return Path(self.checkpoint_dir) / f"fit-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"

    def _initialize(self, X, Y, channels, checkpoint, train_only=None):
        """Restore the fit from ``checkpoint`` if there is one for this data, else build and
        compile a new network. Returns the :class:`TrainingState`."""
        if checkpoint is not None and (checkpoint / TRAINING_FILE).is_file():
            try:
                return self._restore_checkpoint(checkpoint, X, Y)
            except ValueError as exc:
                warnings.warn(f"the checkpoint {checkpoint} cannot be used ({exc}); training "
                              "starts afresh and overwrites it.", UserWarning, stacklevel=3)
        seed = self._seed()
        self.classes_ = np.arange(Y.shape[1])
        self.n_outputs_ = Y.shape[1]
        self.image_shape_ = tuple(int(s) for s in X.shape[1:])
        self.input_dtype_ = "uint8" if X.dtype == np.uint8 else "float32"
        self.channels_ = channels
        with _seeded(seed):
            train, _ = self._validation_split(Y, seed, train_only)
            stats_rows = np.random.default_rng(seed).permutation(train)[:_STATS_SAMPLES]
            mean, variance = _channel_moments(
                X, stats_rows, 1.0 / 255.0 if self.input_dtype_ == "uint8" else 1.0
            )
            augmentation = (
                [] if self.augmentation is None
                else self.augmentation.make_layers(self.augmentation.layer_seed(fallback=seed))
            )
            replicas = 1 if self.distribution is None else self._n_replicas(building=True)
            steps = TrainingBatches.count_batches(len(train), self.batch_size, replicas)
            with self._device_scope(building=True), _dtype_policy(self.mixed_precision):
                self.model_ = build_network(
                    backbone=self.backbone,
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
                    optimizer=self._make_optimizer(steps),
                    loss=self._make_loss(Y[train]),
                    metrics=[keras.metrics.F1Score(average="macro", threshold=0.5, name="f1")],
                    jit_compile=self.jit_compile,
                )
        state = TrainingState(seed=seed, learning_rate=(
            float(self.learning_rate) if self.lr_schedule == "plateau" else None))
        self.history_ = state.history
        self._best_weights = None
        return state

    def _restore_checkpoint(self, checkpoint, X, Y):
        """Take the network, optimizer state and training state of ``checkpoint``."""
        where = checkpoint / TRAINING_FILE
        try:
            state = TrainingState.from_json(json.loads(where.read_text()), where)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{where} is unreadable: {exc}") from None
        saved = HPAClassifier.load(checkpoint)
        if (saved.image_shape_ != tuple(X.shape[1:]) or saved.n_outputs_ != Y.shape[1]
                or saved.input_dtype_ != ("uint8" if X.dtype == np.uint8 else "float32")):
            raise ValueError("it was written for data of another shape")
        restore_seed_generator_states(saved.model_, state.seed_states, where)
        if state.learning_rate is not None:  # "plateau" lowers a rate Keras does not save
            saved.model_.optimizer.learning_rate = state.learning_rate
        for name in ("model_", "classes_", "n_outputs_", "image_shape_", "input_dtype_",
                     "channels_"):
            setattr(self, name, getattr(saved, name))
        best = checkpoint / BEST_WEIGHTS_FILE
        self._best_weights = None
        if best.is_file():
            with np.load(best) as arrays:
                self._best_weights = [arrays[f"w{i}"] for i in range(len(arrays.files))]
        self.history_ = state.history
        if self.verbose:
            print(f"Resuming from {checkpoint}: {state.epochs_done} epoch(s)"
                  + (f" and {state.batches_done} batch(es)" if state.batches_done else "")
                  + " done.", flush=True)
        return state

    def _write_checkpoint(self, folder, state, best_weights):
        with atomic_folder(folder, replaceable=is_checkpoint_folder) as tmp:
            self._write_files(tmp, history=state.history)
            (tmp / TRAINING_FILE).write_text(json.dumps(state.to_json()))
            if best_weights is not None:
                np.savez(tmp / BEST_WEIGHTS_FILE, **{f"w{i}": w for i, w in enumerate(best_weights)})
        return folder

    def _n_replicas(self, building=False):
        """Devices each batch is split across (1 without ``distribution``)."""
        if self.distribution is None:
            return 1
        if keras.backend.backend() == "jax":
            return len(keras.distribution.list_devices())
        if building:  # TensorFlow, before the model (and its strategy) exists
            import tensorflow as tf

            return max(1, len(tf.config.list_logical_devices("GPU")))
        return self.model_.distribute_strategy.num_replicas_in_sync

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

    def _train(self, X, Y, sample_weight, state, checkpoint, *, rows=None, epochs=None,
               train_only=None):
        """Train from ``state`` up to ``epochs`` (default: the ``epochs`` parameter) in total,
        checkpointing to ``checkpoint`` (None: no checkpoints) and honouring stop signals."""
        epochs = self.epochs if epochs is None else epochs
        if rows is None:
            train, val = self._validation_split(Y, state.seed, train_only)
        else:
            train, val = rows, None
        if not state.stopped_early and state.epochs_done < epochs:
            replicas = self._n_replicas()

            def batches(first_epoch, first_batch, end_epoch):
                return TrainingBatches(X, Y, sample_weight, indices=train,
                                       batch_size=self.batch_size, seed=state.seed,
                                       start_epoch=first_epoch, start_batch=first_batch,
                                       end_epoch=end_epoch, workers=self.workers,
                                       multiple=replicas)

            val_data = None
            if val is not None:
                val_data = ImageBatches(X, Y, indices=val, batch_size=self.batch_size,
                                        shuffle=replicas > 1, seed=state.seed,
                                        workers=self.workers, multiple=replicas)
            save = None
            if checkpoint is not None:
                def save(current, best):
                    return self._write_checkpoint(checkpoint, current, best)

                save.folder = checkpoint
            with stop_on_signals() as request, self._device_scope():
                monitor = TrainingMonitor(
                    state, request=request, save=save, early_stopping=val is not None,
                    patience=self.patience, best_weights=self._best_weights,
                    first_epoch_offset=state.batches_done,
                    plateau_floor=(self.learning_rate * PLATEAU_MIN_RATIO
                                   if self.lr_schedule == "plateau" else None),
                )
                callbacks = [*(self.callbacks or []), monitor]
                common = dict(validation_data=val_data, callbacks=callbacks,
                              verbose=self.verbose, shuffle=False)
                data = None
                try:
                    if state.batches_done:  # finish the epoch an interruption cut short
                        data = batches(state.epochs_done, state.batches_done,
                                       state.epochs_done + 1)
                        self.model_.fit(data, steps_per_epoch=len(data),
                                        epochs=state.epochs_done + 1,
                                        initial_epoch=state.epochs_done, **common)
                        data.close()
                    if not state.stopped_early and state.epochs_done < epochs:
                        data = batches(state.epochs_done, 0, epochs)
                        self.model_.fit(data, steps_per_epoch=data.batches_per_epoch,
                                        epochs=epochs, initial_epoch=state.epochs_done,
                                        **common)
                finally:
                    self._best_weights = monitor.best_weights
                    if data is not None:
                        data.close()
        # the checkpoint of the last epoch keeps the last weights (a larger `epochs` continues
        # them); the classifier ends on the best validation epoch's
        if val is not None and self._best_weights is not None:
            self.model_.set_weights(self._best_weights)  # end on the best validation epoch
        self.history_ = state.history

    def partial_fit(self, X, y, sample_weight=None):
        """Train one more epoch on ``X, y`` (the first call builds the network like :meth:`fit`).

        Parameters
        ----------
        X : array of shape (n_samples, height, width, channels)
        y : array of shape (n_samples, n_labels)
        sample_weight : array of shape (n_samples,), default=None

        Returns
        -------
        self : HPAClassifier
        """
        if not self.__sklearn_is_fitted__():
            X, Y, sample_weight, channels, _ = self._check_fit_data(X, y, sample_weight)
            state = self._initialize(X, Y, channels, None)
            with _seeded(state.seed):
                self._train(X, Y, sample_weight, state, None, epochs=1)
            return self
        X = self._check_predict_X(X)
        Y = check_label_matrix(y, name="y", n_samples=len(X))
        if Y.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {Y.shape[1]} labels; the classifier has {self.n_outputs_}.")
        done = len(self.history_.get("loss", []))
        state = TrainingState(seed=self._seed() + done, epochs_done=done, history=self.history_)
        self._best_weights = None
        with _seeded(state.seed):
            self._train(X, Y, sample_weight, state, None, rows=np.arange(len(X)), epochs=done + 1)
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
        """Probability of each label for each image (the mean over the ``tta`` views).

        Parameters
        ----------
        X : array of shape (n_samples, height, width, channels)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_labels)
            Always 2-D, also for a single image.
        """
        X = self._check_predict_X(X)
        total = np.zeros((len(X), self.n_outputs_), dtype=np.float64)
        views = tta_transforms(self.tta, X.shape[1:3])
        for view in views:
            data = ImageBatches(X, batch_size=self.batch_size, workers=self.workers,
                                multiple=self._n_replicas(), transform=view)
            with self._device_scope():
                proba = self.model_.predict(data, verbose=self.verbose if len(data) > 1 else 0)
            # data-parallel prediction pads the last batch: keep one row per image
            total += np.asarray(proba[: len(X)], dtype=np.float64).reshape(total.shape)
        return (total / len(views)).astype(np.float32)

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

    # ----------------------------------------------------------------------------- lr range test
    def lr_find(self, X, y, *, min_lr=1e-7, max_lr=1.0, n_steps=100, sample_weight=None):
        """Learning-rate range test: train a fresh copy of this classifier for ``n_steps``
        batches while the learning rate grows geometrically from ``min_lr`` to ``max_lr``, and
        record the loss of each batch (Smith 2017; fastai's ``lr_find``).

        The classifier itself is left as it was. The test stops early once the smoothed loss
        exceeds four times its minimum.

        Parameters
        ----------
        X : array of shape (n_samples, height, width, channels)
        y : array of shape (n_samples, n_labels)
        min_lr, max_lr : float, default=1e-7, 1.0
            The range of learning rates tried.
        n_steps : int, default=100
            Batches trained (the data is cycled if it has fewer).
        sample_weight : array of shape (n_samples,), default=None

        Returns
        -------
        result : LRRangeTest
            ``learning_rates``, ``losses`` (per batch), ``smoothed``, ``suggestion`` (the rate
            where the smoothed loss falls fastest) and ``plot()``.

        Examples
        --------
        >>> from hpa_sklearn import HPAClassifier
        >>> from hpa_sklearn.datasets import make_hpa_like
        >>> X, Y = make_hpa_like(n_samples=16, image_size=32, random_state=0, return_X_y=True)
        >>> clf = HPAClassifier(backbone="mobilenetv3small", weights=None, batch_size=8,
        ...                     verbose=0, random_state=0)
        >>> result = clf.lr_find(X, Y, n_steps=6)
        >>> len(result.losses) <= 6, 1e-7 <= result.suggestion <= 1.0
        (True, True)
        """
        if not (isinstance(n_steps, numbers.Integral) and n_steps >= 2):
            raise ValueError(f"n_steps must be an integer >= 2; got {n_steps!r}.")
        if not (isinstance(min_lr, numbers.Real) and isinstance(max_lr, numbers.Real)
                and 0 < min_lr < max_lr):
            raise ValueError(f"need 0 < min_lr < max_lr; got min_lr={min_lr!r}, "
                             f"max_lr={max_lr!r}.")
        if isinstance(self.optimizer, keras.optimizers.Optimizer):
            raise ValueError("lr_find needs the optimizer by name (optimizer='adam', say).")
        probe = clone(self).set_params(lr_schedule=None, decay=0.0, learning_rate=min_lr,
                                       early_stopping=False, checkpoint_dir=None, callbacks=None)
        X, Y, sample_weight, channels, _ = probe._check_fit_data(X, y, sample_weight)
        state = probe._initialize(X, Y, channels, None)
        per_epoch = TrainingBatches.count_batches(len(X), probe.batch_size, 1)
        data = TrainingBatches(X, Y, sample_weight, indices=np.arange(len(X)),
                               batch_size=probe.batch_size, seed=state.seed,
                               end_epoch=math.ceil(n_steps / per_epoch), workers=probe.workers)
        try:
            with _seeded(state.seed), stop_on_signals():
                return run_range_test(probe.model_, data, min_lr=min_lr, max_lr=max_lr,
                                      n_steps=min(n_steps, len(data)), verbose=self.verbose)
        finally:
            data.close()

    # ----------------------------------------------------------------------------- persistence
    def _saved_params(self):
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
        for key in ("weights", "checkpoint_dir"):
            if isinstance(params[key], os.PathLike):
                params[key] = os.fspath(params[key])
        return params

    def _write_files(self, folder, *, history=None):
        """Write ``estimator.json`` and ``model.keras`` (with the optimizer's state) into
        ``folder`` (a temporary folder that is then swapped in whole)."""
        state = {
            "format": SAVE_FORMAT,
            "class": type(self).__name__,
            "params": self._saved_params(),
            "fitted": {
                "classes_": self.classes_.tolist(),
                "n_outputs_": self.n_outputs_,
                "image_shape_": list(self.image_shape_),
                "input_dtype_": self.input_dtype_,
                "channels_": list(self.channels_),
                "history_": self.history_ if history is None else history,
            },
        }
        self.model_.save(folder / MODEL_FILE)
        (folder / ESTIMATOR_FILE).write_text(json.dumps(state, indent=2))

    def save(self, path, *, extra_json=None):
        """Save the fitted classifier to a folder: ``model.keras`` (the network, with its
        optimizer's state) and ``estimator.json`` (parameters and fitted attributes). No pickle.

        The folder is written whole under a temporary name and swapped in: a reader (or a crash)
        sees the previous save or this one, never a mix. An existing folder is replaced only
        when it is a saved classifier (or empty). Extra Keras ``callbacks`` are not saved.

        Parameters
        ----------
        path : str or Path
            The folder.
        extra_json : dict of {str: object}, default=None
            More JSON files to store in the same folder, in the same atomic step (file name ->
            JSON-serializable content), e.g. a record of the training data.

        Returns
        -------
        path : Path
        """
        if not self.__sklearn_is_fitted__():
            raise NotFittedError("fit the classifier before saving it.")
        extra = dict(extra_json or {})
        for name in extra:
            if (not isinstance(name, str) or not name.endswith(".json") or "/" in name
                    or name in (ESTIMATOR_FILE, TRAINING_FILE)):
                raise ValueError(f"extra_json names must be plain '*.json' file names other than "
                                 f"{ESTIMATOR_FILE} and {TRAINING_FILE}; got {name!r}.")
        path = Path(path)
        with atomic_folder(path, replaceable=is_saved_folder) as tmp:
            self._write_files(tmp)
            for name, content in extra.items():
                (tmp / name).write_text(json.dumps(content, indent=2))
        return path

    @classmethod
    def load(cls, path):
        """Load a classifier saved with :meth:`save` (or a checkpoint); its predictions are
        identical. ``HPAClassifier.load`` also loads an ``HPAVGG16Classifier``'s folder (and
        returns that class).

        Raises ``ValueError`` naming the file and the key when the folder is not such a save or
        is damaged (a missing or unknown key, a value of the wrong type, an unreadable network).
        Keras' safe mode stays on: a model file with arbitrary code (``Lambda``) is refused.
        """
        path = recover_folder(Path(path))
        meta_path, model_path = path / ESTIMATOR_FILE, path / MODEL_FILE
        if not (meta_path.is_file() and model_path.is_file()):
            raise ValueError(
                f"{path} is not a saved {cls.__name__}: it must hold {ESTIMATOR_FILE} and "
                f"{MODEL_FILE}."
            )
        klass, params, fitted = read_estimator_json(cls, meta_path)
        try:
            estimator = klass(**params)
            estimator._check_params()
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{meta_path}: params: {exc}") from None
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*input channels", category=UserWarning)
                model = keras.saving.load_model(model_path)
        except Exception as exc:  # a damaged zip, a wrong file, a refused Lambda: one message
            raise ValueError(
                f"{model_path} cannot be loaded ({type(exc).__name__}: {str(exc)[:300]}); the file "
                "is damaged or not a network saved by this library. Train or copy it again."
            ) from None
        shapes = (tuple(model.input_shape[1:]), model.output_shape[-1])
        if shapes != (tuple(fitted["image_shape_"]), fitted["n_outputs_"]):
            raise ValueError(
                f"{model_path} takes {shapes[0]} and gives {shapes[1]} outputs, but {meta_path} "
                f"says image_shape_={fitted['image_shape_']}, n_outputs_={fitted['n_outputs_']}."
            )
        estimator.model_ = model
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
        self : HPAClassifier
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


class HPAVGG16Classifier(HPAClassifier):
    """VGG16 multi-label classifier of HPA fluorescence images, as a scikit-learn estimator.

    :class:`HPAClassifier` on the original report's network: VGG16 (13 plain convolutions, 15 M
    weights, no normalization layer), with the report's chosen values as defaults (batch 64, Adam,
    learning rate 1e-4 with Keras 2 decay 5e-5, relu, dropout 0.2, binary cross-entropy, threshold
    0.5). Every parameter of :class:`HPAClassifier` applies; ``backbone`` is fixed to "vgg16".
    From scratch (``weights=None``) its convolutions are He-initialized: under Keras' Glorot default
    the signal of 13 plain ReLU convolutions fades and training stalls.

    Parameters
    ----------
    backbone : {"vgg16"}, default="vgg16"
        Fixed; use :class:`HPAClassifier` for the other backbones. Every other parameter is
        :class:`HPAClassifier`'s, with the same name and default.

    See Also
    --------
    HPAClassifier : The same estimator for any backbone.
    hpa_sklearn.MultilabelThresholdTuner : Per-class thresholds from out-of-fold predictions.
    hpa_sklearn.ChannelSelector : Choose the input channels in a Pipeline.

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

    _parameter_constraints = {**HPAClassifier._parameter_constraints,
                              "backbone": [StrOptions({"vgg16"})]}
