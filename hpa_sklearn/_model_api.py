"""The methods every fitted model of the library shares: :class:`~hpa_sklearn.HPAClassifier`,
:class:`~hpa_sklearn.HPAFoldEnsemble` and :class:`~hpa_sklearn.MultilabelThresholdTuner` score
with macro F1, explain, save, load and export the same way, through one implementation each
(the engine's :mod:`~hpa_sklearn._engine.explain`, :mod:`hpa_sklearn._persistence`,
:mod:`hpa_sklearn._export`)."""

from ._engine.explain import EXPLAIN_DOC, explain_estimator
from .metrics import macro_f1


class _ModelMethods:
    """Mixin (left of the scikit-learn bases) of the shared methods; the class provides
    ``predict``, ``predict_proba`` and the fitted state."""

    def score(self, X, y, sample_weight=None):
        """Macro F1 of :meth:`predict` against ``y`` (the competition's metric;
        ``zero_division=0``).

        Parameters
        ----------
        X : array of shape (n_samples, height, width, channels)
            Images, as :meth:`predict` takes them.
        y : array of shape (n_samples, n_labels)
            0/1 indicator matrix.
        sample_weight : array of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
        """
        return float(macro_f1(y, self.predict(X), sample_weight=sample_weight))

    def explain(self, X, classes=None, method="gradcam", batch_size=None, *,
                return_classes=False, out=None):
        return explain_estimator(self, X, classes, method, batch_size,
                                 return_classes=return_classes, out=out)

    explain.__doc__ = EXPLAIN_DOC

    def save(self, path, *, run=None):
        """Save the fitted model to a folder of the library's one model format: the manifest
        ``hpa-sklearn.json`` (class, parameters, fitted attributes, every file's size and
        digest) beside ``model.keras`` (a classifier's network with its optimizer's state) or
        one member folder per model it holds (``fold-1/``, ... of a fold ensemble; a tuner's
        model). No pickle.

        The folder is written whole under a temporary name and swapped in: a reader (or a crash)
        sees the previous save or this one, never a mix. An existing folder is replaced only
        when it is a saved model of this library (or empty). Extra Keras ``callbacks`` and the
        machine's paths (``checkpoint_dir``, a ``weights`` file) are not saved.

        Parameters
        ----------
        path : str or Path
            The folder.
        run : dict, default=None
            A JSON-serializable record of how the model was made (data, recipe, ...), kept in
            the manifest (``run``) and shown by reports.

        Returns
        -------
        path : Path
        """
        from ._persistence import save_model

        return save_model(self, path, run=run)

    @classmethod
    def load(cls, path):
        """Load a model saved with :meth:`save` (or by hpa-sklearn 0.1; a classifier also from a
        checkpoint); it predicts what it predicted before saving. ``HPAClassifier.load`` also
        loads an ``HPAVGG16Classifier``'s folder (and returns that class).

        Raises :class:`~hpa_sklearn.exceptions.ModelFolderError` (a ``ValueError``) naming the
        file and the key when the folder is not such a save of this class or is damaged. No code
        from the folder runs (see :func:`hpa_sklearn.load_model`).
        """
        from ._persistence import load_model

        return load_model(path, expect=cls)

    def export(self, path, *, format="onnx", tta="model", run=None):
        """Export the fitted model for use outside Python (ONNX or a TensorFlow SavedModel)
        with its metadata (thresholds, class names, input contract): see
        :func:`hpa_sklearn.export_model`. Returns the folder's path."""
        from ._export import export_model

        return export_model(self, path, format=format, tta=tta, run=run)
