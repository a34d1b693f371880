"""Checkpoints, graceful stops, exact resume and the time budget of the classifier; the saved
folder's checks.

All of it lives in the engine shared by every backbone: the small batch-normalized CNN stands in
for them (its batch statistics are one more state that a resume must restore).

Signals are really sent (to this process, from a Keras callback at a chosen batch); the resumed
fit must end with the same weights as an uninterrupted one (TensorFlow op determinism, CPU).
"""

import json
import os
import shutil
import signal
import types

import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hpa_sklearn import HPAClassifier, ImageAugmenter, TrainingInterrupted
from hpa_sklearn._engine import trainer, training
from hpa_sklearn._io.ownership import file_digest
from hpa_sklearn.datasets import make_hpa_like
from hpa_sklearn.exceptions import ModelFolderError

MANIFEST = "hpa-sklearn.json"


@pytest.fixture(scope="module")
def data():
    return make_hpa_like(n_samples=40, image_size=32, random_state=0, return_X_y=True)


def _params(**extra):
    # dropout, augmentation and early stopping: every random stream a resume must restore
    return {**dict(backbone="smallcnn", weights=None, epochs=3, batch_size=8, verbose=0,
                   random_state=0, augmentation=ImageAugmenter(random_state=1), early_stopping=True,
                   validation_fraction=0.2, patience=5, hidden_units=32), **extra}


def _manifest(folder):
    return json.loads((folder / MANIFEST).read_text())


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


@pytest.mark.parametrize("signum, at", [(signal.SIGTERM, 6), (signal.SIGINT, 4)],
                         ids=["SIGTERM-at-batch-6", "SIGINT-at-batch-4"])
def test_interrupted_fit_resumes_to_the_same_model(data, uninterrupted, tmp_path, signum, at,
                                                   terminal_signals):
    X, Y = data
    interrupted = HPAClassifier(**_params(checkpoint_dir=tmp_path,
                                          callbacks=[_SignalAt(at, signum)]))
    with pytest.raises(TrainingInterrupted) as info:
        interrupted.fit(X, Y)
    exc = info.value
    assert exc.signum == signum and exc.checkpoint is not None and exc.checkpoint.is_dir()
    train_rows, _ = trainer.validation_split(interrupted._config(seed=0), Y, 0)
    per_epoch = -(-len(train_rows) // 8)  # batches in an epoch
    assert exc.epochs_done * per_epoch + exc.batches_done == at
    # the training state is in the checkpoint's manifest (no training.json any more)
    files = {p.name for p in exc.checkpoint.iterdir()}
    assert {MANIFEST, "model.keras"} <= files <= {MANIFEST, "model.keras", "best_weights.npz"}
    assert _manifest(exc.checkpoint)["kind"] == "checkpoint"
    state = _manifest(exc.checkpoint)["training"]
    assert (state["epochs_done"], state["batches_done"]) == (exc.epochs_done, exc.batches_done)
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
    # a time budget plans the run's length from epochs: then epochs is part of the key
    budgeted = clf.set_params(time_budget=60)._checkpoint_folder(X, Y, None)
    assert budgeted != clf.set_params(time_budget=None)._checkpoint_folder(X, Y, None)
    assert budgeted != clf.set_params(time_budget=60, epochs=4)._checkpoint_folder(X, Y, None)


def test_unusable_checkpoint_warns_and_trains_afresh(data, tmp_path):
    X, Y = data
    clf = HPAClassifier(**_params(checkpoint_dir=tmp_path, epochs=1, early_stopping=False))
    folder = clf._checkpoint_folder(X, Y, None)
    folder.mkdir(parents=True)
    # a checkpoint of the library's (its marker names it) whose manifest is damaged
    (folder / MANIFEST).write_text(json.dumps({"format": "hpa-sklearn", "kind": "checkpoint"}))
    with pytest.warns(UserWarning, match="cannot be used.*overwrites it"):
        clf.fit(X, Y)
    assert len(clf.history_["loss"]) == 1
    assert _manifest(folder)["training"]["epochs_done"] == 1


def test_checkpoint_folder_the_library_did_not_write_is_refused_before_training(data, tmp_path):
    X, Y = data
    counter = _SignalAt(at=10**9)
    clf = HPAClassifier(**_params(checkpoint_dir=tmp_path, epochs=1, early_stopping=False,
                                  callbacks=[counter]))
    folder = clf._checkpoint_folder(X, Y, None)
    folder.mkdir(parents=True)
    (folder / MANIFEST).write_text("{not json")  # not recognisably the library's: never replaced
    with pytest.raises(FileExistsError, match=rf"{folder.name} cannot be used .*not replaced"):
        clf.fit(X, Y)
    assert counter.seen == 0 and not clf.__sklearn_is_fitted__()  # refused before any work
    assert (folder / MANIFEST).read_text() == "{not json"


def test_interruption_without_checkpoints_keeps_the_weights(data, terminal_signals):
    X, Y = data
    clf = HPAClassifier(**_params(callbacks=[_SignalAt(2)]))
    with pytest.raises(TrainingInterrupted) as info:
        clf.fit(X, Y)
    assert info.value.checkpoint is None and info.value.batches_done == 2
    assert np.isfinite(clf.predict_proba(X[:3])).all()


# ----------------------------------------------------------------------------- time budget
class _Clock:
    """The training loop's clock in these tests: it moves only when a batch ends, by
    ``per_batch`` seconds, so that the budget's arithmetic is exact whatever the machine's load
    (compiling the first step alone takes longer than a small budget on a busy CPU)."""

    def __init__(self):
        self.now = 1000.0
        self.per_batch = 1.0

    def monotonic(self):
        return self.now


class _Tick(keras.callbacks.Callback):
    def __init__(self, clock):
        super().__init__()
        self.clock = clock

    def on_train_batch_end(self, batch, logs=None):
        self.clock.now += self.clock.per_batch


@pytest.fixture
def clock(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(training, "time", types.SimpleNamespace(monotonic=clock.monotonic))
    return clock


def _budgeted(budget, clock, tmp_path, *callbacks):
    # 40 images in batches of 8: 5 batches per epoch (no validation part)
    return HPAClassifier(backbone="smallcnn", weights=None, epochs=50, time_budget=budget,
                         lr_schedule="one_cycle", decay=0, learning_rate=1e-3, batch_size=8,
                         hidden_units=16, verbose=0, random_state=0, checkpoint_dir=tmp_path,
                         callbacks=[_Tick(clock), *callbacks])


def test_time_budget_plans_the_epochs_that_fit_and_stretches_the_schedule(data, clock, tmp_path):
    X, Y = data
    # the first epoch is timed (5 s); 17 s remain: 3 more epochs of 5 s fit in the budget
    clf = _budgeted(22.0, clock, tmp_path).fit(X, Y)
    (checkpoint,) = tmp_path.glob("fit-*")
    state = _manifest(checkpoint)["training"]
    epochs = len(clf.history_["loss"])
    assert 2 <= epochs < 50
    assert epochs == state["epochs_done"] == state["planned_epochs"] == 4
    assert state["epoch_seconds"] == pytest.approx(5.0)
    # it stopped near the budget, without exceeding it
    assert 22.0 - 5.0 < state["seconds"] <= 22.0
    assert state["seconds"] == pytest.approx(20.0) and not state["budget_spent"]
    # the one-cycle schedule was made for the planned run, not for epochs=50
    schedule = clf.model_.optimizer._learning_rate
    assert schedule.total_steps == state["planned_epochs"] * 5
    # the finished budgeted fit is restored, not trained again
    restored = _budgeted(22.0, clock, tmp_path).fit(X, Y)
    assert clock.now == pytest.approx(1020.0)
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))


def test_interrupted_budgeted_fit_counts_the_time_already_spent(data, clock, tmp_path,
                                                                 terminal_signals):
    X, Y = data
    budget = 19.5  # epoch 1 takes 5 s: 2 more fit, the run is planned for 3 epochs (15 s)
    with pytest.raises(TrainingInterrupted) as info:
        _budgeted(budget, clock, tmp_path, _SignalAt(8)).fit(X, Y)
    checkpoint = info.value.checkpoint
    state = _manifest(checkpoint)["training"]
    assert (state["epochs_done"], state["batches_done"]) == (1, 3)
    assert state["seconds"] == pytest.approx(8.0) and state["planned_epochs"] == 3
    # the machine is slower after the restart: the remaining 11.5 s now hold fewer batches, and
    # the budget (not the plan) ends the run, in its third epoch
    clock.per_batch = 2.0
    resumed = _budgeted(budget, clock, tmp_path).fit(X, Y)
    state = _manifest(checkpoint)["training"]
    assert state["budget_spent"] and state["planned_epochs"] == 3
    # both calls together: 8 s, then 2 + 4 x 2 s until the batch that spends the budget
    assert state["seconds"] == pytest.approx(8.0 + 6 * 2.0)
    assert budget <= state["seconds"] < budget + clock.per_batch  # at most that last batch over
    assert len(resumed.history_["loss"]) == state["epochs_done"] == 3
    assert resumed.model_.optimizer._learning_rate.total_steps == 3 * 5


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
    target = tmp_path / "copy"
    shutil.copytree(folder, target)
    return target


def _edit(target, change):
    path = target / MANIFEST
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def _relist(target):
    """Record the folder's files as they are now in its manifest, as a forger would."""
    def change(manifest):
        for name in manifest["files"]:
            manifest["files"][name] = {"bytes": (target / name).stat().st_size,
                                       "sha256": file_digest(target / name)}

    _edit(target, change)


def _params_of(manifest):
    return manifest["estimator"]["params"]


def _fitted_of(manifest):
    return manifest["estimator"]["fitted"]


_DAMAGE = {
    "params key missing": (lambda m: _params_of(m).pop("epochs"), "params.epochs: missing"),
    "params key added": (lambda m: _params_of(m).update(speed=3), "params.speed: unknown"),
    "epochs a string": (lambda m: _params_of(m).update(epochs="ten"),
                        "'epochs' parameter of HPAClassifier must be an int"),
    "time budget negative": (lambda m: _params_of(m).update(time_budget=-1),
                             "'time_budget' parameter of HPAClassifier"),
    "fitted key missing": (lambda m: _fitted_of(m).pop("channels_"), "fitted.channels_: missing"),
    "fitted key added": (lambda m: _fitted_of(m).update(extra_=1), "fitted.extra_: unknown"),
    "shape a string": (lambda m: _fitted_of(m).update(image_shape_="32x32"),
                       "fitted.image_shape_"),
    "history a list": (lambda m: _fitted_of(m).update(history_=[1]), "fitted.history_"),
    "class missing": (lambda m: m["estimator"].pop("class"), "estimator.class: missing"),
    "top key added": (lambda m: m.update(more=1), "more: unknown"),
    "other class": (lambda m: m["estimator"].update({"class": "Other"}), "estimator.class:"),
    "threshold shape": (lambda m: _params_of(m).update(threshold=[0.5, 0.5]),
                        "params.threshold"),
    "augmentation junk": (lambda m: _params_of(m).update(augmentation={"ImageAugmenter": {"x": 1}}),
                          "params.augmentation"),
    "augmentation parameter unknown": (
        lambda m: _params_of(m).update(augmentation={"__estimator__": "ImageAugmenter",
                                                     "params": {"x": 1}}),
        "params.augmentation"),
    "version from the future": (lambda m: m.update(version=2), "version: 2 is above 1"),
    "kind unknown": (lambda m: m.update(kind="weights"), "kind: 'weights' is not one of"),
    "file path outside": (
        lambda m: m["files"].update({"../model.keras": m["files"]["model.keras"]}),
        "files.../model.keras: not a plain file name"),
}


@pytest.mark.parametrize("damage", sorted(_DAMAGE))
def test_damaged_manifest_is_one_value_error_naming_file_and_key(saved, tmp_path, damage):
    change, expected = _DAMAGE[damage]
    target = _copy(saved[0], tmp_path)
    _edit(target, change)
    with pytest.raises(ModelFolderError, match=MANIFEST) as info:
        HPAClassifier.load(target)
    assert isinstance(info.value, ValueError)
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
    # the manifest's digest tells at once
    with pytest.raises(ModelFolderError, match="model.keras: its content differs"):
        HPAClassifier.load(target)
    # and with the digest forged to match, the file itself is refused
    _relist(target)
    expected = "network takes" if damage == "other network" else "model.keras"
    with pytest.raises(ModelFolderError, match=expected):
        HPAClassifier.load(target)


def test_planted_lambda_layer_is_refused(saved, tmp_path):
    target = _copy(saved[0], tmp_path)
    inputs = keras.Input((32, 32, 4), dtype="uint8")
    outputs = keras.layers.Lambda(lambda x: keras.ops.mean(keras.ops.cast(x, "float32"),
                                                           axis=(1, 2)))(inputs)
    outputs = keras.layers.Dense(28, activation="sigmoid")(outputs)
    keras.Model(inputs, outputs).save(target / "model.keras")
    _relist(target)  # the manifest's digest matches the planted file
    with pytest.raises(ModelFolderError, match="model.keras.*(Lambda|safe_mode)"):
        HPAClassifier.load(target)


def test_folder_of_version_0_1_still_loads(saved, tmp_path):
    """hpa-sklearn 0.1 saved ``estimator.json`` (format 1, without the later parameters)."""
    target = _copy(saved[0], tmp_path)
    manifest = _manifest(target)
    params = {k: v for k, v in _params_of(manifest).items()
              if k not in ("checkpoint_dir", "time_budget")}
    state = {"format": 1, "class": "HPAClassifier", "params": params,
             "fitted": _fitted_of(manifest)}
    (target / MANIFEST).unlink()
    (target / "estimator.json").write_text(json.dumps(state))
    loaded = HPAClassifier.load(target)
    assert loaded.time_budget is None and loaded.checkpoint_dir is None
    np.testing.assert_array_equal(loaded.predict_proba(saved[2]), saved[1])
    (target / "estimator.json").write_text(json.dumps({**state, "format": 4}))
    with pytest.raises(ModelFolderError, match=r"estimator.json: format: 4 is not a save format"):
        HPAClassifier.load(target)


def test_save_replaces_only_a_saved_folder(saved, tmp_path):
    from hpa_sklearn._persistence import read_run

    clf = HPAClassifier.load(saved[0])
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    with pytest.raises(FileExistsError, match="thesis.tex"):
        clf.save(mine)
    assert (mine / "thesis.tex").read_text() == "years of work"
    target = _copy(saved[0], tmp_path)
    clf.set_params(threshold=0.25).save(target, run={"note": {"a": 1}})
    assert HPAClassifier.load(target).threshold == 0.25
    assert read_run(target) == {"note": {"a": 1}} == _manifest(target)["run"]
    assert sorted(p.name for p in target.iterdir()) == [MANIFEST, "model.keras"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporaries left
    with pytest.raises(ValueError, match="run must be a dict"):
        clf.save(target, run=["not", "a", "record"])


# a random corruption of the manifest: the result is the same classifier or the documented
# ModelFolderError naming the file, never another exception
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 10**6) | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=3),
    max_leaves=6,
)


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(section=st.sampled_from(["params", "fitted", "estimator", None]), action=st.sampled_from(
    ["drop", "add", "replace"]), index=st.integers(0, 40), value=_json_values)
def test_fuzzed_manifest_loads_identically_or_is_refused(saved, tmp_path, section, action, index,
                                                         value):
    folder, proba, X = saved
    manifest = _manifest(folder)
    where = {"params": _params_of(manifest), "fitted": _fitted_of(manifest),
             "estimator": manifest["estimator"], None: manifest}[section]
    key = sorted(where)[index % len(where)]
    if action == "drop":
        del where[key]
    elif action == "add":
        where[f"new_{index}"] = value
    else:
        where[key] = value
    target = tmp_path / f"fuzz-{section}-{action}-{index}"
    target.mkdir(exist_ok=True)
    (target / MANIFEST).write_text(json.dumps(manifest))
    model = target / "model.keras"
    if not model.exists():
        os.link(folder / "model.keras", model)
    try:
        clf = HPAClassifier.load(target)
    except ModelFolderError as exc:
        assert MANIFEST in str(exc) or "model.keras" in str(exc)
        return
    clf.set_params(verbose=0)
    result = clf.predict_proba(X)
    # a change that loads changes nothing learned (batch size may reorder float sums)
    np.testing.assert_allclose(result, proba, rtol=1e-5, atol=1e-6)


def test_saved_network_keeps_the_optimizer_state(saved):
    restored = HPAClassifier.load(saved[0]).model_.optimizer
    assert int(restored.iterations.numpy()) == 5  # one epoch of 40 rows in batches of 8
    assert any(float(np.abs(np.asarray(v)).sum()) > 0 for v in restored.variables[1:])
