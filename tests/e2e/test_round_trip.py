"""Property (issue 18): every model the library saves loads in a fresh Python process that imports
nothing but ``hpa_sklearn``, and predicts exactly what the saving process predicted.

This file: every option that ends up in a saved model, on the small CNN: augmentation of every
kind (flips, right-angle rotations, rotation, zoom, shifts, brightness), test-time augmentation
(flips, dihedral), focal loss, class weights ("balanced" and an array), ``mixed_bfloat16``, a fold
ensemble (:class:`HPAFoldEnsemble`), tuned thresholds (:class:`MultilabelThresholdTuner`,
``refit=False`` and ``refit=True``), a model folder of ``hpa-sklearn train`` (the default recipe,
augmented), and folders written by hpa-sklearn 0.1; ``test_round_trip_backbones.py`` does the
same for every other backbone. Each network is fitted at 32 px on 16 images for one epoch from
random weights, and ONE subprocess loads and predicts all of the saved models.
"""

import json
import shutil
import time
import zipfile

import numpy as np
import pytest

from hpa_sklearn import (
    HPAClassifier,
    HPAFoldEnsemble,
    ImageAugmenter,
    MultilabelThresholdTuner,
)
from hpa_sklearn.datasets import make_hpa_like
from hpa_sklearn.model_selection import MultilabelStratifiedShuffleSplit

from ._helpers import MANIFEST, predict_in_a_fresh_process, snapshot

pytestmark = pytest.mark.slow

SMALL = {"backbone": "smallcnn", "weights": None, "epochs": 1, "batch_size": 8,
         "hidden_units": (16,), "verbose": 0, "random_state": 0}
NO_AUGMENTATION = {"rotation": 0.0, "zoom": 0.0, "shift": 0.0, "horizontal_flip": False,
                   "vertical_flip": False, "rot90": False, "brightness": 0.0}
CLI_MODEL = "hpa-sklearn train (recipe cpu: flips, right-angle rotations; tuned thresholds)"


def augment(**kinds):
    """An ImageAugmenter with only ``kinds`` on."""
    return ImageAugmenter(**{**NO_AUGMENTATION, **kinds}, random_state=0)


def _holdout():
    return MultilabelStratifiedShuffleSplit(n_splits=1, test_size=0.25, random_state=0)


# name -> an unfitted estimator; the saveable options spread over as few fits as possible
CASES = {
    "smallcnn, brightness, mixed_bfloat16, tta flips":
        lambda: HPAClassifier(**SMALL, augmentation=augment(brightness=0.2),
                              mixed_precision="mixed_bfloat16", tta="flips"),
    "fold ensemble (2 folds), every augmentation kind, tta dihedral":
        lambda: HPAFoldEnsemble(HPAClassifier(**SMALL, augmentation=ImageAugmenter(random_state=0),
                                              tta="dihedral"), cv=2, threshold=0.4),
    "thresholds tuned, refit=False (a fold ensemble inside), focal loss, class_weight balanced":
        lambda: MultilabelThresholdTuner(HPAClassifier(**SMALL, loss="focal",
                                                       class_weight="balanced"),
                                         cv=_holdout(), refit=False, random_state=0),
    "thresholds tuned, refit=True, at_least_one_label, class_weight array":
        lambda: MultilabelThresholdTuner(HPAClassifier(**SMALL,
                                                       class_weight=np.linspace(1.0, 3.0, 28)),
                                         cv=_holdout(), refit=True, at_least_one_label=True,
                                         random_state=0),
}
LEGACY = ("0.1 classifier folder", "0.1 command line folder", "0.1 fold ensemble folder")
NAMES = [*CASES, CLI_MODEL, *LEGACY]


def fit_and_save(cases, root, X, Y, also=None):
    """Fit each case, save it to ``root/case-i``; (folders, probabilities, predictions, models'
    (threshold, at_least_one_label), seconds), no network kept alive. ``also(name, model)``, if
    given, runs on each fitted model after it is saved."""
    import warnings

    import keras

    folders, proba, predicted, decision, seconds = {}, {}, {}, {}, {}
    for i, (name, make) in enumerate(cases.items()):
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # classes absent from 16 images
            model = make().fit(X, Y)
        folders[name] = root / f"case-{i}"
        model.save(folders[name])
        proba[name], predicted[name] = model.predict_proba(X), model.predict(X)
        if also is not None:
            also(name, model)
        decision[name] = (getattr(model, "threshold", None),
                          getattr(model, "at_least_one_label", None))
        del model
        keras.backend.clear_session()
        seconds[name] = round(time.perf_counter() - start, 1)
    return folders, proba, predicted, decision, seconds


def test_every_option_is_a_case():
    names = " ".join(CASES)
    for kind in ("brightness", "every augmentation kind", "tta flips", "tta dihedral", "focal",
                 "balanced", "class_weight array", "mixed_bfloat16", "fold ensemble",
                 "refit=False", "refit=True"):
        assert kind in names, kind
    assert "right-angle rotations" in CLI_MODEL


def _legacy_network(source, target):
    """``source``'s network file as hpa-sklearn 0.1 wrote it: its classes lived in the modules
    ``hpa_sklearn._layers``, ``_losses`` and ``_schedules``."""
    modules = {"RandomRot90": "hpa_sklearn._layers", "MultilabelFocalLoss": "hpa_sklearn._losses",
               "WarmupCosine": "hpa_sklearn._schedules", "OneCycle": "hpa_sklearn._schedules"}

    def rewrite(node):
        if isinstance(node, dict):
            if node.get("class_name") in modules and str(node.get("module", "")).startswith(
                    "hpa_sklearn"):
                node["module"] = modules[node["class_name"]]
            for value in node.values():
                rewrite(value)
        elif isinstance(node, list):
            for value in node:
                rewrite(value)

    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for item in old.infolist():
            data = old.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                rewrite(config)
                data = json.dumps(config).encode()
            new.writestr(item, data)


def _legacy_classifier(source, target, cli_meta=None):
    """Write the 0.1 layout of the saved classifier ``source`` into ``target``:
    ``estimator.json`` (format 3: class, params, fitted) + ``model.keras`` (+ the command line's
    ``hpa_model.json``), the parameters as 0.1 kept them (a machine's checkpoint path included)."""
    manifest = json.loads((source / MANIFEST).read_text())
    params = dict(manifest["estimator"]["params"])
    params.pop("time_budget")  # added after 0.1
    params["checkpoint_dir"] = "/home/someone/runs/model.checkpoints"  # 0.1 kept the path
    augmentation = params.get("augmentation")
    if isinstance(augmentation, dict):  # 0.1's encoding of the augmenter
        params["augmentation"] = {"ImageAugmenter": augmentation["params"]}
    target.mkdir()
    _legacy_network(source / "model.keras", target / "model.keras")
    (target / "estimator.json").write_text(json.dumps({
        "format": 3, "class": manifest["estimator"]["class"], "params": params,
        "fitted": manifest["estimator"]["fitted"]}, indent=2))
    if cli_meta is not None:
        from hpa_sklearn import CLASS_NAMES

        (target / "hpa_model.json").write_text(json.dumps(
            {"format": 1, "class_names": list(CLASS_NAMES), **cli_meta}, indent=2))


@pytest.fixture(scope="module")
def saved(tmp_path_factory, cli_model):
    """Fit and save every case; add the command line's model and 0.1 folders. Returns
    (root, {name: folder}, X, {name: probabilities}, {name: predictions})."""
    root = tmp_path_factory.mktemp("round-trip")
    X, Y = make_hpa_like(n_samples=16, image_size=32, random_state=0, return_X_y=True)
    folders, proba, predicted, decision, seconds = fit_and_save(CASES, root, X, Y)
    print("seconds to fit, save and predict:", seconds)
    # the command line's model folder: the default recipe (augmented), thresholds tuned
    folders[CLI_MODEL] = cli_model
    cli = HPAClassifier.load(cli_model)
    proba[CLI_MODEL], predicted[CLI_MODEL] = cli.predict_proba(X), cli.predict(X)
    del cli
    # folders of hpa-sklearn 0.1: a classifier, a command line's model, a fold ensemble
    single = next(n for n in CASES if n.startswith("smallcnn"))
    ensemble = next(n for n in CASES if n.startswith("fold ensemble"))
    sources = {"0.1 classifier folder": (single, folders[single], None),
               "0.1 command line folder": (CLI_MODEL, cli_model, {
                   "image_size": 32, "channels": ["red", "green", "blue", "yellow"],
                   "thresholds": "tuned"})}
    for name, (source_name, source, meta) in sources.items():
        folders[name] = root / name.replace(" ", "-")
        _legacy_classifier(source, folders[name], meta)
        proba[name], predicted[name] = proba[source_name], predicted[source_name]
    name = "0.1 fold ensemble folder"
    folders[name] = root / "0.1-ensemble"
    folders[name].mkdir()
    for k in (1, 2):
        _legacy_classifier(folders[ensemble] / f"fold-{k}", folders[name] / f"fold-{k}")
    threshold, at_least_one_label = decision[ensemble]
    (folders[name] / "ensemble.json").write_text(json.dumps(
        {"format": 1, "members": ["fold-1", "fold-2"], "threshold": threshold,
         "at_least_one_label": at_least_one_label}))
    proba[name], predicted[name] = proba[ensemble], predicted[ensemble]
    return root, folders, X, proba, predicted


@pytest.fixture(scope="module")
def fresh_process(saved, tmp_path_factory):
    """Load and predict every saved model in ONE new Python process: (results, errors,
    snapshots of the saved folders before and after, the names in its working folder)."""
    _, folders, X, *_ = saved
    work = tmp_path_factory.mktemp("fresh-process")
    before = {name: snapshot(folder) for name, folder in folders.items()}
    results, errors, output = predict_in_a_fresh_process(folders, X, work)
    print(output)
    after = {name: snapshot(folder) for name, folder in folders.items()}
    return results, errors, before, after, sorted(p.name for p in work.iterdir())


@pytest.mark.parametrize("name", NAMES)
def test_a_saved_model_predicts_the_same_in_a_fresh_process(name, saved, fresh_process):
    _, _, _, proba, predicted = saved
    results, errors, before, after, _ = fresh_process
    assert name not in errors, errors[name]
    np.testing.assert_array_equal(results[name], proba[name])
    np.testing.assert_array_equal(results[name + " :: predict"], predicted[name])
    assert after[name] == before[name]  # loading wrote nothing into the folder


def test_loading_writes_nothing_beside_the_folders(fresh_process):
    *_, files = fresh_process
    assert files == ["X.npy", "result.json", "result.npz"]  # the process's own files only


def test_a_loaded_model_keeps_no_machine_path_and_its_fit_writes_nowhere(saved, tmp_path,
                                                                         monkeypatch):
    """A model trained with checkpoints (the command line's) and a 0.1 folder that kept the
    training machine's checkpoint path: loaded, ``checkpoint_dir`` is None, and ``fit`` writes
    no checkpoint anywhere (neither under the saved path nor under the current folder)."""
    _, folders, X, *_ = saved
    monkeypatch.chdir(tmp_path)
    Y = make_hpa_like(n_samples=16, image_size=32, random_state=0).target
    legacy = json.loads((folders["0.1 classifier folder"] / "estimator.json").read_text())
    assert legacy["params"]["checkpoint_dir"].startswith("/home/someone")
    for name in (CLI_MODEL, "0.1 classifier folder"):
        model = HPAClassifier.load(folders[name])
        assert model.checkpoint_dir is None, name
    before = snapshot(tmp_path), snapshot(folders[name].parent)
    model.set_params(epochs=1, verbose=0).fit(X, Y)
    assert (snapshot(tmp_path), snapshot(folders[name].parent)) == before
    assert not (tmp_path / "home").exists()


def test_folders_of_ensembles_and_tuners_hold_their_members(saved):
    _, folders, *_ = saved
    ensemble = folders[next(n for n in CASES if n.startswith("fold ensemble"))]
    assert sorted(p.name for p in ensemble.iterdir()) == ["fold-1", "fold-2", MANIFEST]
    for name in CASES:
        if name.startswith("thresholds tuned"):
            assert sorted(p.name for p in folders[name].iterdir()) == ["estimator", MANIFEST]


def test_saving_again_replaces_a_0_1_folder_with_the_current_format(saved, tmp_path):
    _, folders, X, proba, _ = saved
    copy = tmp_path / "legacy"
    shutil.copytree(folders["0.1 classifier folder"], copy)
    HPAClassifier.load(copy).save(copy)
    assert sorted(p.name for p in copy.iterdir()) == [MANIFEST, "model.keras"]
    np.testing.assert_array_equal(HPAClassifier.load(copy).predict_proba(X),
                                  proba["0.1 classifier folder"])
