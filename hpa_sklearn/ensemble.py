"""``HPAFoldEnsemble``: fitted classifiers (one per cross-validation fold) used as one model.

The 2018 winners averaged the models of their folds instead of training one more on all the data:
each fold model has seen 1 - 1/K of the data, and their mean is steadier than any of them. A
:class:`~hpa_sklearn.MultilabelThresholdTuner` with ``refit=False`` keeps exactly those models;
``hpa-sklearn train --cv K --ensemble`` saves them as one model folder that ``predict``,
``evaluate`` and :func:`HPAFoldEnsemble.load` treat as one model.
"""

import json
from pathlib import Path

import numpy as np

from ._atomic import atomic_folder, recover_folder
from ._decision import apply_thresholds
from ._validation import check_thresholds
from .metrics import macro_f1

ENSEMBLE_FILE = "ensemble.json"
_FORMAT = 1
_FORWARDED = ("verbose", "tta", "batch_size", "workers")  # prediction settings of every member


def _is_ensemble_folder(path):
    path = Path(path)
    return (path / ENSEMBLE_FILE).is_file() and all(
        child.name.startswith("fold-") or child.suffix == ".json" for child in path.iterdir())


class HPAFoldEnsemble:
    """Fitted classifiers used as one: :meth:`predict_proba` is the mean of theirs.

    Parameters
    ----------
    estimators : list of fitted HPAClassifier
        The members (e.g. the fold models of ``MultilabelThresholdTuner(refit=False)``), all
        fitted on images of the same shape and labels.
    threshold : float or array of shape (n_labels,), default=0.5
        Decision threshold(s) of :meth:`predict`.
    at_least_one_label : bool, default=False
        Give a row with no label the one closest to its threshold.

    Attributes
    ----------
    n_outputs_, image_shape_, input_dtype_, channels_ : as the members'
    history_ : dict of lists
        The members' training histories, averaged epoch by epoch.

    Examples
    --------
    >>> from hpa_sklearn import HPAClassifier, MultilabelThresholdTuner
    >>> from hpa_sklearn.ensemble import HPAFoldEnsemble
    >>> from hpa_sklearn.datasets import make_hpa_like
    >>> X, Y = make_hpa_like(n_samples=24, image_size=32, random_state=0, return_X_y=True)
    >>> clf = HPAClassifier(backbone="mobilenetv3small", weights=None, epochs=1, batch_size=8,
    ...                     decay=0.0, verbose=0, random_state=0)
    >>> tuner = MultilabelThresholdTuner(clf, cv=2, refit=False, random_state=0).fit(X, Y)
    >>> ensemble = HPAFoldEnsemble(tuner.estimator_.estimators_, threshold=tuner.best_thresholds_)
    >>> ensemble.predict_proba(X[:3]).shape, len(ensemble.estimators)
    ((3, 28), 2)
    """

    def __init__(self, estimators, *, threshold=0.5, at_least_one_label=False):
        estimators = list(estimators)
        if not estimators:
            raise ValueError("an ensemble needs at least one fitted estimator.")
        first = estimators[0]
        for i, member in enumerate(estimators):
            if not hasattr(member, "model_"):
                raise ValueError(f"estimators[{i}] is not fitted; fit it first.")
            if (member.image_shape_, member.n_outputs_, member.input_dtype_) != (
                    first.image_shape_, first.n_outputs_, first.input_dtype_):
                raise ValueError(
                    f"estimators[{i}] was fitted on {member.image_shape_} {member.input_dtype_} "
                    f"images with {member.n_outputs_} labels, estimators[0] on "
                    f"{first.image_shape_} {first.input_dtype_} with {first.n_outputs_}; the "
                    "members of an ensemble must match."
                )
        self.estimators = estimators
        self.threshold = threshold
        self.at_least_one_label = at_least_one_label
        self.n_outputs_ = first.n_outputs_
        self.classes_ = np.arange(first.n_outputs_)
        self.image_shape_ = first.image_shape_
        self.input_dtype_ = first.input_dtype_
        self.channels_ = first.channels_
        check_thresholds(threshold, self.n_outputs_)

    @property
    def history_(self):
        histories = [m.history_ for m in self.estimators]
        merged = {}
        for key in histories[0]:
            runs = [h.get(key, []) for h in histories]
            length = min(len(r) for r in runs)
            merged[key] = [float(np.mean([r[i] for r in runs])) for i in range(length)]
        return merged

    def __sklearn_is_fitted__(self):
        return True

    def set_params(self, **params):
        """Set ``threshold`` and ``at_least_one_label`` of the ensemble; ``verbose``, ``tta``,
        ``batch_size`` and ``workers`` of every member. Returns self."""
        for key, value in params.items():
            if key in ("threshold", "at_least_one_label"):
                setattr(self, key, value)
            elif key in _FORWARDED:
                for member in self.estimators:
                    member.set_params(**{key: value})
            else:
                raise ValueError(f"{key!r} is not a setting of an ensemble; use threshold, "
                                 f"at_least_one_label, or one of {_FORWARDED}.")
        return self

    def get_params(self, deep=True):
        return {"estimators": self.estimators, "threshold": self.threshold,
                "at_least_one_label": self.at_least_one_label}

    def predict_proba(self, X):
        """The members' mean probability of each label (each with its own ``tta``)."""
        total = None
        for member in self.estimators:
            proba = member.predict_proba(X).astype(np.float64)
            total = proba if total is None else total + proba
        return (total / len(self.estimators)).astype(np.float32)

    def predict(self, X):
        """0/1 labels: ``predict_proba(X) >= threshold``, with the optional fallback."""
        return apply_thresholds(self.predict_proba(X), self.threshold,
                                at_least_one_label=self.at_least_one_label)

    def score(self, X, y, sample_weight=None):
        """Macro F1 of :meth:`predict`."""
        return float(macro_f1(y, self.predict(X), sample_weight=sample_weight))

    # ----------------------------------------------------------------------------- persistence
    def save(self, path, *, extra_json=None):
        """Save the ensemble to one folder: ``ensemble.json`` and a saved classifier per member
        (``fold-1/``, ...), written whole and swapped in (see :meth:`HPAClassifier.save`)."""
        threshold = self.threshold
        if isinstance(threshold, np.ndarray):
            threshold = threshold.tolist()
        meta = {"format": _FORMAT, "members": [f"fold-{i + 1}" for i in range(len(self.estimators))],
                "threshold": threshold, "at_least_one_label": bool(self.at_least_one_label)}
        path = Path(path)
        with atomic_folder(path, replaceable=_is_ensemble_folder) as tmp:
            for name, member in zip(meta["members"], self.estimators):
                member.save(tmp / name)
            (tmp / ENSEMBLE_FILE).write_text(json.dumps(meta, indent=2))
            for name, content in (extra_json or {}).items():
                (tmp / name).write_text(json.dumps(content, indent=2))
        return path

    @classmethod
    def load(cls, path):
        """Load an ensemble saved with :meth:`save`; a damaged folder is one ``ValueError``
        naming the file and the key."""
        from .classifier import HPAClassifier

        path = recover_folder(Path(path))
        meta_path = path / ENSEMBLE_FILE
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{meta_path} cannot be read ({exc}); the ensemble folder is "
                             "damaged.") from None
        expected = {"format", "members", "threshold", "at_least_one_label"}
        if not isinstance(meta, dict) or set(meta) != expected:
            keys = sorted(set(meta) ^ expected) if isinstance(meta, dict) else ["(top level)"]
            raise ValueError(f"{meta_path}: {', '.join(keys)}: missing or unknown; the ensemble "
                             "folder is damaged.")
        if meta["format"] != _FORMAT:
            raise ValueError(f"{meta_path}: format: {meta['format']!r} is not {_FORMAT}.")
        members = meta["members"]
        if not (isinstance(members, list) and members and all(
                isinstance(m, str) and m.startswith("fold-") and "/" not in m for m in members)):
            raise ValueError(f"{meta_path}: members: expected a list of 'fold-N' folder names.")
        if not isinstance(meta["at_least_one_label"], bool):
            raise ValueError(f"{meta_path}: at_least_one_label: expected true or false.")
        estimators = [HPAClassifier.load(path / name) for name in members]
        try:
            return cls(estimators, threshold=meta["threshold"],
                       at_least_one_label=meta["at_least_one_label"])
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{meta_path}: {exc}") from None
