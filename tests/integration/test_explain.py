"""``explain``: Grad-CAM and occlusion heatmaps of the classifier, the fold ensemble and the
threshold tuner; the report's gallery and ``hpa-sklearn explain``.

Known answers: Grad-CAM against the same map computed by hand in NumPy from the network's weights
(tests/integration/_explain_check.py), occlusion against a brute-force reference on a model-free
predictor. The checks that depend on the backend run here under TensorFlow and, in a subprocess,
under JAX.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hpa_sklearn import HPAVGG16Classifier, MultilabelThresholdTuner
from hpa_sklearn._engine.backbones import BACKBONES
from hpa_sklearn._engine.explain import normalize_maps, occlusion, rank_classes
from hpa_sklearn.datasets import make_hpa_like
from hpa_sklearn.ensemble import HPAFoldEnsemble
from hpa_sklearn.exceptions import InputError

from ._explain_check import check_known_answer, check_maps, fit_small

REPO = Path(__file__).resolve().parents[2]
CHECK_SCRIPT = Path(__file__).with_name("_explain_check.py")


@pytest.fixture(scope="module")
def data():
    return make_hpa_like(24, 32, random_state=0, return_X_y=True)


@pytest.fixture(scope="module")
def small(data):
    X, Y = data
    return fit_small(X, Y)


@pytest.fixture(scope="module")
def other(data):
    X, Y = data
    return fit_small(X, Y, random_state=1)


def _valid(maps, shape):
    result = check_maps(maps, shape)
    assert result["shape"] == result["expected"], result
    assert result["dtype"] == "float32" and result["finite"] and result["min"] >= 0, result
    assert result["nonzero"], result


# ----------------------------------------------------------------------------- Grad-CAM
def test_gradcam_equals_the_hand_computed_map(small, data):
    X, _ = data
    assert check_known_answer(small, X[:1], classes=(0,)) < 1e-4  # one image, one class
    assert check_known_answer(small, X[:4], classes=(25, 0, 2)) < 1e-4


def test_maps_have_the_input_size_and_are_normalized(small, data):
    X, _ = data
    maps = small.explain(X[:5], [0, 2, 25])
    _valid(maps, (5, 3, 32, 32))
    peaks = maps.max(axis=(2, 3))
    assert np.all((np.abs(peaks - 1) < 1e-6) | (peaks == 0))


def test_input_size_resizing_gives_maps_at_the_input_size(data):
    X, Y = data
    big = np.repeat(np.repeat(X[:6], 5, axis=1), 5, axis=2)[:, :40, :40]
    resized = fit_small(big, Y[:6], input_size=32, batch_size=6)
    _valid(resized.explain(big[:2], [0, 25]), (2, 2, 40, 40))
    _valid(resized.explain(big[:1], [0], method="occlusion"), (1, 1, 40, 40))


def test_memmap_input_out_array_and_batch_size_give_the_same_maps(small, data, tmp_path):
    X, _ = data
    np.save(tmp_path / "X.npy", X[:7])
    mapped = np.load(tmp_path / "X.npy", mmap_mode="r")
    expected = small.explain(X[:7], [0, 25])
    out = np.lib.format.open_memmap(tmp_path / "maps.npy", mode="w+", dtype=np.float32,
                                    shape=(7, 2, 32, 32))
    result = small.explain(mapped, [0, 25], batch_size=3, out=out)  # 3 + 3 + 1 (padded)
    assert result is out
    assert np.abs(np.asarray(out) - expected).max() < 1e-5
    with pytest.raises(InputError, match="out must be a float32 array of shape"):
        small.explain(X[:7], [0], out=np.zeros((7, 2, 32, 32), np.float32))


def test_classes_none_gives_each_image_its_predicted_classes_first(small, data):
    X, _ = data
    maps, classes = small.explain(X[:6], return_classes=True)
    predicted = small.predict(X[:6])
    counts = predicted.sum(axis=1)
    assert classes.shape == (6, max(1, counts.max())) and maps.shape[:2] == classes.shape
    for i in range(6):
        assert set(classes[i, :counts[i]]) == set(np.flatnonzero(predicted[i]))
        assert len(set(classes[i])) == classes.shape[1]  # no class twice
    # the same maps when the classes are asked per image (a 2-D array)
    assert np.abs(small.explain(X[:6], classes) - maps).max() < 1e-5
    # the ranking: probability / threshold, the predicted classes first
    proba = np.array([[0.6, 0.9, 0.05], [0.1, 0.1, 0.3]])
    assert rank_classes(proba, [0.5, 0.5, 0.1]).tolist() == [[1, 0], [2, 0]]
    assert rank_classes(proba * 0, 0.5).tolist() == [[0], [0]]  # nothing predicted: 1 slot


def test_classes_by_name_and_clear_errors(small, data):
    X, _ = data
    by_id = small.explain(X[:2], [0, 25])
    by_name = small.explain(X[:2], ["Nucleoplasm", "cytosol"])  # case-insensitive
    assert np.array_equal(by_id, by_name)
    with pytest.raises(InputError, match="did you mean 'Nucleoli'"):
        small.explain(X[:2], ["Nucleoly"])
    with pytest.raises(InputError, match="class id 28 is out of range"):
        small.explain(X[:2], [28])
    with pytest.raises(InputError, match="method must be one of"):
        small.explain(X[:2], [0], method="lime")
    with pytest.raises(InputError, match="batch_size must be None or an integer"):
        small.explain(X[:2], [0], batch_size=0)
    with pytest.raises(InputError, match="classes has 3 rows for 2 images"):
        small.explain(X[:2], np.zeros((3, 1), int))
    with pytest.raises(ValueError, match="fitted on"):
        small.explain(X[:2, :, :, :3], [0])
    from sklearn.exceptions import NotFittedError

    from hpa_sklearn import HPAClassifier

    with pytest.raises(NotFittedError):
        HPAClassifier().explain(X[:2])


def test_tta_maps_follow_the_views(small, data):
    # with the flips of "flips" (a group), explaining a mirrored image mirrors the maps
    X, _ = data
    small.set_params(tta="flips")
    try:
        maps = small.explain(X[:3], [0, 25])
        mirrored = small.explain(np.ascontiguousarray(X[:3, :, ::-1]), [0, 25])
    finally:
        small.set_params(tta=None)
    _valid(maps, (3, 2, 32, 32))
    assert np.abs(mirrored - maps[..., ::-1]).max() < 1e-4
    assert np.abs(maps - small.explain(X[:3], [0, 25])).max() > 1e-3  # the views count


def test_vgg16_gradcam_and_occlusion(data):
    X, Y = data
    vgg = HPAVGG16Classifier(weights=None, epochs=1, batch_size=8, hidden_units=16, verbose=0,
                             random_state=0).fit(X[:16], Y[:16])
    _valid(vgg.explain(X[:3], [0, 25]), (3, 2, 32, 32))
    _valid(vgg.explain(X[:1], [0], method="occlusion", batch_size=64), (1, 1, 32, 32))


# stride of each backbone's cam_layer: the side of the feature map Grad-CAM weighs is size/stride
_STRIDES = {"smallcnn": 8, "vgg16": 16, "resnet50": 32, "densenet121": 32,
            "efficientnetv2b0": 32, "mobilenetv3small": 32}


@pytest.mark.parametrize("backbone", sorted(BACKBONES))
def test_every_backbone_table_cam_layer_cuts_its_graph(backbone):
    from hpa_sklearn._engine.explain import explainer, gradcam_batch
    from hpa_sklearn._engine.network import build_network

    model = build_network(backbone=backbone, image_shape=(64, 64, 4), n_outputs=28,
                          input_dtype="uint8", mean=np.full(4, 0.1), variance=np.full(4, 0.02),
                          channels=None, weights=None, yellow_init="red", input_size=None,
                          augmentation_layers=[], pooling="avg", hidden_units=[8],
                          activation="relu", dropout=0.0, seed=0)
    X = np.random.default_rng(0).integers(0, 256, (2, 64, 64, 4), dtype=np.uint8)
    layer = BACKBONES[backbone].cam_layer
    maps = gradcam_batch(model, X, np.array([[0, 3], [5, 27]]), cam_layer=layer)
    assert maps.shape == (2, 2, 64, 64) and np.isfinite(maps).all() and maps.min() >= 0
    assert explainer(model, layer).feature_shape[:2] == (64 // _STRIDES[backbone],) * 2
    if backbone == "resnet50":  # a layer that a skip connection passes around is refused
        with pytest.raises(InputError, match="does not cut"):
            explainer(model, "conv5_block3_2_conv")


# ----------------------------------------------------------------------------- occlusion
def test_occlusion_matches_a_brute_force_known_answer():
    # a model-free predictor: class 0 = mean of channel 1 over rows 8..15, columns 40..47;
    # class 1 = mean of channel 0 over the whole image
    rng = np.random.default_rng(0)
    X = rng.integers(50, 200, size=(2, 64, 64, 2), dtype=np.uint8)

    def predict(batch):
        b = np.asarray(batch, dtype=np.float64) / 255
        return np.stack([b[:, 8:16, 40:48, 1].mean((1, 2)), b[..., 0].mean((1, 2))], 1)

    maps = occlusion(predict, X, [0, 1], batch_size=50)
    assert maps.shape == (2, 2, 64, 64) and maps.dtype == np.float32
    patch, starts = 8, list(range(0, 57, 4))  # 1/8 of the side, moved by half a patch
    for i in range(2):
        base = predict(X[i:i + 1])[0]
        total, count = np.zeros((2, 64, 64)), np.zeros((64, 64))
        for y in starts:
            for x in starts:
                covered = X[i:i + 1].copy()
                covered[:, y:y + patch, x:x + patch] = 0
                total[:, y:y + patch, x:x + patch] += (base - predict(covered)[0])[:, None, None]
                count[y:y + patch, x:x + patch] += 1
        assert np.abs(maps[i] - np.maximum(total / count, 0)).max() < 1e-6
    # class 0's map is zero where no patch touching its region covers the pixel
    reach = np.zeros((64, 64), bool)
    reach[0:24, 32:56] = True
    assert np.all(maps[:, 0][:, ~reach] == 0) and np.all(maps[:, 0][:, 8:16, 40:48] > 0)


def test_occlusion_of_a_classifier_is_its_probability_drop(small, data):
    X, _ = data
    maps = small.explain(X[:1], [0, 25], method="occlusion", batch_size=64)
    reference = occlusion(small.predict_proba, X[:1], [0, 25], batch_size=64)
    assert np.abs(maps - reference).max() < 1e-5
    _valid(maps, (1, 2, 32, 32))


# ----------------------------------------------------------------------------- meta-estimators
def test_fold_ensemble_averages_its_members(small, other, data):
    X, _ = data
    ensemble = HPAFoldEnsemble.from_fitted([small, other])
    classes = [0, 2, 25]
    expected = normalize_maps(small.explain(X[:4], classes) + other.explain(X[:4], classes))
    assert np.abs(ensemble.explain(X[:4], classes) - expected).max() < 1e-5
    # occlusion: the maps of the ensemble's mean probability
    maps = ensemble.explain(X[:1], classes, method="occlusion", batch_size=64)
    reference = occlusion(ensemble.predict_proba, X[:1], classes, batch_size=64)
    assert np.abs(maps - reference).max() < 1e-5
    maps, ranked = ensemble.explain(X[:4], return_classes=True)
    assert np.array_equal(ranked[:, 0], np.argmax(ensemble.predict_proba(X[:4]) / 0.5, axis=1))


def test_threshold_tuner_explains_its_model_with_its_thresholds(small, data):
    X, Y = data
    with pytest.warns(UserWarning, match="No positive sample"):  # rare classes: 24 images
        tuner = MultilabelThresholdTuner(small, cv="prefit", refit=False).fit(X, Y)
    assert np.abs(tuner.explain(X[:3], [0, 25]) - small.explain(X[:3], [0, 25])).max() < 1e-5
    _, classes = tuner.explain(X[:3], return_classes=True)
    predicted = tuner.predict(X[:3])
    for i in range(3):
        n = predicted[i].sum()
        assert set(classes[i, :n]) == set(np.flatnonzero(predicted[i]))
    with pytest.raises(InputError, match="explain needs the library's image classifiers"):
        from sklearn.dummy import DummyClassifier
        from sklearn.multioutput import MultiOutputClassifier

        flat = X.reshape(len(X), -1)
        dummy = MultiOutputClassifier(DummyClassifier()).fit(flat, Y)
        HPAFoldEnsemble.from_fitted([dummy]).explain(X[:2], [0])


# ----------------------------------------------------------------------------- JAX
@pytest.mark.slow
def test_explain_under_the_jax_backend():
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run([sys.executable, str(CHECK_SCRIPT)], env=env, cwd=REPO,
                            capture_output=True, text=True, timeout=1200, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["backend"] == "jax"
    assert found["known_answer_max_diff"] < 1e-4
    assert found["memmap_max_diff"] < 1e-5
    for key in ("smallcnn_gradcam", "predicted_classes", "smallcnn_occlusion", "vgg16_gradcam"):
        check = found[key]
        assert check["shape"] == check["expected"] and check["dtype"] == "float32", (key, check)
        assert check["finite"] and check["min"] >= 0 and check["nonzero"], (key, check)


# ----------------------------------------------------------------------------- report and CLI
@pytest.fixture(scope="module")
def model_and_data(small, tmp_path_factory):
    from hpa_sklearn.datasets import write_kaggle_layout

    root = tmp_path_factory.mktemp("explain-cli")
    train = make_hpa_like(12, 32, random_state=3)
    write_kaggle_layout(root / "data", train.images, train.ids, train.target)
    small.save(root / "model")
    return root / "model", root / "data", list(train.ids)


def test_write_report_gallery_shows_heatmaps(small, data, tmp_path):
    from hpa_sklearn.report import write_report

    X, Y = data
    calls = []

    def explain(images, classes):
        calls.append((len(images), list(classes)))
        return small.explain(images, classes)

    report = write_report(tmp_path / "report", Y, small.predict_proba(X), images=X,
                          n_examples=3, n_boot=20, explain=explain)
    assert calls and all(n == 1 for n, _ in calls)
    assert "examples.png" in report["files"]
    assert "where the model saw each class" in (tmp_path / "report" / "index.html").read_text()


def test_cli_explain_writes_gallery_heatmaps_and_json(model_and_data, tmp_path, capsys):
    from hpa_sklearn import cli
    from hpa_sklearn._io.ownership import owned_kind

    model, data, ids = model_and_data
    out = tmp_path / "why"
    status = cli.main(["explain", "--model", str(model), "--data", str(data), "--ids", ids[0],
                       ids[3], "--out", str(out), "--n-jobs", "1", "--cache-dir",
                       str(tmp_path / "cache")])
    assert status == 0, capsys.readouterr().err
    assert owned_kind(out) == "explain"
    record = json.loads((out / "explain.json").read_text())
    heatmaps = np.load(out / "heatmaps.npy")
    assert record["ids"] == [ids[0], ids[3]] and record["method"] == "gradcam"
    assert list(heatmaps.shape) == record["heatmaps"]["shape"]
    assert heatmaps.shape[0] == 2 and heatmaps.shape[2:] == (32, 32)
    assert np.isfinite(heatmaps).all() and heatmaps.min() >= 0
    for i, slots in enumerate(record["shown"]):  # the true and predicted classes, then empty
        real = [c for c in slots if c >= 0]
        assert set(record["true"][i]) <= set(real) or len(real) == 4
        assert all(heatmaps[i, k].max() == 0 for k, c in enumerate(slots) if c < 0)
    assert (out / "gallery.png").stat().st_size > 1000 and (out / "index.html").is_file()

    # chosen classes by name, occlusion, ids from a CSV; the folder is replaced
    (tmp_path / "ids.csv").write_text(f"Id\n{ids[1]}\n")
    status = cli.main(["explain", "--model", str(model), "--data", str(data), "--ids-file",
                       str(tmp_path / "ids.csv"), "--classes", "Nucleoplasm", "25",
                       "--method", "occlusion", "--out", str(out), "--n-jobs", "1",
                       "--cache-dir", str(tmp_path / "cache")])
    assert status == 0, capsys.readouterr().err
    record = json.loads((out / "explain.json").read_text())
    assert record["shown"] == [[0, 25]] and record["method"] == "occlusion"
    assert np.load(out / "heatmaps.npy").shape == (1, 2, 32, 32)


def test_cli_explain_refuses_clearly(model_and_data, tmp_path, capsys):
    from hpa_sklearn import cli

    model, data, ids = model_and_data
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    base = ["explain", "--model", str(model), "--data", str(data), "--n-jobs", "1"]
    status = cli.main([*base, "--ids", ids[0], "--out", str(tmp_path / "mine")])
    assert status == 2 and "did not write" in capsys.readouterr().err
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"
    status = cli.main([*base, "--ids", "no-such-id", "--out", str(tmp_path / "a")])
    assert status == 2 and "not in" in capsys.readouterr().err
    status = cli.main([*base, "--ids", ids[0], "--classes", "Nucleoly", "--out",
                       str(tmp_path / "b")])
    assert status == 2 and "did you mean 'Nucleoli'" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_cli_evaluate_report_has_the_heatmap_gallery(model_and_data, tmp_path, capsys):
    from hpa_sklearn import cli

    model, data, _ = model_and_data
    out = tmp_path / "report"
    status = cli.main(["evaluate", "--model", str(model), "--data", str(data), "--out",
                       str(out), "--n-boot", "20", "--n-jobs", "1", "--cache-dir",
                       str(tmp_path / "cache")])
    assert status == 0, capsys.readouterr().err
    page = (out / "index.html").read_text()
    assert "examples.png" in page and "where the model saw each class" in page
