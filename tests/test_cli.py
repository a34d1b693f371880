"""The hpa-sklearn command line, end to end on small folders."""

import json

import numpy as np
import pandas as pd
import pytest

from hpa_sklearn import cli
from hpa_sklearn._decision import apply_thresholds
from hpa_sklearn.classifier import HPAClassifier
from hpa_sklearn.datasets import load_hpa, make_hpa_like, read_submission, write_kaggle_layout
from hpa_sklearn.metrics import macro_f1, per_class_f1

# the small batch-normalized CNN: the commands do the same for every backbone, and it is quick
TRAIN = ["--image-size", "32", "--epochs", "1", "--batch-size", "16", "--backbone", "smallcnn",
         "--n-jobs", "1"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("kaggle")
    train = make_hpa_like(40, 32, random_state=0)
    test = make_hpa_like(10, 32, random_state=1)
    write_kaggle_layout(root, train.images, train.ids, train.target)
    test_ids = [f"test-{i}" for i in range(10)]
    write_kaggle_layout(root, test.images, test_ids)  # test/ + sample_submission.csv
    return root


@pytest.fixture(scope="module")
def model(folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "m"
    cache = tmp_path_factory.mktemp("cache")
    status = cli.main(["train", "--data", str(folder), *TRAIN, "--tune-thresholds", "--cv", "2",
                       "--cache-dir", str(cache), "--out", str(out)])
    assert status == 0
    return out, cache


def _run(capsys, *argv):
    status = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_help_is_complete(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for command in ("demo", "train", "predict", "evaluate", "search"):
        assert command in text
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    text = capsys.readouterr().out
    for option in ("--data", "--labels", "--image-size", "--channels", "--epochs", "--cv",
                   "--tune-thresholds", "--checkpoint-dir", "--keep-checkpoints", "--input-size",
                   "--out"):
        assert option in text


def test_train_writes_a_model_folder_that_loads_back(model, folder):
    out, cache = model
    meta = json.loads((out / cli.MODEL_FILE).read_text())
    assert meta["image_size"] == 32 and meta["channels"] == ["red", "green", "blue", "yellow"]
    assert meta["thresholds"].startswith("tuned") and 0 <= meta["oof_macro_f1"] <= 1
    assert not meta["interrupted"] and meta["epochs_done"] == 1
    assert {p.name for p in out.iterdir()} >= {"model.keras", "estimator.json", cli.MODEL_FILE}
    classifier = HPAClassifier.load(out)
    thresholds = np.asarray(classifier.threshold)
    assert thresholds.shape == (28,) and not np.all(thresholds == 0.5)


def test_predict_writes_the_templates_ids_with_the_models_predictions(model, folder, tmp_path,
                                                                      capsys):
    out, cache = model
    status, stdout, _ = _run(capsys, "predict", "--model", out, "--data", folder, "--out",
                             tmp_path / "sub.csv", "--cache-dir", cache, "--n-jobs", "1")
    assert status == 0 and "10 rows" in stdout
    ids, Y_pred = read_submission(tmp_path / "sub.csv")
    template = pd.read_csv(folder / "sample_submission.csv")
    assert list(ids) == list(template.Id)
    # the same predictions as the model folder loaded by hand
    data = load_hpa(folder, labels="sample_submission.csv", image_size=32, cache_dir=cache,
                    verbose=0)
    classifier = HPAClassifier.load(out).set_params(verbose=0, at_least_one_label=True)
    np.testing.assert_array_equal(Y_pred, classifier.predict(data.images))
    assert np.all(Y_pred.sum(axis=1) >= 1)


def test_evaluate_report_equals_library_figures(model, folder, tmp_path, capsys):
    out, cache = model
    status, stdout, _ = _run(capsys, "evaluate", "--model", out, "--data", folder, "--out",
                             tmp_path / "report", "--cache-dir", cache, "--n-jobs", "1",
                             "--n-boot", "100")
    assert status == 0 and "macro F1" in stdout
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    for name in report["files"]:
        assert (tmp_path / "report" / name).is_file()
    data = load_hpa(folder, image_size=32, cache_dir=cache, verbose=0)
    classifier = HPAClassifier.load(out).set_params(verbose=0)
    proba = classifier.predict_proba(data.images)
    tuned = apply_thresholds(proba, classifier.threshold)
    assert report["summary"]["tuned"]["macro_f1"] == pytest.approx(macro_f1(data.target, tuned))
    assert report["summary"]["0.5"]["macro_f1"] == pytest.approx(
        macro_f1(data.target, apply_thresholds(proba, 0.5)))
    np.testing.assert_allclose([row["f1"] for row in report["per_class"]],
                               per_class_f1(data.target, tuned))
    figure = report["figures"]["per_class_f1"]
    assert figure["f1_tuned"] == sorted(figure["f1_tuned"], reverse=True)
    assert report["figures"]["label_frequency"]["evaluated"] == data.target.sum(0).tolist()
    assert report["figures"]["training_curves"]["loss"] == classifier.history_["loss"]
    html = (tmp_path / "report" / "index.html").read_text()
    assert "per_class_f1.png" in html and "Nucleoplasm" in html


@pytest.mark.slow
def test_search_writes_cv_results_and_plot(folder, tmp_path, capsys):
    status, stdout, _ = _run(capsys, "search", "--data", folder, *TRAIN, "--n-candidates", "2",
                             "--cv", "2", "--cache-dir", tmp_path / "c", "--out", tmp_path / "s")
    assert status == 0, stdout
    results = pd.read_csv(tmp_path / "s" / "cv_results.csv")
    assert len(results) == 2 and results["mean_test_score"].between(0, 1).all()
    assert {"param_batch_size", "param_learning_rate", "param_optimizer", "param_activation",
            "param_dropout"} <= set(results.columns)
    assert (tmp_path / "s" / "search.png").stat().st_size > 1000


# ----------------------------------------------------------------------------- bad input
def _assert_clean_error(status, err, *fragments):
    assert status == 2
    assert "Traceback" not in err and "error:" in err
    for fragment in fragments:
        assert fragment in err, err


def test_missing_files_is_a_clean_error(folder, tmp_path, capsys):
    broken = tmp_path / "broken"
    data = make_hpa_like(4, 32, random_state=0)
    write_kaggle_layout(broken, data.images, data.ids, data.target)
    (broken / "train" / f"{data.ids[2]}_blue.png").unlink()
    status, _, err = _run(capsys, "train", "--data", broken, *TRAIN, "--cache-dir", tmp_path / "c",
                          "--out", tmp_path / "m")
    _assert_clean_error(status, err, data.ids[2], "--skip-missing")


def test_bad_label_row_is_a_clean_error(folder, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    frame = pd.read_csv(folder / "train.csv")
    frame.loc[3, "Target"] = "3 x"
    frame.to_csv(bad, index=False)
    status, _, err = _run(capsys, "train", "--data", folder, "--labels", bad, *TRAIN,
                          "--cache-dir", tmp_path / "c", "--out", tmp_path / "m")
    _assert_clean_error(status, err, "line 5", "'3 x'")


def test_not_a_model_folder_is_a_clean_error(folder, tmp_path, capsys):
    status, _, err = _run(capsys, "predict", "--model", tmp_path, "--data", folder, "--out",
                          tmp_path / "s.csv")
    _assert_clean_error(status, err, "is not a model folder")


def test_unknown_template_ids_are_a_clean_error(model, folder, tmp_path, capsys):
    out, cache = model
    template = tmp_path / "ids.csv"
    pd.DataFrame({"Id": ["test-0", "no-such-image"], "Predicted": ["0", "0"]}).to_csv(
        template, index=False)
    status, _, err = _run(capsys, "predict", "--model", out, "--data", folder, "--ids", template,
                          "--image-dir", folder / "test", "--out", tmp_path / "s.csv",
                          "--cache-dir", cache)
    _assert_clean_error(status, err, "no-such-image")


def test_model_for_other_channels_is_refused(model, folder, tmp_path, capsys):
    out, cache = model
    status, _, err = _run(capsys, "predict", "--model", out, "--data", folder, "--channels",
                          "red,green,blue", "--out", tmp_path / "s.csv")
    _assert_clean_error(status, err, "trained on channels red,green,blue,yellow")


# ----------------------------------------------------------------------------- real data
@pytest.mark.realdata
def test_real_samples_train_and_predict(real_data_dir, tmp_path, capsys):
    out = tmp_path / "m"
    status, _, err = _run(capsys, "train", "--data", real_data_dir, "--labels",
                          "train_images_labels.csv", "--image-dir", "train_images", *TRAIN,
                          "--cache-dir", tmp_path / "c", "--out", out)
    assert status == 0, err
    labels = pd.read_csv(real_data_dir / "train_images_labels.csv")
    template = tmp_path / "template.csv"
    pd.DataFrame({"Id": labels.Id[::-1], "Predicted": "0"}).to_csv(template, index=False)
    status, _, err = _run(capsys, "predict", "--model", out, "--data", real_data_dir, "--ids",
                          template, "--image-dir", "train_images", "--cache-dir", tmp_path / "c",
                          "--out", tmp_path / "sub.csv")
    assert status == 0, err
    ids, Y = read_submission(tmp_path / "sub.csv")
    assert list(ids) == list(labels.Id[::-1]) and Y.shape == (76, 28)
    assert np.all(Y.sum(axis=1) >= 1)


# ----------------------------------------------------------------------------- issue 12 options
SMALL = ["--image-size", "32", "--epochs", "1", "--batch-size", "8", "--backbone", "smallcnn",
         "--n-jobs", "1", "--recipe", "cpu", "--input-size", "32"]


@pytest.fixture(scope="module")
def ensemble(folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("ensemble") / "m"
    cache = tmp_path_factory.mktemp("cache")
    status = cli.main(["train", "--data", str(folder), *SMALL, "--cv", "2", "--ensemble",
                       "--cache-dir", str(cache), "--out", str(out)])
    assert status == 0
    return out, cache


def test_ensemble_folder_is_one_model_for_predict_and_evaluate(ensemble, folder, tmp_path,
                                                               capsys):
    from hpa_sklearn.ensemble import HPAFoldEnsemble

    out, cache = ensemble
    meta = json.loads((out / cli.MODEL_FILE).read_text())
    assert meta["ensemble"] == 2 and meta["recipe"] == "cpu" and meta["thresholds"].startswith(
        "tuned (2-fold")
    model = HPAFoldEnsemble.load(out)
    assert len(model.estimators) == 2 and model.estimators[0].backbone == "smallcnn"
    assert model.estimators[0].tta == "dihedral"  # the cpu recipe's test-time augmentation
    status, stdout, _ = _run(capsys, "predict", "--model", out, "--data", folder, "--out",
                             tmp_path / "sub.csv", "--cache-dir", cache, "--n-jobs", "1",
                             "--tta", "flips")
    assert status == 0
    ids, Y_pred = read_submission(tmp_path / "sub.csv")
    data = load_hpa(folder, labels="sample_submission.csv", image_size=32, cache_dir=cache,
                    verbose=0)
    expected = model.set_params(tta="flips", verbose=0, at_least_one_label=True).predict(
        data.images)
    np.testing.assert_array_equal(Y_pred, expected)
    status, stdout, _ = _run(capsys, "evaluate", "--model", out, "--data", folder, "--out",
                             tmp_path / "report", "--cache-dir", cache, "--n-jobs", "1",
                             "--n-boot", "50")
    assert status == 0 and (tmp_path / "report" / "index.html").is_file()


def test_extra_training_data_is_recorded_and_trained_on(folder, tmp_path, capsys):
    extra = make_hpa_like(12, 32, random_state=5)
    ids = [f"extra-{i}" for i in range(12)]
    write_kaggle_layout(tmp_path / "v18", extra.images, ids, extra.target,
                        labels_file="HPAv18.csv", image_dir=".")
    status, stdout, err = _run(capsys, "train", "--data", folder, *SMALL, "--extra-data",
                               tmp_path / "v18", "--extra-labels", "HPAv18.csv",
                               "--cache-dir", tmp_path / "c", "--out", tmp_path / "m")
    assert status == 0, err
    meta = json.loads((tmp_path / "m" / cli.MODEL_FILE).read_text())
    assert meta["extra_training"]["n_samples"] == 12 and meta["training"]["n_samples"] == 40
    assert "Extra training data: 12 images" in stdout
    status, _, err = _run(capsys, "train", "--data", folder, *SMALL, "--extra-data",
                          tmp_path / "v18", "--out", tmp_path / "m2")
    assert status == 2 and "--extra-labels" in err


def test_lr_find_command_writes_a_plot_and_suggests(folder, tmp_path, capsys):
    status, stdout, err = _run(capsys, "lr-find", "--data", folder, *SMALL, "--n-steps", "6",
                               "--cache-dir", tmp_path / "c", "--out", tmp_path / "lr.png")
    assert status == 0, err
    assert "Suggested learning rate:" in stdout and (tmp_path / "lr.png").stat().st_size > 1000


def test_ensemble_needs_folds(folder, tmp_path, capsys):
    status, _, err = _run(capsys, "train", "--data", folder, *SMALL, "--ensemble", "--out",
                          tmp_path / "m")
    assert status == 2 and "--cv K" in err
