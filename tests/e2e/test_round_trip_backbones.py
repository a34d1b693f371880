"""Property (issue 18), every backbone: a model of each backbone of
:data:`hpa_sklearn.backbones.BACKBONES` (the small CNN's are in ``test_round_trip.py``), fitted at
32 px on 16 images for one epoch from random weights and saved, loads in a fresh Python process
that imports nothing but ``hpa_sklearn`` and predicts exactly what the saving process predicted.
Each fit also carries one kind of augmentation (their layers are part of the saved network) and
one more option. The large backbones are slow to build and trace (minutes on two cores), hence
a file of their own: it runs beside the others under pytest-xdist.

The same fitted models of the heavy backbones (ResNet50, DenseNet121, EfficientNetV2B0) are also
exported, to ONNX and to a TensorFlow SavedModel, and the exported graph must give the
probabilities ``predict_proba`` gives (1e-4): the export parity of the other backbones is in
``tests/integration/test_export.py``; fitting these networks twice would cost minutes."""

import numpy as np
import pytest

from hpa_sklearn import HPAClassifier, HPAVGG16Classifier
from hpa_sklearn.backbones import BACKBONES
from hpa_sklearn.datasets import make_hpa_like

from ._helpers import predict_in_a_fresh_process, snapshot
from .test_round_trip import augment, fit_and_save

pytestmark = pytest.mark.slow

BASE = {"weights": None, "epochs": 1, "batch_size": 8, "hidden_units": (16,), "verbose": 0,
        "random_state": 0}

CASES = {
    "vgg16 (HPAVGG16Classifier), flips":
        lambda: HPAVGG16Classifier(**BASE, augmentation=augment(horizontal_flip=True,
                                                                vertical_flip=True)),
    "resnet50, right-angle rotations, focal loss":
        lambda: HPAClassifier(backbone="resnet50", **BASE, augmentation=augment(rot90=True),
                              loss="focal"),
    "densenet121, rotation, class_weight balanced":
        lambda: HPAClassifier(backbone="densenet121", **BASE,
                              augmentation=augment(rotation=20.0), class_weight="balanced"),
    "efficientnetv2b0, zoom, class_weight array":
        lambda: HPAClassifier(backbone="efficientnetv2b0", **BASE, augmentation=augment(zoom=0.2),
                              class_weight=np.linspace(1.0, 3.0, 28)),
    "mobilenetv3small, shift, one-cycle schedule":
        lambda: HPAClassifier(backbone="mobilenetv3small", **BASE, augmentation=augment(shift=0.1),
                              lr_schedule="one_cycle", decay=0.0),
}


def test_every_backbone_is_a_case():
    from .test_round_trip import CASES as SMALL_CNN_CASES

    names = " ".join([*CASES, *SMALL_CNN_CASES])
    for backbone in BACKBONES:
        assert backbone in names, backbone


#: the backbones whose export parity is checked here, on the round trip's fitted models
HEAVY = ("resnet50", "densenet121", "efficientnetv2b0")
EXPORT_FORMATS = ("onnx", "saved_model")
EXPORT_TOL = 1e-4


def _export_parity(X, folder):
    """``also`` for :func:`fit_and_save`: each heavy backbone's model exported in every format,
    {(case, format): largest difference from ``predict_proba`` on 3 images}."""
    from hpa_sklearn import load_exported

    diffs = {}

    def export(name, model):
        if model.backbone not in HEAVY:
            return
        reference = model.predict_proba(X[:3])
        for fmt in EXPORT_FORMATS:
            path = model.export(folder / f"{model.backbone}-{fmt}", format=fmt, tta=None)
            exported = load_exported(path).predict_proba(X[:3])
            assert exported.shape == reference.shape, (name, fmt)
            diffs[name, fmt] = float(np.abs(exported.astype(np.float64) - reference).max())

    return export, diffs


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory):
    root = tmp_path_factory.mktemp("round-trip-backbones")
    X, Y = make_hpa_like(n_samples=16, image_size=32, random_state=0, return_X_y=True)
    export, export_diffs = _export_parity(X, tmp_path_factory.mktemp("exported-backbones"))
    folders, proba, predicted, _, seconds = fit_and_save(CASES, root, X, Y, also=export)
    print("seconds to fit, save, predict (and export):", seconds)
    before = snapshot(root)
    work = tmp_path_factory.mktemp("fresh-process-backbones")
    results, errors, output = predict_in_a_fresh_process(folders, X, work)
    print(output)
    return proba, predicted, results, errors, before == snapshot(root), export_diffs


@pytest.mark.parametrize("name", list(CASES))
def test_a_saved_backbone_predicts_the_same_in_a_fresh_process(name, round_trip):
    proba, predicted, results, errors, unchanged, _ = round_trip
    assert name not in errors, errors[name]
    np.testing.assert_array_equal(results[name], proba[name])
    np.testing.assert_array_equal(results[name + " :: predict"], predicted[name])
    assert unchanged  # loading wrote nothing into the saved folders


def test_every_heavy_backbone_is_exported():
    assert {make().backbone for make in CASES.values()} >= set(HEAVY)


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
@pytest.mark.parametrize("backbone", HEAVY)
def test_a_heavy_backbone_exports_what_it_predicts(backbone, fmt, round_trip):
    """ONNX (onnxruntime) and SavedModel (TensorFlow) give ``predict_proba``'s probabilities."""
    pytest.importorskip("onnxruntime", reason="the export extra is not installed: pip install "
                                              "-e '.[export]'")
    *_, diffs = round_trip
    (name,) = [name for name in CASES if name.startswith(backbone + ",")]
    assert diffs[name, fmt] <= EXPORT_TOL
