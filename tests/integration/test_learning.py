"""Backbones, learning-rate schedules, losses and optimizers (and their tables), test-time
augmentation, the learning-rate range test and the recipes of HPAClassifier."""

import json
import re

import keras
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.utils._param_validation import InvalidParameterError

from hpa_sklearn import (
    HPAClassifier,
    HPAVGG16Classifier,
    MultilabelStratifiedKFold,
    macro_f1_scorer,
)
from hpa_sklearn._engine import trainer
from hpa_sklearn._engine.backbones import (
    BACKBONES,
    Backbone,
    _construct,
    build_backbone,
    get_backbone,
)
from hpa_sklearn._engine.keras_objects import OneCycle, WarmupCosine
from hpa_sklearn._engine.schedules import make_schedule
from hpa_sklearn._engine.training import StopRequest, TrainingMonitor, TrainingState
from hpa_sklearn.datasets import make_hpa_like
from hpa_sklearn.model_selection import MultilabelStratifiedShuffleSplit
from hpa_sklearn.recipes import RECIPES, make_classifier

# the small batch-normalized CNN: quick, and what is tested here is the same for every backbone
SMALL = dict(backbone="smallcnn", weights=None, epochs=1, batch_size=8, verbose=0,
             random_state=0, decay=0.0, learning_rate=1e-3)


@pytest.fixture(scope="module")
def data():
    return make_hpa_like(n_samples=24, image_size=32, random_state=0, return_X_y=True)


@pytest.fixture(scope="module")
def cosine(data):
    """A small network trained with the warm-up and cosine schedule."""
    X, Y = data
    return HPAClassifier(**SMALL, lr_schedule="warmup_cosine").fit(X, Y)


# ----------------------------------------------------------------------------- backbones
@pytest.mark.parametrize("name", ["densenet121", "mobilenetv3small", "resnet50"])
def test_pretrained_first_kernel_is_extended_and_the_rest_copied(name, tmp_path):
    # ImageNet weights cannot be downloaded here: a 3-channel weights file of the same layout
    spec = get_backbone(name)
    source = _construct(spec, (32, 32, 3), None)
    path = tmp_path / f"{name}.weights.h5"
    source.save_weights(path)
    base = build_backbone(name, (32, 32, 4), weights=str(path),
                          channels=("red", "green", "blue", "yellow"))
    pairs = [(a, b) for a, b in zip([layer for layer in base.layers if layer.weights],
                                    [layer for layer in source.layers if layer.weights])]
    first_new, first_old = (w.get_weights()[0] for w in pairs[0])
    order = [2, 1, 0, 2] if spec.kernel_order == "bgr" else [0, 1, 2, 0]  # yellow <- red
    np.testing.assert_array_equal(first_new, first_old[:, :, order])
    for new, old in pairs[1:]:
        for a, b in zip(new.get_weights(), old.get_weights()):
            np.testing.assert_array_equal(a, b)


def test_every_backbone_takes_one_to_four_channels_from_scratch():
    for name in BACKBONES:
        for n_channels in (1, 4):
            base = build_backbone(name, (32, 32, n_channels))
            assert base.input_shape[-1] == n_channels and len(base.output_shape) == 4


def test_unknown_backbone_and_too_small_images_are_clear_errors(data):
    X, Y = data
    with pytest.raises(ValueError, match="'backbone' parameter .*Got 'vgg19'"):
        HPAClassifier(backbone="vgg19").fit(X, Y)
    with pytest.raises(ValueError, match="backbone must be one of"):
        get_backbone("alexnet")
    with pytest.raises(ValueError, match="at least 32 px"):
        build_backbone("resnet50", (16, 16, 4))


def test_backbone_is_searchable_in_grid_search(data, monkeypatch):
    # a second backbone as cheap as the first: one entry of the table (a narrower small CNN)
    monkeypatch.setitem(BACKBONES, "tinycnn",
                        Backbone("tinycnn", "SmallCNN", {"widths": (8, 16)}, note="for a test"))
    X, Y = data
    search = GridSearchCV(HPAClassifier(**SMALL), {"backbone": ["smallcnn", "tinycnn"]},
                          scoring=macro_f1_scorer,
                          cv=MultilabelStratifiedShuffleSplit(1, test_size=0.5, random_state=0))
    search.fit(X, Y)
    assert list(search.cv_results_["param_backbone"]) == ["smallcnn", "tinycnn"]
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    best = search.best_params_["backbone"]
    assert search.best_estimator_.model_.name == f"hpa_{best}"
    widths = {"smallcnn": 256, "tinycnn": 16}  # the last convolution's filters
    assert search.best_estimator_.model_.get_layer("pool").input.shape[-1] == widths[best]


def test_smallcnn_trains_from_scratch_only(data):
    X, Y = data
    assert not get_backbone("smallcnn").pretrained and get_backbone("densenet121").pretrained
    with pytest.raises(ValueError, match="'smallcnn' has no pretrained weights.*weights=None"):
        HPAClassifier(**{**SMALL, "weights": "imagenet"}).fit(X, Y)
    with pytest.raises(ValueError, match="'smallcnn' has no pretrained weights"):
        build_backbone("smallcnn", (32, 32, 4), weights="some.weights.h5")


# ----------------------------------------------------------------------------- schedules
def _rate(schedule, step):
    return float(keras.ops.convert_to_numpy(schedule(step)))


def test_warmup_cosine_rises_then_falls_to_zero():
    schedule = make_schedule("warmup_cosine", 0.01, decay=0, epochs=10, steps_per_epoch=10,
                             warmup_epochs=2)
    assert isinstance(schedule, WarmupCosine) and schedule.warmup_steps == 20
    assert _rate(schedule, 0) == pytest.approx(1e-4)
    assert _rate(schedule, 10) == pytest.approx(1e-4 + (0.01 - 1e-4) / 2, rel=1e-5)
    assert _rate(schedule, 20) == pytest.approx(0.01)
    assert _rate(schedule, 60) == pytest.approx(0.005, rel=1e-5)  # half-way down the cosine
    assert _rate(schedule, 100) == pytest.approx(0.0, abs=1e-9)


def test_one_cycle_and_step_schedules():
    cycle = make_schedule("one_cycle", 0.01, decay=0, epochs=10, steps_per_epoch=10,
                          warmup_epochs=0)
    assert isinstance(cycle, OneCycle) and cycle.total_steps == 100
    assert _rate(cycle, 0) == pytest.approx(0.01 / 25)
    assert _rate(cycle, 30) == pytest.approx(0.01)
    assert _rate(cycle, 100) == pytest.approx(1e-6, rel=1e-3)
    step = make_schedule("step", 0.01, decay=0, epochs=4, steps_per_epoch=5, warmup_epochs=0)
    assert [_rate(step, s) for s in (0, 10, 11, 15, 16)] == pytest.approx(
        [0.01, 0.01, 0.001, 0.001, 0.0001])
    assert make_schedule(None, 0.01, decay=0, epochs=1, steps_per_epoch=1, warmup_epochs=0) == 0.01
    decayed = make_schedule(None, 0.01, decay=0.5, epochs=1, steps_per_epoch=1, warmup_epochs=0)
    assert _rate(decayed, 2) == pytest.approx(0.01 / 2)


class _FakeOptimizer:
    learning_rate = 0.01


class _FakeModel:
    optimizer = _FakeOptimizer()


def test_plateau_halves_after_two_epochs_without_improvement_down_to_the_floor():
    state = TrainingState(seed=0, learning_rate=0.01)
    monitor = TrainingMonitor(state, request=StopRequest(), save=None, early_stopping=False,
                              patience=5, plateau_floor=0.003)
    monitor.set_model(_FakeModel())
    rates = []
    for loss in (1.0, 0.9, 0.95, 0.92, 0.91, 0.93, 0.94, 0.99):
        monitor._plateau(loss)
        rates.append(state.learning_rate)
    # 0.9 is the best; two epochs without better halve the rate; 0.0025 is below the floor
    assert rates == pytest.approx([0.01, 0.01, 0.01, 0.005, 0.005, 0.003, 0.003, 0.003])
    assert _FakeModel.optimizer.learning_rate == 0.003


def test_schedules_in_a_fit_and_the_checkpoint(data, cosine, tmp_path):
    X, Y = data
    assert isinstance(cosine.model_.optimizer._learning_rate, WarmupCosine)
    assert cosine.model_.optimizer._learning_rate.total_steps == 3  # 24 images, batches of 8
    clf = HPAClassifier(**{**SMALL, "epochs": 2}, lr_schedule="plateau",
                        checkpoint_dir=tmp_path).fit(X, Y)
    (folder,) = tmp_path.glob("fit-*")
    state = json.loads((folder / "hpa-sklearn.json").read_text())["training"]
    assert state["learning_rate"] == pytest.approx(1e-3) and state["epochs_done"] == 2
    assert len(clf.history_["loss"]) == 2


def test_checkpoint_key_holds_epochs_only_for_schedules_that_depend_on_it(data):
    X, Y = data
    for schedule, depends in ((None, False), ("plateau", False), ("warmup_cosine", True),
                              ("one_cycle", True), ("step", True)):
        clf = HPAClassifier(**SMALL, lr_schedule=schedule, checkpoint_dir="c")
        if schedule is None:
            clf.set_params(decay=5e-5)
        key = clf._checkpoint_folder(X, Y, None)
        assert (clf.set_params(epochs=7)._checkpoint_folder(X, Y, None) != key) == depends


# ----------------------------------------------------------------------------- the tables
def test_an_entry_added_to_a_table_is_accepted_everywhere(data, monkeypatch, capsys):
    """A schedule, a loss or an optimizer is one entry of its table: the classifier's parameter
    validation, training and the command line's choices all read it."""
    from hpa_sklearn import cli
    from hpa_sklearn._engine import losses, optimizers, schedules

    X, Y = data
    params = dict(SMALL, lr_schedule="half", loss="plain_bce", optimizer="lion")
    argv = ["train", "--data", "d", "--out", "o", "--lr-schedule", "half", "--loss", "plain_bce",
            "--optimizer", "lion"]
    for name in ("lr_schedule", "loss", "optimizer"):
        with pytest.raises(InvalidParameterError, match=f"'{name}' parameter"):
            HPAClassifier(**{**SMALL, name: params[name]})._validate_params()
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(argv)
    capsys.readouterr()

    with monkeypatch.context() as patch:
        patch.setitem(schedules.SCHEDULES, "half", schedules.Schedule(
            "half", lambda lr, **_: lr / 2, description="half the learning rate, constant"))
        patch.setitem(losses.LOSSES, "plain_bce", losses.Loss(
            "plain_bce", lambda *, focal_gamma, pos_weight: keras.losses.BinaryCrossentropy(),
            "Keras' own binary cross-entropy"))
        patch.setitem(optimizers.OPTIMIZERS, "lion", optimizers.Optimizer("lion", "Lion"))

        clf = HPAClassifier(**params)
        clf._validate_params()
        clf.fit(X, Y)
        assert isinstance(clf.model_.optimizer, keras.optimizers.Lion)
        rate = float(clf.model_.optimizer.learning_rate)
        assert rate == pytest.approx(SMALL["learning_rate"] / 2)
        assert isinstance(clf.model_.loss, keras.losses.BinaryCrossentropy)
        assert clf.predict_proba(X[:2]).shape == (2, 28)

        parser = cli.build_parser()
        args = parser.parse_args(argv)
        assert (args.lr_schedule, args.loss, args.optimizer) == ("half", "plain_bce", "lion")
        with pytest.raises(SystemExit):
            parser.parse_args(["train", "--help"])
        help_text = capsys.readouterr().out
        for option, name in (("--lr-schedule", "half"), ("--loss", "plain_bce"),
                             ("--optimizer", "lion")):
            assert re.search(rf"{option} \{{[^}}]*\b{name}\b", help_text), (option, help_text)
    # gone from the tables, gone from the choices
    with pytest.raises(InvalidParameterError, match="'optimizer' parameter"):
        HPAClassifier(**{**SMALL, "optimizer": "lion"})._validate_params()


# ----------------------------------------------------------------------------- TTA
def test_tta_is_the_mean_over_the_views(data, cosine):
    X, _ = data
    clf = cosine
    plain = clf.predict_proba
    views = [X, X[:, :, ::-1], X[:, ::-1], X[:, ::-1, ::-1]]
    expected = np.mean([plain(np.ascontiguousarray(v)) for v in views], axis=0)
    try:
        np.testing.assert_allclose(clf.set_params(tta="flips").predict_proba(X), expected,
                                   rtol=1e-5, atol=1e-6)
        rotations = [np.rot90(X, k, axes=(1, 2)) for k in range(4)]
        dihedral = [v for r in rotations for v in (r, r[:, :, ::-1])]
        clf.set_params(tta=None)
        expected = np.mean([plain(np.ascontiguousarray(v)) for v in dihedral], axis=0)
        np.testing.assert_allclose(clf.set_params(tta="dihedral").predict_proba(X), expected,
                                   rtol=1e-5, atol=1e-6)
        assert clf.predict(X).shape == (len(X), 28)
    finally:
        clf.set_params(tta=None)


def test_tta_and_the_schedule_are_saved(data, cosine, tmp_path):
    X, _ = data
    try:
        cosine.set_params(tta="flips").save(tmp_path / "m")
        expected = cosine.predict_proba(X)
    finally:
        cosine.set_params(tta=None)
    again = HPAClassifier.load(tmp_path / "m")
    assert type(again) is HPAClassifier
    assert (again.backbone, again.tta, again.lr_schedule) == ("smallcnn", "flips", "warmup_cosine")
    assert isinstance(again.model_.optimizer._learning_rate, WarmupCosine)
    np.testing.assert_array_equal(again.predict_proba(X), expected)


def test_dihedral_tta_refuses_non_square_images():
    X = np.zeros((8, 32, 40, 4), dtype=np.uint8)
    Y = np.eye(8, 28, dtype=np.uint8)
    clf = HPAClassifier(**SMALL).fit(X, Y)
    assert clf.set_params(tta="flips").predict_proba(X).shape == (8, 28)
    with pytest.raises(ValueError, match="tta='dihedral' .* square .* 32x40"):
        clf.set_params(tta="dihedral").predict_proba(X)


# ----------------------------------------------------------------------------- lr_find
def test_lr_find_records_the_losses_suggests_a_rate_and_leaves_the_classifier(data, tmp_path):
    X, Y = data
    clf = HPAClassifier(**SMALL)
    result = clf.lr_find(X, Y, min_lr=1e-5, max_lr=10.0, n_steps=9)
    assert not clf.__sklearn_is_fitted__()
    n = len(result.losses)
    assert 2 <= n <= 9 and np.isfinite(result.losses[:2]).all()
    np.testing.assert_allclose(result.learning_rates, np.geomspace(1e-5, 10.0, 9)[:n])
    assert 1e-5 <= result.suggestion <= 10.0
    result.plot(path=tmp_path / "lr.png")
    assert (tmp_path / "lr.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="min_lr < max_lr"):
        clf.lr_find(X, Y, min_lr=1.0, max_lr=0.1)


# ----------------------------------------------------------------------------- recipes
def test_recipes_make_classifiers_and_take_overrides():
    cpu = make_classifier("cpu", epochs=3)
    assert type(cpu) is HPAClassifier and cpu.backbone == "smallcnn"
    assert cpu.epochs == 3 and cpu.weights is None and cpu.augmentation.rot90
    assert cpu.lr_schedule == "one_cycle" and cpu.tta == "dihedral"
    mobile = make_classifier("mobilenet", weights=None)
    assert mobile.backbone == "mobilenetv3small" and mobile.weights is None
    # the report's recipe is the report's VGG16, its defaults untouched
    report = make_classifier("report")
    assert type(report) is HPAVGG16Classifier
    assert report.get_params() == HPAVGG16Classifier().get_params()
    for name in RECIPES:
        clone(make_classifier(name))._check_params()
    with pytest.raises(ValueError, match="recipe must be one of"):
        make_classifier("fast")


# ----------------------------------------------------------------------------- external data
@pytest.mark.filterwarnings("ignore:Class\\(es\\).*fewer positives:UserWarning",
                            "ignore:No positive sample:UserWarning")  # 16 rows, 28 classes
def test_extra_rows_train_in_every_fold_and_are_never_held_out(data):
    from hpa_sklearn import MultilabelThresholdTuner
    from hpa_sklearn.model_selection import ExtraTrainingSplit

    X, Y = data
    extra = np.arange(len(X)) >= 16
    cv = ExtraTrainingSplit(MultilabelStratifiedKFold(2, random_state=0), extra)
    splits = list(cv.split(X, Y))
    assert len(splits) == cv.get_n_splits() == 2
    held_out = np.concatenate([test for _, test in splits])
    assert sorted(held_out) == list(range(16))  # every labelled row once, no extra row
    assert all(set(np.flatnonzero(extra)) <= set(train) for train, _ in splits)
    # the classifier's early-stopping part never holds an extra row either
    clf = HPAClassifier(**SMALL, early_stopping=True, validation_fraction=0.25)
    train, val = trainer.validation_split(clf._config(seed=0), Y, 0, extra)
    assert not extra[val].any() and len(val) >= 1 and set(np.flatnonzero(extra)) <= set(train)
    assert sorted(np.concatenate([train, val])) == list(range(len(X)))
    tuner = MultilabelThresholdTuner(clf, cv=cv, refit=False, random_state=0)
    tuner.fit(X, Y, train_only=extra)
    assert len(tuner.estimator_.estimators_) == 2
    with pytest.raises(ValueError, match="train_only must be one boolean per sample"):
        clf.fit(X, Y, train_only=np.ones(3, dtype=bool))
    with pytest.raises(ValueError, match="every row is extra"):
        next(ExtraTrainingSplit(MultilabelStratifiedKFold(2), np.ones(len(X), bool)).split(X, Y))
