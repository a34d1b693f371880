"""Checkpoints, graceful stops and exact resume of the classifier; the saved folder's checks.

All of it lives in the base class shared by every backbone: the small batch-normalized CNN stands
in for them (its batch statistics are one more state that a resume must restore).

Signals are really sent (to this process, from a Keras callback at a chosen batch); the resumed
fit must end with the same weights as an uninterrupted one (TensorFlow op determinism, CPU).
"""

import json
import os
import signal

import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hpa_sklearn import HPAClassifier, ImageAugmenter, TrainingInterrupted
from hpa_sklearn.datasets import make_hpa_like


@pytest.fixture(scope="module")
def data():
    return make_hpa_like(n_samples=40, image_size=32, random_state=0, return_X_y=True)


def _params(**extra):
    # dropout, augmentation and early stopping: every random stream a resume must restore
    return {**dict(backbone="smallcnn", weights=None, epochs=3, batch_size=8, verbose=0,
                   random_state=0, augmentation=ImageAugmenter(random_state=1), early_stopping=True,
                   validation_fraction=0.2, patience=5, hidden_units=32), **extra}


class _SignalAt(keras.callbacks.Callback):
    """Sends ``signum`` to this process when training batch number ``at`` (counted from 1 over
    the whole fit) ends, like a scheduler or a user would."""

    def __init__(self, at, signum=signal.SIGTERM):
        super().__init__()
        self.at, self.signum, self.seen = at, signum, 0

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen == self.at:
            os.kill(os.getpid(), self.signum)


@pytest.fixture(scope="module")
def uninterrupted(data):
    X, Y = data
    return HPAClassifier(**_params()).fit(X, Y)


@pytest.mark.parametrize("signum, at", [(signal.SIGTERM, 6), (signal.SIGINT, 4)])
def test_interrupted_fit_resumes_to_the_same_model(data, uninterrupted, tmp_path, signum, at,
                                                   terminal_signals):
    X, Y = data
    interrupted = HPAClassifier(**_params(checkpoint_dir=tmp_path,
                                          callbacks=[_SignalAt(at, signum)]))
    with pytest.raises(TrainingInterrupted) as info:
        interrupted.fit(X, Y)
    exc = info.value
    assert exc.signum == signum and exc.checkpoint is not None and exc.checkpoint.is_dir()
    per_epoch = -(-len(interrupted._validation_split(Y, 0)[0]) // 8)  # batches in an epoch
    assert exc.epochs_done * per_epoch + exc.batches_done == at
    # the signal handlers are back to what they were
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    # the classifier keeps what it reached: it predicts, and its checkpoint loads
    assert interrupted.predict_proba(X[:2]).shape == (2, 28)
    assert HPAClassifier.load(exc.checkpoint).predict_proba(X[:2]).shape == (2, 28)

    resumed = HPAClassifier(**_params(checkpoint_dir=tmp_path)).fit(X, Y)
    assert len(resumed.history_["loss"]) == len(uninterrupted.history_["loss"]) == 3
    np.testing.assert_array_equal(resumed.predict_proba(X), uninterrupted.predict_proba(X))
    np.testing.assert_allclose(resumed.history_["val_loss"], uninterrupted.history_["val_loss"],
                               rtol=1e-6)


def test_finished_checkpoint_is_restored_and_can_be_extended(data, uninterrupted, tmp_path):
    X, Y = data
    first = HPAClassifier(**_params(checkpoint_dir=tmp_path, epochs=2)).fit(X, Y)
    counter = _SignalAt(at=10**9)
    again = HPAClassifier(**_params(checkpoint_dir=tmp_path, epochs=2, callbacks=[counter]))
    again.fit(X, Y)
    assert counter.seen == 0  # nothing trained: the finished fit was restored
    np.testing.assert_array_equal(again.predict_proba(X), first.predict_proba(X))
    # a larger epochs continues the same fit: the same as three epochs in one go
    longer = HPAClassifier(**_params(checkpoint_dir=tmp_path, epochs=3)).fit(X, Y)
    assert len(longer.history_["loss"]) == 3
    np.testing.assert_array_equal(longer.predict_proba(X), uninterrupted.predict_proba(X))


def test_checkpoint_key_follows_the_data_and_the_training_parameters(data, tmp_path):
    X, Y = data
    clf = HPAClassifier(**_params(checkpoint_dir=tmp_path))
    key = clf._checkpoint_folder(X, Y, None)
    assert key == clf._checkpoint_folder(X.copy(), Y.copy(), None)
    assert key == clf.set_params(epochs=9, threshold=0.3, verbose=1)._checkpoint_folder(X, Y, None)
    other_pixels = X.copy()
    other_pixels[-1, 0, 0, 0] ^= 1
    assert key != clf._checkpoint_folder(other_pixels, Y, None)
    assert key != clf._checkpoint_folder(X, Y[::-1], None)
    assert key != clf.set_params(learning_rate=1e-3)._checkpoint_folder(X, Y, None)


def test_unusable_checkpoint_warns_and_trains_afresh(data, tmp_path):
    X, Y = data
    clf = HPAClassifier(**_params(checkpoint_dir=tmp_path, epochs=1, early_stopping=False))
    folder = clf._checkpoint_folder(X, Y, None)
    folder.mkdir(parents=True)
    (folder / "training.json").write_text("{not json")
    with pytest.warns(UserWarning, match="cannot be used"):
        clf.fit(X, Y)
    assert len(clf.history_["loss"]) == 1
    assert json.loads((folder / "training.json").read_text())["epochs_done"] == 1


def test_interruption_without_checkpoints_keeps_the_weights(data, terminal_signals):
    X, Y = data
    clf = HPAClassifier(**_params(callbacks=[_SignalAt(2)]))
    with pytest.raises(TrainingInterrupted) as info:
        clf.fit(X, Y)
    assert info.value.checkpoint is None and info.value.batches_done == 2
    assert np.isfinite(clf.predict_proba(X[:3])).all()


# ----------------------------------------------------------------------------- inputs
def test_non_finite_pixels_are_refused_with_count_and_first_sample(data, tmp_path):
    X, Y = data
    Xf = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype=np.float32, shape=X.shape)
    Xf[:] = X / 255.0
    Xf[3, 1, 1, 0] = np.nan
    Xf[7, 2, 2, 2] = np.inf
    Xf.flush()
    Xr = np.load(tmp_path / "x.npy", mmap_mode="r")
    with pytest.raises(ValueError, match=r"2 NaN or infinite pixel.*sample 3"):
        HPAClassifier(backbone="smallcnn", weights=None, epochs=1, verbose=0).fit(Xr, Y)


def test_rot90_on_non_square_images_is_refused_before_training():
    X = np.zeros((4, 32, 48, 4), dtype=np.uint8)
    Y = np.eye(4, 28, dtype=np.uint8)
    clf = HPAClassifier(backbone="smallcnn", weights=None, epochs=1, verbose=0,
                        augmentation=ImageAugmenter(rot90=True))
    with pytest.raises(ValueError, match=r"rot90=True\) needs square images.*32x48"):
        clf.fit(X, Y)
    assert not clf.__sklearn_is_fitted__()
    # inside the network a square input_size makes the rotation possible
    clf.set_params(input_size=32, batch_size=4).fit(X, Y)


# ----------------------------------------------------------------------------- saved folders
@pytest.fixture(scope="module")
def saved(data, tmp_path_factory):
    X, Y = data
    clf = HPAClassifier(backbone="smallcnn", weights=None, epochs=1, batch_size=8, verbose=0,
                        random_state=0, hidden_units=16).fit(X, Y)
    folder = clf.save(tmp_path_factory.mktemp("saved") / "model")
    return folder, clf.predict_proba(X[:4]), X[:4]


def _copy(folder, tmp_path):
    import shutil

    target = tmp_path / "copy"
    shutil.copytree(folder, target)
    return target


def _edit(target, change):
    path = target / "estimator.json"
    state = json.loads(path.read_text())
    change(state)
    path.write_text(json.dumps(state))


_DAMAGE = {
    "params key missing": (lambda s: s["params"].pop("epochs"), "params.epochs: missing"),
    "params key added": (lambda s: s["params"].update(speed=3), "params.speed: unknown"),
    "epochs a string": (lambda s: s["params"].update(epochs="ten"),
                        "'epochs' parameter of HPAClassifier must be an int"),
    "fitted key missing": (lambda s: s["fitted"].pop("channels_"), "fitted.channels_: missing"),
    "fitted key added": (lambda s: s["fitted"].update(extra_=1), "fitted.extra_: unknown"),
    "shape a string": (lambda s: s["fitted"].update(image_shape_="32x32"), "fitted.image_shape_"),
    "history a list": (lambda s: s["fitted"].update(history_=[1]), "fitted.history_"),
    "top key missing": (lambda s: s.pop("class"), "class: missing"),
    "top key added": (lambda s: s.update(more=1), "more: unknown"),
    "other class": (lambda s: s.update({"class": "Other"}), "class:"),
    "threshold shape": (lambda s: s["params"].update(threshold=[0.5, 0.5]), "params.threshold"),
    "augmentation junk": (lambda s: s["params"].update(augmentation={"ImageAugmenter": {"x": 1}}),
                          "params.augmentation"),
}


@pytest.mark.parametrize("damage", sorted(_DAMAGE))
def test_damaged_estimator_json_is_one_value_error_naming_file_and_key(saved, tmp_path, damage):
    change, expected = _DAMAGE[damage]
    target = _copy(saved[0], tmp_path)
    _edit(target, change)
    with pytest.raises(ValueError, match="estimator.json") as info:
        HPAClassifier.load(target)
    assert expected in str(info.value)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "other network"])
def test_damaged_network_file_is_a_value_error_naming_it(saved, tmp_path, damage):
    target = _copy(saved[0], tmp_path)
    model = target / "model.keras"
    if damage == "truncated":
        model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    elif damage == "garbage":
        model.write_bytes(os.urandom(4096))
    elif damage == "empty":
        model.write_bytes(b"")
    else:
        inputs = keras.Input((16, 16, 4))
        keras.Model(inputs, keras.layers.Dense(28)(keras.layers.Flatten()(inputs))).save(model)
    with pytest.raises(ValueError, match="model.keras"):
        HPAClassifier.load(target)


def test_planted_lambda_layer_is_refused(saved, tmp_path):
    target = _copy(saved[0], tmp_path)
    inputs = keras.Input((32, 32, 4), dtype="uint8")
    outputs = keras.layers.Lambda(lambda x: keras.ops.mean(keras.ops.cast(x, "float32"),
                                                           axis=(1, 2)))(inputs)
    outputs = keras.layers.Dense(28, activation="sigmoid")(outputs)
    keras.Model(inputs, outputs).save(target / "model.keras")
    with pytest.raises(ValueError, match="model.keras cannot be loaded.*(Lambda|safe_mode)"):
        HPAClassifier.load(target)


def test_format_1_folder_without_newer_parameters_still_loads(saved, tmp_path):
    target = _copy(saved[0], tmp_path)

    def older(state):
        state["format"] = 1
        state["params"].pop("checkpoint_dir")

    _edit(target, older)
    np.testing.assert_array_equal(HPAClassifier.load(target).predict_proba(saved[2]),
                                  saved[1])
    _edit(target, lambda s: s.update(format=2))
    with pytest.raises(ValueError, match="params.checkpoint_dir: missing"):
        HPAClassifier.load(target)


def test_save_replaces_only_a_saved_folder(saved, tmp_path):
    clf = HPAClassifier.load(saved[0])
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    with pytest.raises(FileExistsError, match="thesis.tex"):
        clf.save(mine)
    assert (mine / "thesis.tex").read_text() == "years of work"
    target = _copy(saved[0], tmp_path)
    clf.set_params(threshold=0.25).save(target, extra_json={"note.json": {"a": 1}})
    assert HPAClassifier.load(target).threshold == 0.25
    assert json.loads((target / "note.json").read_text()) == {"a": 1}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporaries left


# a random corruption of estimator.json: the result is the same classifier or the documented
# ValueError naming the file, never another exception
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 10**6) | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=3),
    max_leaves=6,
)


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(section=st.sampled_from(["params", "fitted", None]), action=st.sampled_from(
    ["drop", "add", "replace"]), index=st.integers(0, 40), value=_json_values)
def test_fuzzed_estimator_json_loads_identically_or_is_refused(saved, tmp_path, section, action,
                                                               index, value):
    folder, proba, X = saved
    state = json.loads((folder / "estimator.json").read_text())
    where = state if section is None else state[section]
    key = sorted(where)[index % len(where)]
    if action == "drop":
        del where[key]
    elif action == "add":
        where[f"new_{index}"] = value
    else:
        where[key] = value
    target = tmp_path / f"fuzz-{section}-{action}-{index}"
    target.mkdir(exist_ok=True)
    (target / "estimator.json").write_text(json.dumps(state))
    model = target / "model.keras"
    if not model.exists():
        os.link(folder / "model.keras", model)
    try:
        clf = HPAClassifier.load(target)
    except ValueError as exc:
        assert "estimator.json" in str(exc) or "model.keras" in str(exc)
        return
    clf.set_params(verbose=0)
    result = clf.predict_proba(X)
    # a change that loads changes nothing learned (batch size may reorder float sums)
    np.testing.assert_allclose(result, proba, rtol=1e-5, atol=1e-6)


def test_saved_network_keeps_the_optimizer_state(saved):
    restored = HPAClassifier.load(saved[0]).model_.optimizer
    assert int(restored.iterations.numpy()) == 5  # one epoch of 40 rows in batches of 8
    assert any(float(np.abs(np.asarray(v)).sum()) > 0 for v in restored.variables[1:])
