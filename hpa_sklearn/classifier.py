"""``HPAClassifier`` (any backbone of :mod:`hpa_sklearn.backbones`) and ``HPAVGG16Classifier``
(the original report's VGG16): Keras networks as scikit-learn multi-label classifiers of HPA images.

The estimator holds the parameters and the scikit-learn API; training, prediction and the range
test are the engine's (:mod:`hpa_sklearn._engine`), saving and loading
:mod:`hpa_sklearn._persistence`'s.
"""

import dataclasses
import numbers
import os
from numbers import Integral, Real

import keras
import numpy as np
from scikeras.wrappers import KerasClassifier
from sklearn.base import BaseEstimator, _fit_context, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils._tags import ClassifierTags

from . import _persistence
from ._constants import CHANNELS
from ._decision import apply_thresholds
from ._engine import inference, trainer
from ._engine.backbones import BACKBONES, YELLOW_INITS
from ._engine.config import FittedNetwork, TrainingConfig
from ._engine.losses import LOSSES
from ._engine.optimizers import OPTIMIZERS
from ._engine.registry import NamesOf, listing
from ._engine.schedules import SCHEDULES, get_schedule
from ._engine.training import TrainingInterrupted
from ._engine.tta import TTA_MODES
from ._model_api import _ModelMethods
from ._validation import (
    check_image_array,
    check_label_matrix,
    check_row_mask,
    check_sample_weight,
    check_thresholds,
)
from .exceptions import InputError
from .preprocessing import ImageAugmenter

# parameters that do not change what training computes: left out of the checkpoint key
_NOT_IN_KEY = {"verbose", "callbacks", "checkpoint_dir", "workers", "threshold",
               "at_least_one_label", "tta"}


def _default_channels(n_channels):
    """Channel names assumed when ``channels=None``: RGBY order truncated, green alone for one."""
    return ("green",) if n_channels == 1 else CHANNELS[:n_channels]


class HPAClassifier(_ModelMethods, KerasClassifier):
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
    configurations that learn more.

    Parameters
    ----------
    backbone : str, default="vgg16"
        The convolutional base, a key of :data:`hpa_sklearn.backbones.BACKBONES`:
        <<backbones>>.
    weights : None, "imagenet" or path, default="imagenet"
        Initial weights of the backbone: random (None), ImageNet (downloaded once by Keras), or a
        no-top weights file of that backbone in the ImageNet (3-channel) layout. The first
        convolution's 3-channel kernel is mapped to the input's channels (see ``yellow_init``).
        A saved model does not keep a file's path: a loaded one has ``weights=None``.
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
        <<optimizers>> ("adam", "adagrad" and "adamax" are the report's table), or an optimizer
        instance (used as given: ``learning_rate``, ``decay`` and ``lr_schedule`` then do not
        apply).
    learning_rate : float, default=1e-4
        Initial (or peak) learning rate.
    decay : float, default=5e-5
        Keras 2's ``decay`` (with ``lr_schedule=None`` only): the rate at step t is
        ``learning_rate / (1 + decay * t)``.
    lr_schedule : None or str, default=None
        How the learning rate moves: None keeps it constant (or lowers it by ``decay``); the
        others: <<schedules>>. :meth:`lr_find` suggests a ``learning_rate``.
    warmup_epochs : float, default=1.0
        Length of the warm-up of "warmup_cosine", in epochs.
    batch_size : int, default=64
        Images per training and prediction batch.
    epochs : int, default=10
        Passes over the training data (the resource of a successive-halving search); with
        ``time_budget``, the most epochs the budget may plan.
    time_budget : float, default=None
        Seconds of training per fit: the first epoch is timed, the epochs that fit in the
        budget are planned from its speed (at most ``epochs``), a schedule that depends on the
        run's length is stretched to them, and training stops after the batch that spends the
        budget (a checkpoint and the network keep that state; with early stopping, the best
        validation epoch's weights). Interruption and resume work as with ``epochs`` alone; the
        time of earlier, interrupted parts counts. Building the network, checking the data and
        predicting are not counted.
    loss : str, default="binary_crossentropy"
        <<losses>>.
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
    tta : None or str, default=None
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
        ``fit-<key>`` folder to retrain. A saved model does not keep this path: a loaded one
        has ``checkpoint_dir=None``.
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
    hpa_sklearn.HPAVGG16Classifier : The original report's VGG16, with its chosen defaults.
    hpa_sklearn.MultilabelThresholdTuner : Per-class thresholds from out-of-fold predictions.
    hpa_sklearn.recipes.make_classifier : Named configurations (the report's, the CPU recipe, ...).
    hpa_sklearn.datasets.load_hpa : Loads Kaggle-layout data as the uint8 arrays this takes.

    Notes
    -----
    scikeras' model building and array feeding are bypassed: Keras' array path copies the whole
    input into one backend tensor (130 GB as float32 for the Kaggle set at 512 px), scikeras
    switches multi-label targets to one-hot ones, and training needs checkpoints, signals and a
    reproducible batch order. ``fit`` checks parameters and data, then hands a plain
    configuration to the engine (:mod:`hpa_sklearn._engine`); scikeras keeps the scikit-learn
    plumbing (``get_params``, ``clone``, pickling).

    Examples
    --------
    >>> from hpa_sklearn import HPAClassifier
    >>> from hpa_sklearn.datasets import make_hpa_like
    >>> X, Y = make_hpa_like(n_samples=16, image_size=32, random_state=0, return_X_y=True)
    >>> clf = HPAClassifier(backbone="smallcnn", weights=None, epochs=1, batch_size=8,
    ...                     lr_schedule="one_cycle", learning_rate=1e-3, decay=0.0,
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
        "backbone": [StrOptions(BACKBONES.keys())],
        "weights": [None, str, os.PathLike],
        "input_size": [None, Interval(Integral, 32, None, closed="left")],
        "channels": [None, "array-like"],
        "yellow_init": [StrOptions(set(YELLOW_INITS))],
        "pooling": [StrOptions({"avg", "max", "flatten"})],
        "hidden_units": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "activation": [str],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "optimizer": [StrOptions(NamesOf(OPTIMIZERS)), keras.optimizers.Optimizer],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "decay": [Interval(Real, 0, None, closed="left")],
        "lr_schedule": [None, StrOptions(SCHEDULES.keys())],
        "warmup_epochs": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "time_budget": [None, Interval(Real, 0, None, closed="neither")],
        "loss": [StrOptions(LOSSES.keys())],
        "focal_gamma": [Interval(Real, 0, None, closed="left")],
        "class_weight": [None, StrOptions({"balanced"}), "array-like"],
        "augmentation": [None, ImageAugmenter],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "patience": [Interval(Integral, 1, None, closed="left")],
        "tta": [None, StrOptions(TTA_MODES.keys())],
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
        self, *, backbone="vgg16", weights="imagenet", input_size=None, channels=None,
        yellow_init="red", pooling="avg", hidden_units=512, activation="relu", dropout=0.2,
        optimizer="adam", learning_rate=1e-4, decay=5e-5, lr_schedule=None, warmup_epochs=1.0,
        batch_size=64, epochs=10, time_budget=None, loss="binary_crossentropy", focal_gamma=2.0,
        class_weight=None, augmentation=None, early_stopping=False, validation_fraction=0.1,
        patience=5, tta=None, threshold=0.5, at_least_one_label=False, callbacks=None,
        mixed_precision=None, distribution=None, jit_compile="auto", workers=2,
        checkpoint_dir=None, random_state=None, verbose=1,
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
        self.time_budget = time_budget
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
        """The rules that tie several parameters together (each parameter on its own is checked
        against ``_parameter_constraints`` by scikit-learn's fit context)."""
        units = self._hidden_units()
        if any(not isinstance(u, numbers.Integral) or isinstance(u, bool) or u < 1
               for u in units):
            raise InputError(f"hidden_units must be positive integers; got {self.hidden_units!r}.")
        try:
            keras.activations.get(self.activation)
        except (ValueError, TypeError):
            raise InputError(
                f"activation {self.activation!r} is not a Keras activation; the report tuned "
                "'relu', 'sigmoid' and 'tanh'.") from None
        BACKBONES[self.backbone].check_weights(self.weights)
        if self.lr_schedule is not None and self.decay:
            raise InputError(
                f"decay={self.decay} applies with lr_schedule=None only; set decay=0 to use "
                f"lr_schedule={self.lr_schedule!r}.")
        if self.lr_schedule is not None and isinstance(self.optimizer, keras.optimizers.Optimizer):
            raise InputError(
                f"lr_schedule={self.lr_schedule!r} needs the optimizer by name (an optimizer "
                "instance keeps its own learning rate); pass optimizer='adam', say.")
        if self.distribution and keras.backend.backend() not in ("jax", "tensorflow"):
            raise InputError(
                f"distribution='data_parallel' needs the JAX or TensorFlow backend of Keras; this "
                f"is {keras.backend.backend()!r}. Set KERAS_BACKEND=jax or tensorflow.")

    def _hidden_units(self):
        units = self.hidden_units
        return (units,) if isinstance(units, numbers.Integral) else tuple(units)

    def _seed(self):
        if isinstance(self.random_state, numbers.Integral):
            return int(self.random_state)
        return int(check_random_state(self.random_state).randint(0, 2**31 - 1024))

    def _config(self, seed=None, **changes):
        """The engine's configuration of these parameters (``seed`` drawn when not given)."""
        params = self.get_params(deep=False)
        ignored = set(_NOT_IN_KEY)
        schedule = get_schedule(self.lr_schedule) if self.lr_schedule in SCHEDULES else None
        if self.time_budget is None and not (schedule and schedule.depends_on_length):
            ignored.add("epochs")  # a resumed fit may train longer on the same schedule
        key = {"class": type(self).__name__,
               **{k: _persistence.encode_value(v) for k, v in params.items() if k not in ignored}}
        config = TrainingConfig(
            backbone=self.backbone, weights=self.weights, input_size=self.input_size,
            channels=self.channels, yellow_init=self.yellow_init, pooling=self.pooling,
            hidden_units=self._hidden_units(), activation=self.activation, dropout=self.dropout,
            optimizer=self.optimizer, learning_rate=self.learning_rate, decay=self.decay,
            lr_schedule=self.lr_schedule, warmup_epochs=self.warmup_epochs,
            batch_size=self.batch_size, epochs=self.epochs, time_budget=self.time_budget,
            loss=self.loss, focal_gamma=self.focal_gamma, class_weight=self.class_weight,
            augmentation=self.augmentation, early_stopping=self.early_stopping,
            validation_fraction=self.validation_fraction, patience=self.patience,
            callbacks=tuple(self.callbacks or ()), mixed_precision=self.mixed_precision,
            distribution=self.distribution, jit_compile=self.jit_compile, workers=self.workers,
            checkpoint_dir=self.checkpoint_dir,
            seed=self._seed() if seed is None else seed, verbose=self.verbose, key=key,
            record=_persistence.estimator_record(self))
        return dataclasses.replace(config, **changes) if changes else config

    # ----------------------------------------------------------------------------- fitting
    def _check_fit_data(self, X, y, sample_weight, train_only=None):
        """Check the cross-parameter rules and the training data, before anything expensive."""
        self._check_params()
        X = check_image_array(X, min_size=32 if self.input_size is None else 1)
        Y = check_label_matrix(y, name="y", n_samples=len(X))
        sample_weight = check_sample_weight(sample_weight, len(X))
        channels = _default_channels(X.shape[-1]) if self.channels is None else tuple(self.channels)
        if len(channels) != X.shape[-1]:
            raise InputError(
                f"channels names {len(channels)} channels {channels} but X has {X.shape[-1]}.")
        check_thresholds(self.threshold, Y.shape[1])
        if self.class_weight is not None and not isinstance(self.class_weight, str):
            weights = check_thresholds(self.class_weight, Y.shape[1], name="class_weight")
            if (weights <= 0).any():
                raise InputError("class_weight values must be positive.")
        if self.augmentation is not None:
            side = self.input_size
            shape = (side, side) if side is not None else X.shape[1:3]
            self.augmentation.make_layers(0, image_shape=shape)  # refuses what cannot work
        return X, Y, sample_weight, channels, check_row_mask(train_only, len(X))

    def _set_fitted(self, network):
        self.model_ = network.model
        self.classes_ = np.arange(network.n_outputs)
        self.n_outputs_ = network.n_outputs
        self.image_shape_ = tuple(network.image_shape)
        self.input_dtype_ = network.input_dtype
        self.channels_ = tuple(network.channels)
        self.history_ = network.history
        self._best_weights = network.best_weights

    def _network(self):
        return FittedNetwork(model=self.model_, n_outputs=self.n_outputs_,
                             image_shape=self.image_shape_, input_dtype=self.input_dtype_,
                             channels=self.channels_, history=self.history_,
                             best_weights=getattr(self, "_best_weights", None))

    def _fit_network(self, config, X, Y, sample_weight, train_only, channels):
        try:
            network = trainer.fit_network(config, X, Y, sample_weight, train_only, channels)
        except TrainingInterrupted as exc:
            if getattr(exc, "network", None) is not None:
                self._set_fitted(exc.network)  # the classifier keeps the weights reached
            raise
        self._set_fitted(network)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
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
        return self._fit_network(self._config(), X, Y, sample_weight, train_only, channels)

    def _checkpoint_folder(self, X, Y, sample_weight, train_only=None):
        """``checkpoint_dir/fit-<key>`` of a fit on this data (None without ``checkpoint_dir``)."""
        return trainer.checkpoint_folder(self._config(seed=0), X, Y, sample_weight, train_only)

    @_fit_context(prefer_skip_nested_validation=True)
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
            config = self._config(epochs=1, time_budget=None, checkpoint_dir=None)
            return self._fit_network(config, X, Y, sample_weight, None, channels)
        X = self._check_predict_X(X)
        Y = check_label_matrix(y, name="y", n_samples=len(X))
        if Y.shape[1] != self.n_outputs_:
            raise InputError(f"y has {Y.shape[1]} labels; the classifier has {self.n_outputs_}.")
        network = trainer.continue_network(self._config(), self._network(), X, Y, sample_weight)
        self._set_fitted(network)
        return self

    # ----------------------------------------------------------------------------- prediction
    def __sklearn_is_fitted__(self):
        return hasattr(self, "model_")

    def _check_predict_X(self, X):
        if not self.__sklearn_is_fitted__():
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet; call fit(X, y) first.")
        X = check_image_array(X, min_size=1)
        if tuple(X.shape[1:]) != self.image_shape_:
            raise InputError(
                f"X has images of shape {tuple(X.shape[1:])} (height, width, channels) but the "
                f"classifier was fitted on {self.image_shape_}; load or select the same size and "
                "channels.")
        if trainer.input_dtype_of(X) != self.input_dtype_:
            raise InputError(
                f"X has dtype {X.dtype} but the classifier was fitted on {self.input_dtype_} "
                "pixels (uint8 means 0..255, float means 0..1); convert X the same way.")
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
        return inference.predict_proba(self._config(seed=0), self.model_, X,
                                       n_outputs=self.n_outputs_, tta=self.tta)

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

    def _n_replicas(self):
        return trainer.n_replicas(self._config(seed=0), getattr(self, "model_", None))

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
        >>> clf = HPAClassifier(backbone="smallcnn", weights=None, batch_size=8, verbose=0,
        ...                     random_state=0)
        >>> result = clf.lr_find(X, Y, n_steps=6)
        >>> len(result.losses) <= 6, 1e-7 <= result.suggestion <= 1.0
        (True, True)
        """
        if not (isinstance(n_steps, numbers.Integral) and n_steps >= 2):
            raise InputError(f"n_steps must be an integer >= 2; got {n_steps!r}.")
        if not (isinstance(min_lr, numbers.Real) and isinstance(max_lr, numbers.Real)
                and 0 < min_lr < max_lr):
            raise InputError(f"need 0 < min_lr < max_lr; got min_lr={min_lr!r}, "
                             f"max_lr={max_lr!r}.")
        if isinstance(self.optimizer, keras.optimizers.Optimizer):
            raise InputError("lr_find needs the optimizer by name (optimizer='adam', say).")
        probe = clone(self).set_params(lr_schedule=None, decay=0.0, learning_rate=min_lr,
                                       early_stopping=False, checkpoint_dir=None, callbacks=None,
                                       time_budget=None)
        probe._validate_params()
        X, Y, sample_weight, channels, _ = probe._check_fit_data(X, y, sample_weight)
        return trainer.range_test(probe._config(), X, Y, sample_weight, channels,
                                  min_lr=min_lr, max_lr=max_lr, n_steps=n_steps)

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
                raise InputError(
                    f"Invalid parameter {key!r} for {type(self).__name__}: {name!r} has no nested "
                    f"parameters (its value is {getattr(self, name, None)!r}). For optimizer "
                    "settings pass a keras.optimizers.Optimizer instance as optimizer.")
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


HPAClassifier.__doc__ = (HPAClassifier.__doc__
                         .replace("<<backbones>>", listing(BACKBONES))
                         .replace("<<schedules>>", listing(SCHEDULES))
                         .replace("<<losses>>", listing(LOSSES))
                         .replace("<<optimizers>>", ", ".join(f'"{n}"' for n in OPTIMIZERS)))
