"""The one saved-model format and its one reader (hpa_sklearn._io.model_folder.read_manifest): a
damaged manifest, an unknown key, a file whose content changed or a path that leaves the folder is
a ModelFolderError naming the file and the key. Real folders in tmp_path; no Keras."""

import json

import pytest

from hpa_sklearn._io.model_folder import MANIFEST, MODEL_FILE, read_manifest, write_manifest
from hpa_sklearn._io.ownership import file_digest, owned_kind
from hpa_sklearn.exceptions import InputError, ModelFolderError

ESTIMATOR = {"class": "HPAClassifier", "params": {"epochs": 2, "threshold": 0.5},
             "fitted": {"classes_": list(range(28))}}


def _model_folder(path, *, members=(), kind="model", content=b"PK\x03\x04 a network"):
    path.mkdir(parents=True)
    (path / MODEL_FILE).write_bytes(content)
    for member in members:
        _model_folder(path / member, content=member.encode())
    write_manifest(path, estimator=ESTIMATOR, kind=kind, members=members)
    return path


def _edit_manifest(folder, edit):
    path = folder / MANIFEST
    document = json.loads(path.read_text())
    edit(document)
    path.write_text(json.dumps(document))
    return path


def _refusal(folder, **kwargs):
    with pytest.raises(ModelFolderError) as info:
        read_manifest(folder, **kwargs)
    assert isinstance(info.value, InputError) and isinstance(info.value, ValueError)
    return str(info.value)


def test_a_written_folder_reads_back_with_its_files_and_members(tmp_path):
    folder = _model_folder(tmp_path / "model", members=("fold-1", "fold-2"), kind="checkpoint")
    manifest = read_manifest(folder)
    assert manifest["format"] == "hpa-sklearn" and manifest["version"] == 1
    assert manifest["kind"] == "checkpoint" and manifest["estimator"] == ESTIMATOR
    assert manifest["members"] == ["fold-1", "fold-2"]
    assert manifest["files"] == {MODEL_FILE: {"bytes": len(b"PK\x03\x04 a network"),
                                              "sha256": file_digest(folder / MODEL_FILE)}}
    assert read_manifest(folder / "fold-2")["files"][MODEL_FILE]["bytes"] == len(b"fold-2")
    assert owned_kind(folder) == "checkpoint"


def test_damaged_json_is_refused_naming_the_manifest(tmp_path):
    folder = _model_folder(tmp_path / "model")
    (folder / MANIFEST).write_text('{"format": "hpa-sklearn", ')
    message = _refusal(folder)
    assert message.startswith(f"{folder / MANIFEST} cannot be read as JSON"), message
    (folder / MANIFEST).write_bytes(b"\xff\xfe not utf-8")
    assert str(folder / MANIFEST) in _refusal(folder)


@pytest.mark.parametrize("damage, key", [
    (lambda m: m.pop("estimator"), "estimator: missing"),
    (lambda m: m["estimator"].pop("class"), "estimator.class: missing"),
    (lambda m: m.update(speed=1), "speed: unknown key"),
    (lambda m: m["estimator"].update(weights="w.h5"), "estimator.weights: unknown key"),
    (lambda m: m.update(format="keras"), "format: 'keras', expected 'hpa-sklearn'"),
    (lambda m: m.update(version=2), "version: 2 is above 1"),
    (lambda m: m.update(version="1"), "version: '1' is not an integer"),
    (lambda m: m.update(kind="report"), "kind: 'report' is not one of ['checkpoint', 'model']"),
    (lambda m: m["estimator"].update(params=[2]), "estimator.params: [2] is not an object"),
    (lambda m: m["files"][MODEL_FILE].update(bytes=-1), f"files.{MODEL_FILE}.bytes: -1 is below"),
    (lambda m: m["files"][MODEL_FILE].update(sha256="abc"), f"files.{MODEL_FILE}.sha256:"),
    (lambda m: m.update(members=["fold-0"]), "members[0]: 'fold-0' is not a valid value"),
    (lambda m: m.update(members=["fold-1", "fold-1"]), "members: names a member twice"),
    (lambda m: m.update(run="train"), "run: "),
])
def test_a_defective_manifest_is_refused_naming_the_file_and_the_key(tmp_path, damage, key):
    folder = _model_folder(tmp_path / "model")
    path = _edit_manifest(folder, damage)
    message = _refusal(folder)
    assert message.startswith(f"{path}: {key}"), message
    assert "damaged or was not written by hpa-sklearn" in message


def test_a_file_whose_content_changed_is_refused_naming_it(tmp_path):
    folder = _model_folder(tmp_path / "model", content=b"0123456789")
    (folder / MODEL_FILE).write_bytes(b"0123456780")  # the same size, another digest
    message = _refusal(folder)
    assert message.startswith(f"{folder / MODEL_FILE}: its content differs from what "
                              f"{MANIFEST} recorded"), message
    (folder / MODEL_FILE).write_bytes(b"0123456789 and more")  # another size
    assert _refusal(folder).startswith(f"{folder / MODEL_FILE}: its content differs")
    assert read_manifest(folder, verify=False)["kind"] == "model"  # verify=False reads only
    (folder / MODEL_FILE).write_bytes(b"0123456789")
    assert read_manifest(folder)["kind"] == "model"


def test_a_missing_file_or_member_or_a_link_in_their_place_is_refused(tmp_path):
    folder = _model_folder(tmp_path / "model", members=("fold-1",), content=b"net")
    (folder / MODEL_FILE).unlink()
    message = _refusal(folder)
    assert message.startswith(f"{folder / MODEL_FILE}: missing (listed in {MANIFEST})"), message
    # a link to identical bytes elsewhere is not the folder's own file
    (tmp_path / "elsewhere.keras").write_bytes(b"net")
    (folder / MODEL_FILE).symlink_to(tmp_path / "elsewhere.keras")
    assert _refusal(folder).startswith(f"{folder / MODEL_FILE}: missing")
    (folder / MODEL_FILE).unlink()
    (folder / MODEL_FILE).write_bytes(b"net")
    assert read_manifest(folder)["members"] == ["fold-1"]
    import shutil

    shutil.rmtree(folder / "fold-1")
    assert _refusal(folder).startswith(f"{folder / 'fold-1'}: member folder missing")


@pytest.mark.parametrize("name", ["../outside.bin", "/etc/hostname", "sub/model.keras", "..",
                                  ".hidden", "", MANIFEST])
def test_a_file_path_that_leaves_the_folder_is_refused(tmp_path, name):
    folder = _model_folder(tmp_path / "model")
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"secret")
    listed = {"bytes": outside.stat().st_size, "sha256": file_digest(outside)}
    path = _edit_manifest(folder, lambda m: m["files"].update({name: listed}))
    message = _refusal(folder)
    assert message.startswith(f"{path}: files.{name}: not a plain file name inside the folder"), \
        message


@pytest.mark.parametrize("member", ["../other", "/tmp", "fold-1/../..", "estimator/x", "FOLD-1"])
def test_a_member_path_that_leaves_the_folder_is_refused(tmp_path, member):
    folder = _model_folder(tmp_path / "model", members=("fold-1",))
    _model_folder(tmp_path / "other")
    path = _edit_manifest(folder, lambda m: m.update(members=[member]))
    message = _refusal(folder)
    assert message.startswith(f"{path}: members[0]: {member!r} is not a valid value"), message


def test_what_is_not_a_model_folder_is_named(tmp_path):
    assert "does not exist" in _refusal(tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    assert _refusal(tmp_path / "file").startswith(f"{tmp_path / 'file'} is not a folder")
    (tmp_path / "plain").mkdir()
    message = _refusal(tmp_path / "plain")
    assert f"holds no {MANIFEST}" in message and str(tmp_path / "plain") in message


def test_write_manifest_refuses_what_the_reader_would_refuse(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / MODEL_FILE).write_bytes(b"net")
    with pytest.raises(ValueError, match="estimator.class: missing"):
        write_manifest(folder, estimator={"params": {}})
    with pytest.raises(ValueError, match="kind: 'report'"):
        write_manifest(folder, estimator=ESTIMATOR, kind="report")
    assert not (folder / MANIFEST).exists()


# ----------------------------------------------------------------------------- 0.1 folders
def _legacy_classifier(path, **changes):
    path.mkdir()
    state = {"format": 3, "class": "HPAVGG16Classifier", "params": {"epochs": 2}, "fitted": {}}
    state.update(changes)
    (path / "estimator.json").write_text(json.dumps(state))
    (path / MODEL_FILE).write_bytes(b"net")
    return path


def test_a_0_1_folder_reads_as_a_legacy_manifest(tmp_path):
    folder = _legacy_classifier(tmp_path / "old")
    (folder / "hpa_model.json").write_text(json.dumps(
        {"format": 1, "class_names": ["x"] * 28, "image_size": 32, "thresholds": "0.5"}))
    manifest = read_manifest(folder)
    assert manifest["legacy"] is True and manifest["library"] == "0.1"
    assert manifest["estimator"]["class"] == "HPAVGG16Classifier"
    assert manifest["run"] == {"image_size": 32, "thresholds": "0.5"}
    assert manifest["files"][MODEL_FILE]["sha256"] == file_digest(folder / MODEL_FILE)


@pytest.mark.parametrize("changes, file, key", [
    ({"speed": 1}, "estimator.json", "speed: unknown key"),
    ({"format": 9}, "estimator.json", "format: 9 is not a save format"),
    ({"params": "epochs=2"}, "estimator.json", "params/fitted: expected objects"),
    ({"run_format": 9}, "hpa_model.json", "format: not a model record of hpa-sklearn 0.1"),
])
def test_a_damaged_0_1_folder_is_refused_naming_the_file_and_the_key(tmp_path, changes, file,
                                                                     key):
    if "run_format" in changes:
        folder = _legacy_classifier(tmp_path / "old")
        (folder / "hpa_model.json").write_text(json.dumps({"format": changes["run_format"]}))
    else:
        folder = _legacy_classifier(tmp_path / "old", **changes)
    message = _refusal(folder)
    assert message.startswith(f"{folder / file}: {key}"), message
