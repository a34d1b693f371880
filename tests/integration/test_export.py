"""Models that leave Python (issue 21, parts 2 and 3): ``export`` to ONNX and to a TensorFlow
SavedModel, the exported model's probabilities against ``predict_proba`` (1e-4) for every backbone,
test-time augmentation folded into the graph, fold ensembles and tuned thresholds, the metadata,
the safe reader's refusals (each one error naming the file, before any runtime loads the model),
the command line end to end, and the docs page's example run as written."""

import ast
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime", reason="the export extra is not installed: pip install "
                                          "-e '.[export]'")
pytest.importorskip("tf2onnx", reason="the export extra is not installed")

import onnx  # noqa: E402
import onnxruntime  # noqa: E402

import hpa_sklearn  # noqa: E402
from hpa_sklearn import (  # noqa: E402
    CLASS_NAMES,
    HPAClassifier,
    HPAVGG16Classifier,
    MultilabelThresholdTuner,
    load_exported,
    load_model,
)
from hpa_sklearn._engine.backbones import BACKBONES  # noqa: E402
from hpa_sklearn._engine.tta import TTA_MODES, view  # noqa: E402
from hpa_sklearn._io.export_folder import METADATA, MissingExtraError  # noqa: E402
from hpa_sklearn._io.ownership import owned_kind  # noqa: E402
from hpa_sklearn.datasets import make_hpa_like, write_kaggle_layout  # noqa: E402
from hpa_sklearn.exceptions import (  # noqa: E402
    InputError,
    ModelFolderError,
    OutputRefusedError,
)
from hpa_sklearn.recipes import make_classifier  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
TOL = 1e-4
FORMATS = ("onnx", "saved_model")
TINY = dict(weights=None, epochs=1, batch_size=8, verbose=0, random_state=0)
# parity of these here; the heavy backbones' (minutes to fit and convert) is checked on the
# fitted models of tests/e2e/test_round_trip_backbones.py, which fits them anyway
TESTED_BACKBONES = {"smallcnn", "vgg16", "mobilenetv3small"}


@pytest.fixture(scope="module")
def data():
    """16 HPA-like RGBY images of 32 px (uint8) and their labels."""
    return make_hpa_like(n_samples=16, image_size=32, random_state=0, return_X_y=True)


@pytest.fixture(scope="module")
def recipe_model(data):
    """The recommended recipe's network (small CNN, flips and right-angle rotations in training,
    8-view TTA), on two of the four channels (green, yellow: picked inside the exported graph)
    and resized to 48 px inside the network (antialiased: tf2onnx needs the library's
    ScaleAndTranslate conversion)."""
    X, Y = data
    clf = make_classifier("cpu", channels=("green", "yellow"), input_size=48, **TINY)
    return clf.fit(X[..., [1, 3]], Y)


@pytest.fixture(scope="module")
def exported_onnx(recipe_model, tmp_path_factory):
    """The recipe model exported once to ONNX (read-only: copy it to change it)."""
    folder = tmp_path_factory.mktemp("exported") / "onnx"
    return recipe_model.export(folder, format="onnx", run={"recipe": "cpu", "note": "test"})


@pytest.fixture(scope="module")
def exported_saved_model(recipe_model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("exported") / "saved_model"
    return recipe_model.export(folder, format="saved_model")


def _max_diff(a, b):
    return float(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).max())


def _parity(model, X_raw, X_model, folder, formats=FORMATS, tta="model"):
    """Export ``model`` in each format and compare with its ``predict_proba`` (the exported
    graph gets the raw images, the model its own channels)."""
    reference = model.predict_proba(X_model)
    for fmt in formats:
        path = model.export(Path(folder) / fmt, format=fmt, tta=tta)
        exported = load_exported(path)
        assert exported.predict_proba(X_raw).shape == reference.shape
        assert _max_diff(exported.predict_proba(X_raw), reference) <= TOL, (fmt, tta)


# ----------------------------------------------------------------------------- parity
def test_every_backbone_is_tested():
    from e2e.test_round_trip_backbones import HEAVY  # their parity is tested there

    assert set(BACKBONES) == TESTED_BACKBONES | set(HEAVY)


def test_views_in_the_graph_are_the_library_views():
    """The keras.ops views folded into the graph are the NumPy views predict_proba averages."""
    from hpa_sklearn._engine.export import view as graph_view

    batch = np.random.default_rng(0).integers(0, 255, (2, 5, 5, 3), dtype=np.uint8)
    for mode in TTA_MODES:
        for transform in TTA_MODES[mode]:
            got = np.asarray(graph_view(batch, transform))
            np.testing.assert_array_equal(got, view(batch, transform), err_msg=str(transform))


@pytest.mark.parametrize("fmt", FORMATS)
def test_recipe_model_parity_with_its_own_tta(recipe_model, data, fmt, exported_onnx,
                                              exported_saved_model):
    X, _ = data
    folder = exported_onnx if fmt == "onnx" else exported_saved_model
    exported = load_exported(folder)
    assert exported.metadata["tta"] == "dihedral" and exported.metadata["views"] == 8
    reference = recipe_model.predict_proba(X[:3, ..., [1, 3]])
    assert _max_diff(exported.predict_proba(X[:3]), reference) <= TOL
    # the views matter: without them the probabilities differ by more than the tolerance
    plain = recipe_model.set_params(tta=None).predict_proba(X[:3, ..., [1, 3]])
    recipe_model.set_params(tta="dihedral")
    assert _max_diff(plain, reference) > TOL


@pytest.mark.parametrize("tta", [None, "flips"])
def test_recipe_model_parity_with_other_tta(recipe_model, data, tta, tmp_path):
    X, _ = data
    recipe_model.set_params(tta=tta)
    try:
        _parity(recipe_model, X[:3], X[:3, ..., [1, 3]], tmp_path, tta=tta)
    finally:
        recipe_model.set_params(tta="dihedral")


def test_vgg16_parity_plain_and_flips(data, tmp_path):
    X, Y = data
    clf = HPAVGG16Classifier(**TINY).fit(X[:3], Y[:3])
    _parity(clf, X[:3], X[:3], tmp_path / "plain", tta=None)
    clf.set_params(tta="flips")
    _parity(clf, X[:3], X[:3], tmp_path / "flips")


def test_mobilenetv3small_parity(data, tmp_path):
    X, Y = data
    clf = HPAClassifier(backbone="mobilenetv3small", **TINY).fit(X[:3], Y[:3])
    _parity(clf, X[:3], X[:3], tmp_path, tta=None)


def test_float_input_model(data, tmp_path):
    """A network trained on float pixels (0..1) exports with a float32 input."""
    X, Y = data
    Xf = X[..., :3].astype(np.float32) / 255
    clf = HPAClassifier(backbone="smallcnn", hidden_units=(), **TINY).fit(Xf, Y)
    path = clf.export(tmp_path / "float", tta=None)
    exported = load_exported(path)
    contract = exported.metadata["input"]
    assert contract["dtype"] == "float32" and contract["value_range"] == [0.0, 1.0]
    X4 = X.astype(np.float32) / 255
    assert _max_diff(exported.predict_proba(X4[:3]), clf.predict_proba(Xf[:3])) <= TOL
    with pytest.raises(InputError, match="float pixels"):
        exported.predict_proba(X[:3])


# ----------------------------------------------------------------------------- ensembles, tuners
@pytest.fixture(scope="module")
def tuner(data):
    """Thresholds tuned on out-of-fold probabilities; its model is the 2-fold ensemble."""
    X, Y = data
    clf = HPAClassifier(backbone="smallcnn", hidden_units=16, tta="flips", **TINY)
    with warnings.catch_warnings():  # 16 images: classes without positives, said and known
        warnings.simplefilter("ignore", UserWarning)
        return MultilabelThresholdTuner(clf, cv=2, refit=False, at_least_one_label=True,
                                        random_state=0).fit(X, Y)


def test_fold_ensemble_exports_the_members_mean(tuner, data, tmp_path):
    X, _ = data
    ensemble = tuner.estimator_
    ensemble.set_params(threshold=0.3)
    path = ensemble.export(tmp_path / "ensemble", format="onnx")
    exported = load_exported(path)
    assert exported.metadata["producer"]["members"] == 2
    assert exported.metadata["views"] == 8  # 2 members x 4 flips
    assert _max_diff(exported.predict_proba(X), ensemble.predict_proba(X)) <= TOL
    assert exported.metadata["threshold_source"] == "model"
    assert exported.thresholds.tolist() == [0.3] * 28
    # one graph: each member's network once, the views shared by both
    model = onnx.load(str(path / "model.onnx"), load_external_data=False)
    assert sum(node.op_type == "Conv" for node in model.graph.node) == 2 * 8


@pytest.mark.parametrize("fmt", FORMATS)
def test_tuner_exports_its_tuned_thresholds(tuner, data, tmp_path, fmt):
    X, _ = data
    path = tuner.export(tmp_path / "tuner", format=fmt)
    exported = load_exported(path)
    meta = exported.metadata
    assert meta["threshold_source"] == "tuned" and meta["at_least_one_label"] is True
    np.testing.assert_allclose(meta["thresholds"], tuner.best_thresholds_)
    assert meta["producer"]["class"] == "MultilabelThresholdTuner"
    proba = exported.predict_proba(X)
    assert _max_diff(proba, tuner.predict_proba(X)) <= TOL
    # the same decisions, except where a probability sits within the tolerance of a threshold
    near = (np.abs(tuner.predict_proba(X) - tuner.best_thresholds_) <= TOL).any(axis=1)
    np.testing.assert_array_equal(exported.predict(X)[~near], tuner.predict(X)[~near])


# ----------------------------------------------------------------------------- metadata, folder
def test_metadata_holds_the_contract(exported_onnx, recipe_model):
    meta = json.loads((exported_onnx / METADATA).read_text())
    assert meta["format"] == "hpa-sklearn-export" and meta["version"] == 1
    assert meta["library"] == hpa_sklearn.__version__
    assert meta["model_format"] == "onnx" and meta["model"] == "model.onnx"
    assert meta["onnx_opset"] == 17
    assert meta["input"] == {"name": "image", "dtype": "uint8", "shape": [None, 32, 32, 4],
                             "value_range": [0, 255], "layout": "NHWC",
                             "channels": ["red", "green", "blue", "yellow"]}
    assert meta["model_channels"] == ["green", "yellow"]
    assert meta["output"] == {"name": "probabilities", "dtype": "float32", "shape": [None, 28]}
    assert meta["class_names"] == list(CLASS_NAMES)
    assert meta["thresholds"] == [0.5] * 28 and meta["threshold_source"] == "model"
    assert meta["at_least_one_label"] is False
    assert meta["tta"] == "dihedral"
    assert meta["run"] == {"recipe": "cpu", "note": "test"}
    producer = meta["producer"]
    assert producer["class"] == "HPAClassifier" and producer["backbone"] == "smallcnn"
    assert producer["input_size"] == 48 and producer["image_shape"] == [32, 32, 2]
    data = (exported_onnx / "model.onnx").read_bytes()
    assert meta["files"] == {"model.onnx": {"bytes": len(data),
                                            "sha256": hashlib.sha256(data).hexdigest()}}
    # the ONNX file: one uint8 input, one output, standard domains only
    model = onnx.load(str(exported_onnx / "model.onnx"), load_external_data=False)
    assert [i.name for i in model.graph.input] == ["image"]
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert [o.name for o in model.graph.output] == ["probabilities"]
    assert {node.domain for node in model.graph.node} <= {"", "ai.onnx", "ai.onnx.ml"}
    assert not any("Random" in node.op_type for node in model.graph.node)


def test_saved_model_folder(exported_saved_model, data, recipe_model):
    meta = json.loads((exported_saved_model / METADATA).read_text())
    assert meta["model"] == "saved_model" and meta["saved_model_endpoint"] == "serve"
    assert "saved_model/saved_model.pb" in meta["files"]
    assert any(name.startswith("saved_model/variables/") for name in meta["files"])
    import tensorflow as tf

    loaded = tf.saved_model.load(str(exported_saved_model / "saved_model"))
    X, _ = data
    proba = loaded.serve(X[:3])["probabilities"].numpy()
    assert _max_diff(proba, recipe_model.predict_proba(X[:3, ..., [1, 3]])) <= TOL


def test_export_folder_is_the_librarys(exported_onnx, recipe_model, tmp_path):
    assert owned_kind(exported_onnx) == "export"
    # an earlier export is replaced, in place
    target = tmp_path / "again"
    shutil.copytree(exported_onnx, target)
    recipe_model.export(target, format="saved_model", tta=None)
    assert sorted(p.name for p in target.iterdir()) == [METADATA, "hpa-sklearn.json",
                                                         "saved_model"]
    assert owned_kind(target) == "export"
    # a folder of the user's is never replaced, nor is a saved model
    user = tmp_path / "user"
    user.mkdir()
    (user / "notes.txt").write_text("mine")
    with pytest.raises(OutputRefusedError):
        recipe_model.export(user)
    assert sorted(p.name for p in user.iterdir()) == ["notes.txt"]
    saved = recipe_model.save(tmp_path / "saved")
    with pytest.raises(OutputRefusedError):
        recipe_model.export(saved)
    assert load_model(saved).predict_proba is not None


def test_export_refuses_bad_options(recipe_model, tmp_path):
    with pytest.raises(InputError, match="format must be one of"):
        recipe_model.export(tmp_path / "x", format="tflite")
    with pytest.raises(InputError, match="tta must be one of"):
        recipe_model.export(tmp_path / "x", tta="rot")
    with pytest.raises(InputError, match="run must be a dict"):
        recipe_model.export(tmp_path / "x", run="cpu")
    assert not (tmp_path / "x").exists()
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        HPAClassifier(backbone="smallcnn").export(tmp_path / "x")


def test_missing_extra_is_one_clear_error(recipe_model, tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "tf2onnx" else real(name, *a))
    with pytest.raises(MissingExtraError, match=r"pip install 'hpa-sklearn\[export\]'"):
        recipe_model.export(tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_reader_without_onnxruntime_names_the_extra(exported_onnx, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if absent
    with pytest.raises(MissingExtraError, match="hpa-sklearn\\[export\\]"):
        load_exported(exported_onnx)


def test_exported_model_checks_its_input(exported_onnx, data):
    X, _ = data
    exported = load_exported(exported_onnx)
    assert "ExportedModel" in repr(exported)
    with pytest.raises(InputError, match="uint8"):
        exported.predict_proba(X[:2].astype(np.float32))
    with pytest.raises(InputError, match="red, green, blue, yellow"):
        exported.predict_proba(X[:2, ..., :3])
    # a memory-mapped array is read batch by batch; batches of any size give the same result
    np.testing.assert_allclose(exported.predict_proba(X, batch_size=5),
                               exported.predict_proba(X, batch_size=16), atol=1e-6)


# ----------------------------------------------------------------------------- safety
@pytest.fixture
def no_runtime(monkeypatch):
    """Fail the test if onnxruntime is asked to load anything (a refusal comes first)."""
    def refuse(*args, **kwargs):
        raise AssertionError("onnxruntime was asked to load a model that should be refused")

    monkeypatch.setattr(onnxruntime, "InferenceSession", refuse)


def _copy(folder, tmp_path):
    target = tmp_path / "copy"
    shutil.copytree(folder, target)
    return target


def _rewrite(folder, name, data):
    """Write ``data`` to ``folder/name`` and record its digest in the metadata (so that only the
    check under test can refuse it)."""
    (folder / name).write_bytes(data)
    meta = json.loads((folder / METADATA).read_text())
    meta["files"][name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (folder / METADATA).write_text(json.dumps(meta))


def _edit_metadata(folder, change):
    meta = json.loads((folder / METADATA).read_text())
    change(meta)
    (folder / METADATA).write_text(json.dumps(meta))


def _one_error(folder, *fragments):
    with pytest.raises(ModelFolderError) as info:
        load_exported(folder)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message
    assert "\n" not in message
    return message


def _plant_in_function(model):
    """A local function of the domain 'com.evil' called from the main graph."""
    from onnx import helper

    function = helper.make_function("com.evil", "Pwn", ["x"], ["y"],
                                    [helper.make_node("Identity", ["x"], ["y"])],
                                    [helper.make_opsetid("", 17)])
    model.functions.append(function)
    model.opset_import.append(helper.make_opsetid("com.evil", 1))
    last = model.graph.node[-1]
    hidden = last.output[0] + "_planted"
    model.graph.node.append(helper.make_node("Pwn", [hidden], [last.output[0]],
                                             domain="com.evil", name="planted"))
    last.output[0] = hidden


def _plant_in_node(model):
    model.graph.node[3].domain = "com.evil"
    model.opset_import.append(onnx.helper.make_opsetid("com.evil", 1))


def _plant_in_subgraph(model):
    """An If node whose branches hold a node of the domain 'com.evil'."""
    from onnx import TensorProto, helper

    out = helper.make_tensor_value_info("branch_out", TensorProto.FLOAT, [1])
    evil = helper.make_graph([helper.make_node("Pwn", [], ["branch_out"], domain="com.evil")],
                             "evil", [], [out])
    cond = helper.make_tensor("planted_cond", TensorProto.BOOL, [], [False])
    model.graph.initializer.append(cond)
    model.graph.node.append(helper.make_node("If", ["planted_cond"], ["planted_out"],
                                             then_branch=evil, else_branch=evil))


def _external_data(model):
    tensor = max(model.graph.initializer, key=lambda t: len(t.raw_data))
    tensor.data_location = onnx.TensorProto.EXTERNAL
    tensor.ClearField("raw_data")
    for key, value in {"location": "../../../../etc/hostname", "offset": "0",
                       "length": "8"}.items():
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value


@pytest.mark.parametrize("plant, fragments", [
    (_plant_in_node, ("com.evil", "custom operator")),
    (_plant_in_function, ("com.evil::Pwn",)),
    (_plant_in_subgraph, ("com.evil::Pwn",)),
    (_external_data, ("external file",)),
], ids=["node", "local-function", "subgraph", "external-data"])
def test_planted_onnx_is_refused(exported_onnx, tmp_path, no_runtime, plant, fragments):
    folder = _copy(exported_onnx, tmp_path)
    model = onnx.load(str(folder / "model.onnx"), load_external_data=False)
    plant(model)
    _rewrite(folder, "model.onnx", model.SerializeToString())
    _one_error(folder, str(folder / "model.onnx"), *fragments)


@pytest.mark.parametrize("path", ["../model.onnx", "/etc/passwd", "sub/../../x", ".hidden"])
def test_metadata_path_outside_the_folder_is_refused(exported_onnx, tmp_path, no_runtime, path):
    folder = _copy(exported_onnx, tmp_path)

    def change(meta):
        meta["files"][path] = meta["files"].pop("model.onnx")
    _edit_metadata(folder, change)
    _one_error(folder, str(folder / METADATA), "not a plain relative path inside the folder")


def test_model_path_outside_the_folder_is_refused(exported_onnx, tmp_path, no_runtime):
    folder = _copy(exported_onnx, tmp_path)
    _edit_metadata(folder, lambda meta: meta.update(model="../model.onnx"))
    _one_error(folder, str(folder / METADATA), "model:")


def test_symbolic_link_is_refused(exported_onnx, tmp_path, no_runtime):
    folder = _copy(exported_onnx, tmp_path)
    outside = tmp_path / "outside.onnx"
    (folder / "model.onnx").rename(outside)
    (folder / "model.onnx").symlink_to(outside)
    _one_error(folder, str(folder / "model.onnx"), "symbolic link")


def test_changed_file_is_refused(exported_onnx, tmp_path, no_runtime):
    folder = _copy(exported_onnx, tmp_path)
    data = bytearray((folder / "model.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / "model.onnx").write_bytes(bytes(data))
    _one_error(folder, str(folder / "model.onnx"), "SHA-256")


@pytest.mark.parametrize("damage, fragments", [
    (lambda text: text[: len(text) // 2], ("cannot be read as JSON",)),
    (lambda text: text.replace('"tta"', '"tta_extra": 1, "tta"', 1),
     ("tta_extra: unknown key",)),
    (lambda text: text.replace('"version": 1', '"version": 7', 1), ("version: 7 is above 1",)),
    (lambda text: text.replace('"layout": "NHWC"', '"layout": "NCHW"', 1), ("input.layout",)),
], ids=["truncated", "unknown-key", "version", "layout"])
def test_damaged_metadata_is_refused(exported_onnx, tmp_path, no_runtime, damage, fragments):
    folder = _copy(exported_onnx, tmp_path)
    path = folder / METADATA
    path.write_text(damage(path.read_text()))
    _one_error(folder, str(path), *fragments)


def test_missing_metadata_or_folder(tmp_path, no_runtime):
    _one_error(tmp_path / "nowhere", "does not exist")
    tmp_path.joinpath("empty").mkdir()
    _one_error(tmp_path / "empty", METADATA)


def _saved_model_proto(folder):
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((folder / "saved_model" / "saved_model.pb").read_bytes())
    return proto


@pytest.mark.parametrize("op, fragment", [("Pwn", "not a TensorFlow op"),
                                          ("PyFunc", "runs Python")])
def test_planted_saved_model_op_is_refused(exported_saved_model, tmp_path, op, fragment,
                                           monkeypatch):
    import tensorflow as tf

    def refuse(*args, **kwargs):
        raise AssertionError("TensorFlow was asked to load a SavedModel that should be refused")

    monkeypatch.setattr(tf.saved_model, "load", refuse)
    folder = _copy(exported_saved_model, tmp_path)
    proto = _saved_model_proto(folder)
    function = next(f for f in proto.meta_graphs[0].graph_def.library.function if f.node_def)
    function.node_def[0].op = op
    _rewrite(folder, "saved_model/saved_model.pb", proto.SerializeToString())
    _one_error(folder, str(folder / "saved_model" / "saved_model.pb"), op, fragment)


def test_unlisted_file_in_saved_model_is_refused(exported_saved_model, tmp_path):
    folder = _copy(exported_saved_model, tmp_path)
    (folder / "saved_model" / "assets" / "extra.so").write_bytes(b"\x7fELF")
    _one_error(folder, str(folder / "saved_model" / "assets" / "extra.so"), "not listed")


def test_saved_model_folder_with_a_planted_class_is_refused(recipe_model, tmp_path):
    """The library's own model folder (what ``export`` reads): a network file whose configuration
    names a class outside Keras and the library is refused naming the file, before Keras sees
    it, and the module it names is never imported."""
    import zipfile

    folder = recipe_model.save(tmp_path / "model")
    network = folder / "model.keras"
    with zipfile.ZipFile(network) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(entries["config.json"])
    layer = config["config"]["layers"][-1]
    layer.update(module="planted_module", class_name="Evil", registered_name="planted>Evil")
    entries["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(network, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    data = network.read_bytes()
    manifest = json.loads((folder / "hpa-sklearn.json").read_text())
    manifest["files"]["model.keras"] = {"bytes": len(data),
                                        "sha256": hashlib.sha256(data).hexdigest()}
    (folder / "hpa-sklearn.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelFolderError) as info:
        load_model(folder)
    assert str(network) in str(info.value) and "planted_module.Evil" in str(info.value)
    assert "planted_module" not in sys.modules

def test_cli_refuses_a_damaged_model_folder_in_one_line(recipe_model, tmp_path, capsys):
    from hpa_sklearn import cli

    folder = recipe_model.save(tmp_path / "model")
    (folder / "model.keras").write_bytes(b"not a network")
    status = cli.main(["export", "--model", str(folder), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and "model.keras" in err, err
    assert not (tmp_path / "out").exists()


# ----------------------------------------------------------------------------- command line
@pytest.fixture(scope="module")
def cli_model(tmp_path_factory):
    """A model folder from 'hpa-sklearn train' (smallcnn, 32 px, one epoch, tuned thresholds)."""
    from hpa_sklearn import cli

    root = tmp_path_factory.mktemp("cli")
    train = make_hpa_like(16, 32, random_state=0)
    write_kaggle_layout(root / "data", train.images, train.ids, train.target)
    out = root / "model"
    status = cli.main(["train", "--data", str(root / "data"), "--image-size", "32",
                       "--backbone", "smallcnn", "--epochs", "1", "--batch-size", "8",
                       "--n-jobs", "1", "--cache-dir", str(root / "cache"), "--out", str(out)])
    assert status == 0
    return out, train.images


def test_cli_export_end_to_end(cli_model, tmp_path, capsys):
    from hpa_sklearn import cli
    from hpa_sklearn.cli._model import set_prediction, thresholds_of

    model_folder, images = cli_model
    model = load_model(model_folder)
    run = json.loads((model_folder / "hpa-sklearn.json").read_text())["run"]
    for fmt, extra in (("onnx", []), ("saved_model", ["--tta", "none"])):
        out = tmp_path / fmt
        status = cli.main(["export", "--model", str(model_folder), "--format", fmt, "--out",
                           str(out), *extra])
        captured = capsys.readouterr()
        assert status == 0, captured.err
        assert str(out) in captured.out and "red,green,blue,yellow" in captured.out
        exported = load_exported(out)
        meta = exported.metadata
        assert meta["run"] == run and meta["model_format"] == fmt
        assert meta["threshold_source"] == "tuned"
        np.testing.assert_allclose(meta["thresholds"], thresholds_of(model))
        if extra:
            assert meta["tta"] is None
            set_prediction(model, tta=None)
        assert _max_diff(exported.predict_proba(images[:4]), model.predict_proba(images[:4])) \
            <= TOL
    # an earlier export is replaced; anything else is refused before any work, in one line
    assert cli.main(["export", "--model", str(model_folder), "--out", str(tmp_path / "onnx"),
                     "--tta", "none"]) == 0
    capsys.readouterr()
    user = tmp_path / "user"
    user.mkdir()
    (user / "notes.txt").write_text("mine")
    for target in (user, model_folder, model_folder / "sub"):
        status = cli.main(["export", "--model", str(model_folder), "--out", str(target)])
        err = capsys.readouterr().err
        assert status == 2 and err.count("\n") == 1 and "--out" in err, err
    assert sorted(p.name for p in user.iterdir()) == ["notes.txt"]
    status = cli.main(["export", "--model", str(tmp_path / "none"), "--out", str(tmp_path / "o")])
    assert status == 2 and "does not exist" in capsys.readouterr().err


# ----------------------------------------------------------------------------- docs, benchmark
def _python_blocks(page):
    return re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)


def test_docs_example_runs_as_written(tmp_path):
    """docs/export.md's Python blocks, in order, as one script; the block that consumes the
    export imports nothing but the standard library, NumPy and onnxruntime."""
    blocks = _python_blocks(REPO_ROOT / "docs" / "export.md")
    plain = [b for b in blocks if "import onnxruntime" in b]
    assert plain, "docs/export.md has no onnxruntime example"
    for block in plain:
        modules = {alias.name.split(".")[0] for node in ast.walk(ast.parse(block))
                   if isinstance(node, (ast.Import, ast.ImportFrom))
                   for alias in (node.names if isinstance(node, ast.Import)
                                 else [ast.alias(node.module)])}
        assert modules <= set(sys.stdlib_module_names) | {"numpy", "onnxruntime"}, modules
    script = tmp_path / "export_example.py"
    script.write_text("\n".join(blocks))
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                            text=True, timeout=900,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    assert "Nucleoplasm" in result.stdout or "[]" in result.stdout


@pytest.mark.slow
def test_bench_export_quick(tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "bench_export.py"), "--quick", "--out",
         str(tmp_path)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=900,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore"))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    document = json.loads((tmp_path / "bench_export.json").read_text())
    for key in ("command", "machine", "load_average_1min", "code", "settings", "rows",
                "converters"):
        assert key in document, key
    runtimes = {row["runtime"] for row in document["rows"]}
    assert runtimes == {"keras", "onnxruntime"}
    for row in document["rows"]:
        assert row["images_per_s"] > 0 and row["peak_rss_mib"] > 0
    assert (tmp_path / "bench_export.md").is_file()
