"""The hpa-sklearn command line, end to end on small folders (in-process through
``hpa_sklearn.cli.main``): what each command writes, and one clean line for bad input."""

import json

import numpy as np
import pandas as pd
import pytest

from hpa_sklearn import cli
from hpa_sklearn._decision import apply_thresholds
from hpa_sklearn.classifier import HPAClassifier
from hpa_sklearn.datasets import (
    load_hpa,
    make_hpa_like,
    read_submission,
    write_kaggle_layout,
)
from hpa_sklearn.metrics import macro_f1, per_class_f1

from ._helpers import FAST, MANIFEST, read_run, run_cli


def _images(folder, cache, labels="train.csv"):
    return load_hpa(folder, labels=labels, image_size=32, cache_dir=cache, verbose=0)


def test_help_is_complete(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for command in ("demo", "train", "predict", "evaluate", "search", "lr-find", "cache"):
        assert command in text
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    text = capsys.readouterr().out
    for option in ("--data", "--labels", "--image-size", "--channels", "--epochs", "--cv",
                   "--tune-thresholds", "--no-tune-thresholds", "--time-budget", "--recipe",
                   "--checkpoint-dir", "--keep-checkpoints", "--input-size", "--out"):
        assert option in text
    with pytest.raises(SystemExit):
        cli.main(["predict", "--help"])
    assert "--overwrite" in capsys.readouterr().out


def test_train_writes_a_model_folder_that_loads_back(cli_model):
    run = read_run(cli_model)
    assert run["command"] == "train" and run["recipe"] == "cpu"  # the default recipe
    assert run["image_size"] == 32 and run["channels"] == ["red", "green", "blue", "yellow"]
    # thresholds are tuned by default, on a 20 % hold-out
    assert run["thresholds"] == "tuned (20% held-out)" and 0 <= run["oof_macro_f1"] <= 1
    assert not run["interrupted"] and run["epochs_done"] == 1 and not run["thresholds_pending"]
    assert {p.name for p in cli_model.iterdir()} == {"model.keras", MANIFEST}
    # only the model folder is left: no checkpoints, lock or temporary beside it
    assert [p.name for p in cli_model.parent.iterdir()] == [cli_model.name]
    classifier = HPAClassifier.load(cli_model)
    assert classifier.backbone == "smallcnn" and classifier.tta == "dihedral"
    assert classifier.augmentation is not None and classifier.augmentation.rot90
    assert classifier.checkpoint_dir is None  # the training machine's path is not kept
    thresholds = np.asarray(classifier.threshold)
    assert thresholds.shape == (28,) and classifier.at_least_one_label


def test_predict_writes_the_templates_ids_with_the_models_predictions(
        cli_model, kaggle_data, image_cache, tmp_path, capsys):
    status, stdout, _ = run_cli(capsys, "predict", "--model", cli_model, "--data", kaggle_data,
                                "--out", tmp_path / "sub.csv", "--cache-dir", image_cache,
                                "--n-jobs", "1")
    assert status == 0 and "8 rows" in stdout
    ids, Y_pred = read_submission(tmp_path / "sub.csv")
    template = pd.read_csv(kaggle_data / "sample_submission.csv")
    assert list(ids) == list(template.Id)
    # the same predictions as the model folder loaded by hand
    data = _images(kaggle_data, image_cache, "sample_submission.csv")
    classifier = HPAClassifier.load(cli_model).set_params(verbose=0, at_least_one_label=True)
    np.testing.assert_array_equal(Y_pred, classifier.predict(data.images))
    assert np.all(Y_pred.sum(axis=1) >= 1)
    # the file is the library's now: predicting again replaces it without --overwrite
    status, _, err = run_cli(capsys, "predict", "--model", cli_model, "--data", kaggle_data,
                             "--out", tmp_path / "sub.csv", "--cache-dir", image_cache,
                             "--n-jobs", "1", "--tta", "none")
    assert status == 0, err


def test_evaluate_report_equals_library_figures(cli_model, kaggle_data, image_cache, tmp_path,
                                                capsys):
    status, stdout, _ = run_cli(capsys, "evaluate", "--model", cli_model, "--data", kaggle_data,
                                "--out", tmp_path / "report", "--cache-dir", image_cache,
                                "--n-jobs", "1", "--n-boot", "50")
    assert status == 0 and "macro F1" in stdout
    assert "trained on" in stdout  # evaluated on its own training images: said so
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    for name in report["files"]:
        assert (tmp_path / "report" / name).is_file()
    data = _images(kaggle_data, image_cache)
    classifier = HPAClassifier.load(cli_model).set_params(verbose=0)
    proba = classifier.predict_proba(data.images)
    tuned = apply_thresholds(proba, classifier.threshold)
    assert report["summary"]["tuned"]["macro_f1"] == pytest.approx(macro_f1(data.target, tuned))
    assert report["summary"]["0.5"]["macro_f1"] == pytest.approx(
        macro_f1(data.target, apply_thresholds(proba, 0.5)))
    np.testing.assert_allclose([row["f1"] for row in report["per_class"]],
                               per_class_f1(data.target, tuned))
    assert report["figures"]["training_curves"]["loss"] == classifier.history_["loss"]
    html = (tmp_path / "report" / "index.html").read_text()
    assert "per_class_f1.png" in html and "Nucleoplasm" in html


@pytest.mark.slow
def test_search_writes_cv_results_and_plot(kaggle_data, image_cache, tmp_path, capsys):
    status, stdout, err = run_cli(capsys, "search", "--data", kaggle_data, *FAST,
                                  "--n-candidates", "1", "--cv", "2", "--fits-per-worker", "0",
                                  "--cache-dir", image_cache, "--out", tmp_path / "s")
    assert status == 0, err
    results = pd.read_csv(tmp_path / "s" / "cv_results.csv")
    assert len(results) == 1 and results["mean_test_score"].between(0, 1).all()
    assert {"param_batch_size", "param_learning_rate", "param_optimizer", "param_activation",
            "param_dropout"} <= set(results.columns)
    assert (tmp_path / "s" / "search.png").stat().st_size > 1000
    assert "Best candidate" in stdout


# ----------------------------------------------------------------------------- bad input
def _assert_clean_error(status, err, *fragments):
    assert status == 2, err
    assert "Traceback" not in err and "error:" in err
    for fragment in fragments:
        assert fragment in err, err


def test_missing_files_is_a_clean_error(tmp_path, capsys):
    broken = tmp_path / "broken"
    data = make_hpa_like(4, 32, random_state=0)
    write_kaggle_layout(broken, data.images, data.ids, data.target)
    (broken / "train" / f"{data.ids[2]}_blue.png").unlink()
    status, _, err = run_cli(capsys, "train", "--data", broken, *FAST, "--cache-dir",
                             tmp_path / "c", "--out", tmp_path / "m")
    _assert_clean_error(status, err, data.ids[2], "--skip-missing")
    assert not (tmp_path / "m").exists() and not (tmp_path / "m.checkpoints").exists()


def test_a_truncated_image_is_a_clean_error_before_training(tmp_path, capsys):
    broken = tmp_path / "broken"
    data = make_hpa_like(4, 32, random_state=0)
    write_kaggle_layout(broken, data.images, data.ids, data.target)
    image = broken / "train" / f"{data.ids[1]}_green.png"
    image.write_bytes(image.read_bytes()[:40])  # the header survives, the pixels do not
    status, _, err = run_cli(capsys, "train", "--data", broken, *FAST, "--cache-dir",
                             tmp_path / "c", "--out", tmp_path / "m")
    _assert_clean_error(status, err, image.name)
    assert not (tmp_path / "m").exists() and not (tmp_path / "m.checkpoints").exists()


def test_data_defaults_to_the_current_folder(kaggle_data, tmp_path, capsys, monkeypatch):
    """Without --data, a relative --labels is looked for in the current folder (once, not
    twice) and the data folder is the current folder."""
    monkeypatch.chdir(tmp_path)
    status, _, err = run_cli(capsys, "train", "--labels", "nope.csv", *FAST,
                             "--out", tmp_path / "m")
    _assert_clean_error(status, err, "was not found (looked for nope.csv);")
    monkeypatch.chdir(kaggle_data)
    status, _, err = run_cli(capsys, "train", "--labels", "nope.csv", *FAST,
                             "--out", tmp_path / "m")
    _assert_clean_error(status, err, "train.csv")  # the CSVs of the current folder, as hints


def test_version(capsys):
    from hpa_sklearn import __version__

    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"hpa-sklearn {__version__}"


def test_a_wrong_data_folder_is_named_in_one_line(tmp_path, capsys):
    status, _, err = run_cli(capsys, "train", "--data", tmp_path / "no-such-folder", *FAST,
                             "--out", tmp_path / "m")
    _assert_clean_error(status, err, f"the data folder --data {tmp_path / 'no-such-folder'} "
                                     "does not exist")
    assert not (tmp_path / "m").exists()


def test_relative_paths_are_taken_from_the_current_folder_first(kaggle_data, image_cache,
                                                                tmp_path, capsys, monkeypatch):
    """--labels and --image-dir relative to the current folder, --data elsewhere: the command
    uses the current folder's files; a misspelt --image-dir is reported with the folders nearby
    that hold channel images."""
    import shutil

    work = tmp_path / "work"
    shutil.copytree(kaggle_data / "train", work / "my-images")
    shutil.copy(kaggle_data / "train.csv", work / "my-labels.csv")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(work)
    status, _, err = run_cli(capsys, "train", "--data", elsewhere, "--labels", "my-labels.csv",
                             "--image-dir", "my-imgs", *FAST, "--out", tmp_path / "m")
    _assert_clean_error(status, err, "--image-dir my-imgs was not found",
                        str(elsewhere / "my-imgs"))
    status, _, err = run_cli(capsys, "train", "--data", ".", "--labels", "my-labels.csv",
                             "--image-dir", "my-imgs", *FAST, "--out", tmp_path / "m")
    _assert_clean_error(status, err, "my-images")  # the folder nearby that holds the images
    status, _, err = run_cli(capsys, "train", "--data", elsewhere, "--labels", "my-labels.csv",
                             "--image-dir", "my-images", *FAST, "--no-tune-thresholds",
                             "--cache-dir", image_cache, "--out", tmp_path / "m")
    assert status == 0, err
    assert read_run(tmp_path / "m")["n_train"] == len(pd.read_csv(work / "my-labels.csv"))


def test_bad_label_row_is_a_clean_error(kaggle_data, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    frame = pd.read_csv(kaggle_data / "train.csv")
    frame.loc[3, "Target"] = "3 x"
    frame.to_csv(bad, index=False)
    status, _, err = run_cli(capsys, "train", "--data", kaggle_data, "--labels", bad, *FAST,
                             "--cache-dir", tmp_path / "c", "--out", tmp_path / "m")
    _assert_clean_error(status, err, "line 5", "'3 x'")


def test_not_a_model_folder_is_a_clean_error(kaggle_data, tmp_path, capsys):
    status, _, err = run_cli(capsys, "predict", "--model", tmp_path, "--data", kaggle_data,
                             "--out", tmp_path / "s.csv")
    _assert_clean_error(status, err, "is not a saved hpa-sklearn model")


def test_unknown_template_ids_are_a_clean_error(cli_model, kaggle_data, image_cache, tmp_path,
                                                capsys):
    template = tmp_path / "ids.csv"
    pd.DataFrame({"Id": ["test-0", "no-such-image"], "Predicted": ["0", "0"]}).to_csv(
        template, index=False)
    status, _, err = run_cli(capsys, "predict", "--model", cli_model, "--data", kaggle_data,
                             "--ids", template, "--image-dir", kaggle_data / "test",
                             "--out", tmp_path / "s.csv", "--cache-dir", image_cache,
                             "--n-jobs", "1")
    _assert_clean_error(status, err, "no-such-image")


def test_mistyped_choice_is_one_line_with_the_closest_name(kaggle_data, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "--data", str(kaggle_data), "--backbone", "smalcnn", "--out",
                  str(tmp_path / "m")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "did you mean 'smallcnn'" in err and "usage:" not in err


def test_ensemble_needs_folds(kaggle_data, tmp_path, capsys):
    status, _, err = run_cli(capsys, "train", "--data", kaggle_data, *FAST, "--ensemble",
                             "--out", tmp_path / "m")
    _assert_clean_error(status, err, "--cv K")


def test_extra_data_needs_its_labels(kaggle_data, tmp_path, capsys):
    status, _, err = run_cli(capsys, "train", "--data", kaggle_data, *FAST, "--extra-data",
                             tmp_path, "--out", tmp_path / "m2")
    _assert_clean_error(status, err, "--extra-labels")


# ----------------------------------------------------------------------------- real data
@pytest.mark.realdata
def test_real_samples_train_and_predict(real_data_dir, tmp_path, capsys):
    out = tmp_path / "m"
    status, _, err = run_cli(capsys, "train", "--data", real_data_dir, "--labels",
                             "train_images_labels.csv", "--image-dir", "train_images", *FAST,
                             "--no-tune-thresholds", "--cache-dir", tmp_path / "c", "--out", out)
    assert status == 0, err
    labels = pd.read_csv(real_data_dir / "train_images_labels.csv")
    template = tmp_path / "template.csv"
    pd.DataFrame({"Id": labels.Id[::-1], "Predicted": "0"}).to_csv(template, index=False)
    status, _, err = run_cli(capsys, "predict", "--model", out, "--data", real_data_dir, "--ids",
                             template, "--image-dir", "train_images", "--cache-dir",
                             tmp_path / "c", "--n-jobs", "1", "--out", tmp_path / "sub.csv")
    assert status == 0, err
    ids, Y = read_submission(tmp_path / "sub.csv")
    assert list(ids) == list(labels.Id[::-1]) and Y.shape == (76, 28)
    assert np.all(Y.sum(axis=1) >= 1)


# ----------------------------------------------------------------------------- ensembles, extras
@pytest.mark.slow
def test_ensemble_folder_is_one_model_for_predict_and_evaluate(kaggle_data, image_cache,
                                                               tmp_path, capsys):
    from hpa_sklearn.ensemble import HPAFoldEnsemble

    out = tmp_path / "m"
    status, _, err = run_cli(capsys, "train", "--data", kaggle_data, *FAST, "--cv", "2",
                             "--ensemble", "--cache-dir", image_cache, "--out", out)
    assert status == 0, err
    run = read_run(out)
    assert run["ensemble"] == 2 and run["recipe"] == "cpu"
    assert run["thresholds"] == "tuned (2-fold out-of-fold)"
    assert sorted(p.name for p in out.iterdir()) == ["fold-1", "fold-2", MANIFEST]
    model = HPAFoldEnsemble.load(out)
    assert len(model.estimators_) == 2 and model.estimators_[0].backbone == "smallcnn"
    assert model.estimators_[0].tta == "dihedral"  # the cpu recipe's test-time augmentation
    status, _, err = run_cli(capsys, "predict", "--model", out, "--data", kaggle_data, "--out",
                             tmp_path / "sub.csv", "--cache-dir", image_cache, "--n-jobs", "1",
                             "--tta", "flips")
    assert status == 0, err
    _, Y_pred = read_submission(tmp_path / "sub.csv")
    data = _images(kaggle_data, image_cache, "sample_submission.csv")
    proba = model.set_member_params(tta="flips", verbose=0).predict_proba(data.images)
    np.testing.assert_array_equal(
        Y_pred, apply_thresholds(proba, model.threshold, at_least_one_label=True))
    status, _, err = run_cli(capsys, "evaluate", "--model", out, "--data", kaggle_data, "--out",
                             tmp_path / "report", "--cache-dir", image_cache, "--n-jobs", "1",
                             "--n-boot", "20")
    assert status == 0 and (tmp_path / "report" / "index.html").is_file(), err


@pytest.mark.slow
def test_extra_training_data_is_recorded_and_trained_on(kaggle_data, image_cache, tmp_path,
                                                        capsys):
    extra = make_hpa_like(8, 32, random_state=5)
    ids = [f"extra-{i}" for i in range(8)]
    write_kaggle_layout(tmp_path / "v18", extra.images, ids, extra.target,
                        labels_file="HPAv18.csv", image_dir=".")
    status, stdout, err = run_cli(capsys, "train", "--data", kaggle_data, *FAST,
                                  "--no-tune-thresholds", "--extra-data", tmp_path / "v18",
                                  "--extra-labels", "HPAv18.csv", "--cache-dir", image_cache,
                                  "--out", tmp_path / "m")
    assert status == 0, err
    run = read_run(tmp_path / "m")
    assert run["n_extra"] == 8 and run["n_train"] == 16 and run["thresholds"] == "0.5"
    assert "Extra training data: 8 images" in stdout


@pytest.mark.slow
def test_lr_find_command_writes_a_plot_and_suggests(kaggle_data, image_cache, tmp_path, capsys):
    status, stdout, err = run_cli(capsys, "lr-find", "--data", kaggle_data, *FAST,
                                  "--n-steps", "4", "--cache-dir", image_cache,
                                  "--out", tmp_path / "lr.png")
    assert status == 0, err
    assert "Suggested learning rate:" in stdout and (tmp_path / "lr.png").stat().st_size > 1000
