"""What belongs to the library (hpa_sklearn._io.ownership): folders by their manifest, files by an
extended attribute holding their digest, and the output checks that refuse everything else before
any work: the current folder, its parents, the root, a user's folder or file, an input."""

import json
import os

import pytest

from hpa_sklearn._io.atomic import atomic_folder, atomic_path, atomic_write_text
from hpa_sklearn._io.ownership import (
    FILE_MARK,
    MARKER,
    check_output_file,
    check_output_folder,
    is_owned_file,
    mark_file,
    owned_kind,
    replaceable,
    write_marker,
)
from hpa_sklearn.exceptions import HPASklearnError, OutputRefusedError


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A current folder two levels below tmp_path (so that it has parents inside tmp_path)."""
    folder = tmp_path / "home" / "work"
    folder.mkdir(parents=True)
    monkeypatch.chdir(folder)
    return folder


@pytest.fixture
def xattrs(tmp_path):
    """Skips where tmp_path's file system keeps no user extended attributes (no file is then
    taken for the library's, which other tests check)."""
    probe = tmp_path / "xattr-probe"
    probe.write_bytes(b"")
    try:
        os.setxattr(probe, "user.probe", b"1")
    except (OSError, AttributeError) as exc:
        pytest.skip(f"no user extended attributes on {tmp_path}'s file system: {exc}")
    finally:
        probe.unlink()


def _library_folder(path, kind="report", files=("index.html",), members=()):
    path.mkdir(parents=True)
    for name in files:
        (path / name).write_text(f"content of {name}")
    for member in members:
        (path / member).mkdir()
        write_marker(path / member, "model")
    write_marker(path, kind, members=members)
    return path


def _refused(call, *args, **kwargs):
    with pytest.raises(OutputRefusedError) as info:
        call(*args, **kwargs)
    assert isinstance(info.value, FileExistsError) and isinstance(info.value, HPASklearnError)
    return str(info.value)


# ----------------------------------------------------------------------------- owned_kind
def test_owned_kind_of_a_library_folder_and_of_everything_else(tmp_path):
    report = _library_folder(tmp_path / "report", "report", files=("a.html", "b.png"))
    assert owned_kind(report) == "report"
    model = _library_folder(tmp_path / "ens", "model", files=(), members=("fold-1", "fold-2"))
    assert owned_kind(model) == "model"  # listed member folders are its own
    user = tmp_path / "user"
    user.mkdir()
    (user / "notes.txt").write_text("mine")
    (tmp_path / "empty").mkdir()
    (tmp_path / "file.txt").write_text("x")
    for path in (user, tmp_path / "empty", tmp_path / "file.txt", tmp_path / "missing"):
        assert owned_kind(path) is None, path
    (tmp_path / "link").symlink_to(report, target_is_directory=True)
    assert owned_kind(tmp_path / "link") is None  # a link to our folder is not ours to replace


def test_a_library_folder_holding_anything_unlisted_is_not_the_librarys(tmp_path):
    report = _library_folder(tmp_path / "report")
    (report / "my-notes.txt").write_text("the user's")
    assert owned_kind(report) is None
    (report / "my-notes.txt").unlink()
    assert owned_kind(report) == "report"
    (report / "subfolder").mkdir()
    assert owned_kind(report) is None


@pytest.mark.parametrize("manifest", [
    "{broken", "[]", json.dumps({"format": "other-tool", "kind": "report"}),
    json.dumps({"format": "hpa-sklearn", "kind": 3}), json.dumps({"kind": "report"}),
])
def test_a_damaged_or_foreign_manifest_is_not_the_librarys(tmp_path, manifest):
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / MARKER).write_text(manifest)
    assert owned_kind(folder) is None


def test_folders_of_version_0_1_are_recognised(tmp_path, monkeypatch):
    # as in a fresh process where nothing has imported the 0.1 reader yet (the CLI checks its
    # outputs before it reads any model)
    import sys

    from hpa_sklearn import _io
    from hpa_sklearn._io import ownership

    monkeypatch.setattr(ownership, "_LEGACY_KINDS", {})
    monkeypatch.delitem(sys.modules, "hpa_sklearn._io.legacy", raising=False)
    monkeypatch.delattr(_io, "legacy", raising=False)
    classifier = tmp_path / "clf"
    classifier.mkdir()
    (classifier / "estimator.json").write_text("{}")
    (classifier / "model.keras").write_bytes(b"zip")
    assert owned_kind(classifier) == "model"
    (classifier / "training.json").write_text("{}")
    assert owned_kind(classifier) == "checkpoint"
    ensemble = tmp_path / "ens"
    (ensemble / "fold-1").mkdir(parents=True)
    (ensemble / "ensemble.json").write_text("{}")
    assert owned_kind(ensemble) == "model"
    (ensemble / "data.csv").write_text("Id,Target\n")  # not a file 0.1 wrote
    assert owned_kind(ensemble) is None


def test_replaceable_accepts_the_named_kinds_only(tmp_path):
    report = _library_folder(tmp_path / "report", "report")
    assert replaceable("report")(report) and replaceable({"search", "report"})(report)
    assert not replaceable("model")(report)
    user = tmp_path / "user"
    user.mkdir()
    (user / "notes.txt").write_text("mine")
    assert not replaceable("report")(user)
    with pytest.raises(OutputRefusedError, match="notes.txt"):
        with atomic_folder(user, replaceable=replaceable("report")) as tmp:
            (tmp / "index.html").write_text("new")
    assert sorted(p.name for p in user.iterdir()) == ["notes.txt"]
    assert [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name] == []


# ----------------------------------------------------------------------------- output folders
@pytest.mark.parametrize("path, reason", [
    (".", "is the current folder"),
    ("", "path is empty"),
    ("  ", "path is empty"),
    ("..", "is a parent of the current folder"),
    ("../..", "is a parent of the current folder"),
    ("sub/../..", "is a parent of the current folder"),
    ("/", "is the root of the file system"),
])
def test_an_output_never_takes_the_current_folder_its_parents_or_the_root(work, path, reason):
    for check in (lambda p: check_output_folder(p, kinds="model", option="--out"),
                  lambda p: check_output_file(p, option="--out", overwrite=True)):
        message = _refused(check, path)
        assert reason in message, message
    assert sorted(os.listdir(work)) == []


def test_the_current_folder_and_its_parents_are_refused_by_absolute_path_too(work):
    for path in (work, work.parent, work.parent.parent):
        message = _refused(check_output_folder, str(path), kinds="model")
        assert str(path) in message


def test_a_new_or_empty_folder_may_be_written(work):
    assert check_output_folder("out", kinds="model") == work / "out"
    assert check_output_folder(work / "a" / "b", kinds="model") == work / "a" / "b"
    (work / "empty").mkdir()
    assert check_output_folder("empty", kinds="model") == work / "empty"


def test_a_users_non_empty_folder_is_refused_naming_what_it_holds(work):
    user = work / "results"
    user.mkdir()
    (user / "thesis.tex").write_text("months of work")
    (user / "figures").mkdir()
    message = _refused(check_output_folder, "results", kinds="model", option="--out",
                       what="model folder")
    assert message.startswith("--out results exists and holds files that hpa-sklearn did not "
                              "write (figures, thesis.tex)"), message
    assert (user / "thesis.tex").read_text() == "months of work"


def test_a_library_folder_is_replaceable_by_the_same_kind_only(work):
    _library_folder(work / "report", "report")
    assert check_output_folder("report", kinds="report") == work / "report"
    assert check_output_folder("report", kinds=("search", "report")) == work / "report"
    message = _refused(check_output_folder, "report", kinds="model", what="model folder")
    assert "is an hpa-sklearn report folder, not a model folder" in message
    (work / "report" / "notes.txt").write_text("added by the user")
    message = _refused(check_output_folder, "report", kinds="report")
    assert "did not write" in message and "notes.txt" in message


def test_a_file_where_a_folder_is_wanted_is_refused_and_a_link_is_judged_by_its_target(work):
    (work / "model").write_text("a file")
    assert "exists and is not a folder" in _refused(check_output_folder, "model", kinds="model")
    (work / "target").mkdir()
    (work / "link").symlink_to(work / "target", target_is_directory=True)
    # the link is resolved: what would be written is the folder it points to (empty: allowed)
    assert check_output_folder("link", kinds="model") == work / "target"
    (work / "target" / "data.csv").write_text("the user's")
    assert "data.csv" in _refused(check_output_folder, "link", kinds="model")
    (work / "file-link").symlink_to(work / "model")
    assert "exists and is not a folder" in _refused(check_output_folder, "file-link",
                                                     kinds="model")


def test_an_output_folder_is_never_an_input_nor_holds_one(work):
    data = work / "data"
    (data / "train").mkdir(parents=True)
    (data / "train.csv").write_text("Id,Target\n")
    message = _refused(check_output_folder, "data", kinds="model", option="--out",
                       inputs=[data])
    assert "is an input of this command" in message
    # an output folder that holds an input (it would be replaced as a whole)
    assert "is an input" in _refused(check_output_folder, "data", kinds="model",
                                     inputs=[data / "train.csv"])
    # inside a library folder that the command reads (a model given to predict): refused
    model = _library_folder(work / "model", "model", files=("model.keras",))
    message = _refused(check_output_folder, "model/out", kinds="report", inputs=[model])
    assert "lies inside" in message and "a folder of the library's that this command reads" in \
        message
    # beside or inside a user's input folder is fine; None inputs are ignored
    assert check_output_folder("data/predictions", kinds="report", inputs=[data, None]) == \
        data / "predictions"


# ----------------------------------------------------------------------------- output files
def test_a_users_file_is_replaced_only_with_overwrite(work):
    (work / "submission.csv").write_text("Id,Predicted\nmine,0\n")
    message = _refused(check_output_file, "submission.csv", option="--out")
    assert message.startswith("--out submission.csv exists and was not written by hpa-sklearn")
    assert "(--overwrite)" in message
    assert "(overwrite=True)" in _refused(check_output_file, "submission.csv")
    assert check_output_file("submission.csv", overwrite=True) == work / "submission.csv"
    assert (work / "submission.csv").read_text() == "Id,Predicted\nmine,0\n"
    assert check_output_file("new.csv") == work / "new.csv"


def test_an_output_file_is_never_an_input_even_with_overwrite(work):
    (work / "train.csv").write_text("Id,Target\n")
    message = _refused(check_output_file, "train.csv", option="--out", overwrite=True,
                       inputs=[work / "train.csv"])
    assert "is an input of this command" in message
    # a file beside an input folder is no input
    (work / "data").mkdir()
    assert check_output_file("data.csv", inputs=[work / "data"]) == work / "data.csv"


def test_an_output_file_is_not_a_folder_nor_inside_a_library_folder(work):
    (work / "out").mkdir()
    assert "is a folder" in _refused(check_output_file, "out", overwrite=True)
    _library_folder(work / "report", "report")
    message = _refused(check_output_file, "report/extra.csv", overwrite=True)
    assert "lies inside" in message and "a folder hpa-sklearn wrote (report)" in message
    assert sorted(p.name for p in (work / "report").iterdir()) == ["hpa-sklearn.json",
                                                                   "index.html"]


def test_a_file_the_library_wrote_is_replaceable_until_someone_edits_it(work, xattrs):
    path = work / "submission.csv"
    atomic_write_text(path, "Id,Predicted\na,0\n")
    assert is_owned_file(path)
    assert check_output_file("submission.csv") == path
    with open(path, "a") as handle:  # the user edits it: theirs now
        handle.write("b,1\n")
    assert not is_owned_file(path)
    assert "was not written by hpa-sklearn" in _refused(check_output_file, "submission.csv")


# ----------------------------------------------------------------------------- file marks
def test_the_file_mark_is_the_digest_of_the_content(tmp_path, xattrs):
    import hashlib

    path = tmp_path / "plot.png"
    path.write_bytes(b"\x89PNG data")
    assert not is_owned_file(path)  # written by someone else
    mark_file(path)
    assert os.getxattr(path, FILE_MARK).decode() == hashlib.sha256(b"\x89PNG data").hexdigest()
    assert is_owned_file(path)
    path.write_bytes(b"\x89PNG DATA")  # same size, other content
    assert not is_owned_file(path)
    os.setxattr(path, FILE_MARK, b"not a digest")
    assert not is_owned_file(path)
    assert not is_owned_file(tmp_path / "missing.png")
    assert not is_owned_file(tmp_path)


def test_atomic_writes_mark_what_they_publish_unless_told_not_to(tmp_path, xattrs):
    marked = atomic_write_text(tmp_path / "a.csv", "x\n")
    assert is_owned_file(marked)
    with atomic_path(tmp_path / "b.csv", mark=False) as tmp:
        tmp.write_text("y\n")
    assert (tmp_path / "b.csv").read_text() == "y\n" and not is_owned_file(tmp_path / "b.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "b.csv"]
