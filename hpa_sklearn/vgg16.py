"""``HPAVGG16Classifier``: the original report's VGG16, with its chosen values as defaults (a preset
of :class:`~hpa_sklearn.HPAClassifier`)."""

from sklearn.utils._param_validation import StrOptions

from .classifier import HPAClassifier


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
