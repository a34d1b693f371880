"""The readers of the data layer on bad input: strict CSV parsing (label files, templates,
submissions), image folders whose first samples lack files, oversized and mismatched images, and
errors raised in decoding workers. Ends with property-based fuzzing of the two CSV readers."""

import csv
import io
import struct
import time
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joblib import Parallel, delayed
from PIL import Image

from hpa_sklearn.datasets import (
    CHANNELS,
    labels_to_indicator,
    read_label_csv,
    read_submission,
    write_kaggle_layout,
    write_submission,
)
from hpa_sklearn.datasets import _kaggle
from hpa_sklearn.datasets._images import ImageFileError


from kaggle_helpers import load as _load  # noqa: E402
from kaggle_helpers import random_images as _images  # noqa: E402
from kaggle_helpers import random_labels as _labels  # noqa: E402


def _write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


# ----------------------------------------------------------------------------- strict CSV
def test_submission_with_trailing_commas_is_an_error(tmp_path):
    """Rows ``a,1,`` used to be read shifted: the labels came back as ids, with empty labels."""
    path = _write(tmp_path / "sub.csv", "Id,Predicted\na,1,\nb,2,\n")
    with pytest.raises(ValueError, match=r"sub\.csv, line 2: 3 field\(s\).*trailing comma"):
        read_submission(path)


def test_label_csv_with_trailing_commas_is_an_error(tmp_path):
    """The same shift in a label file used to be reported as a (misleading) duplicate Id."""
    path = _write(tmp_path / "train.csv", "Id,Target\na,1,\nb,1,\n")
    with pytest.raises(ValueError, match=r"train\.csv, line 2: 3 field\(s\).*trailing comma"):
        read_label_csv(path)


@pytest.mark.parametrize(
    "text, message",
    [
        ("Id,Target\na,1\nb\n", r"line 3: 1 field\(s\) where the header 'Id,Target' has 2"),
        ("Id,Target\na,1\nb,2,3,4\n", r"line 3: 4 field\(s\)"),
        ("Id,Target\na,1\n\nb,2\n", r"line 3: an empty line"),
        ('Id,Target\n"a"b,1\n', r"line 2: not a valid CSV row"),
        ('Id,Target\na,1\n"b,2\n', r"line 3: not a valid CSV row"),
        ("Id,Target\na,1 +2\n", r"line 2: malformed"),
        ("Id,Target\na,1_0\n", r"line 2: malformed"),
        ('Id,Target\n"a\nb",1\n', r"line 2: Id 'a\\nb'"),
        ("Id,Target,Target\na,1,2\n", r"line 1: column 'Target' appears twice"),
    ],
)
def test_label_csv_rows_must_match_the_header(tmp_path, text, message):
    path = _write(tmp_path / "labels.csv", text)
    with pytest.raises(ValueError, match=rf"labels\.csv, {message}"):
        read_label_csv(path)


@pytest.mark.parametrize("reader", [read_label_csv, read_submission])
def test_non_utf8_byte_names_file_and_line(tmp_path, reader):
    """A Latin-1 byte used to raise a bare UnicodeDecodeError that named neither file nor line."""
    header = b"Id,Target\n" if reader is read_label_csv else b"Id,Predicted\n"
    path = _write(tmp_path / "latin1.csv", header + b"a,1\ncaf\xe9,2\n")
    with pytest.raises(ValueError, match=r"latin1\.csv, line 3: not valid UTF-8 \(byte 0xe9"):
        reader(path)


def test_valid_variants_read_the_same(tmp_path):
    """BOM, CRLF, quotes, spaces between labels and blank lines at the end change nothing."""
    expected_ids, expected_Y = ["a", "b,c"], labels_to_indicator([[16, 0], [3]])
    variants = [
        'Id,Target\na,16 0\n"b,c",3\n',
        '\ufeffId,Target\r\na,0 16\r\n"b,c",3\r\n\r\n',
        '"Id","Target"\n"a","16  0"\n"b,c","3"',
        'Id,Target\na,16 0 16\n"b,c",3\n\n\n',
    ]
    for i, text in enumerate(variants):
        ids, Y = read_label_csv(_write(tmp_path / f"v{i}.csv", text))
        assert list(ids) == expected_ids, text
        np.testing.assert_array_equal(Y, expected_Y)


def test_line_numbers_count_physical_lines(tmp_path):
    path = _write(tmp_path / "t.csv", 'Id,Target\n"a",1\nb,2\na,3\n')
    with pytest.raises(ValueError, match=r"duplicate Id 'a' on lines \[2, 4\]"):
        read_label_csv(path)


def test_submission_keeps_empty_rows_and_checks_ids(tmp_path):
    ids, Y = read_submission(_write(tmp_path / "s.csv", "Id,Predicted\na,\nb,3 1\n"))
    assert list(ids) == ["a", "b"]
    assert Y[0].sum() == 0 and Y[1].nonzero()[0].tolist() == [1, 3]
    with pytest.raises(ValueError, match=r"s2\.csv: duplicate Id 'a' on lines \[2, 3\]"):
        read_submission(_write(tmp_path / "s2.csv", "Id,Predicted\na,1\na,2\n"))
    with pytest.raises(ValueError, match=r"s3\.csv, line 2: class id 28"):
        read_submission(_write(tmp_path / "s3.csv", "Id,Predicted\na,28\n"))


@pytest.mark.realdata
def test_real_train_csv_reads_fast(real_data_dir):
    """The full train.csv (31,072 rows) is read well under half a second."""
    import pandas as pd

    path = real_data_dir / "train.csv"
    best = np.inf
    for _ in range(3):
        start = time.perf_counter()
        ids, Y = read_label_csv(path)
        best = min(best, time.perf_counter() - start)
    frame = pd.read_csv(path, dtype=str)
    assert list(ids) == list(frame.Id)
    np.testing.assert_array_equal(Y, labels_to_indicator(list(frame.Target)))
    assert best < 0.5, f"reading {len(ids)} rows took {best:.2f} s"


# ----------------------------------------------------------------------------- submissions
def test_duplicate_id_in_template_sequence_is_named(tmp_path):
    """It used to say '0 predicted id(s) are not in the template, e.g. []'."""
    Y = _labels(2)
    with pytest.raises(ValueError, match=r"template holds Id 'a' twice \(at positions 0 and 2\)"):
        write_submission(tmp_path / "s.csv", ["a", "b"], Y, template=["a", "b", "a"])
    with pytest.raises(ValueError, match=r"ids holds Id 'b' twice"):
        write_submission(tmp_path / "s.csv", ["b", "b"], Y)


@pytest.mark.parametrize("writer", ["submission", "kaggle_layout"])
def test_csv_writers_are_atomic(tmp_path, monkeypatch, writer):
    """The CSV is written under a temporary name and renamed: a crash before the rename leaves
    the previous file as it was, and no temporary file behind."""
    from hpa_sklearn._io import atomic as _atomic

    path = tmp_path / ("submission.csv" if writer == "submission" else "d/train.csv")

    def write():
        if writer == "submission":
            write_submission(path, ["a"], _labels(1))
        else:
            write_kaggle_layout(tmp_path / "d", _images(1, 32), ["a"], _labels(1))
    write()
    before = path.read_bytes()
    made = []
    original = _atomic.temporary_path
    monkeypatch.setattr(_atomic, "temporary_path", lambda p: made.append(p) or original(p))

    def crash(_):
        raise KeyboardInterrupt

    monkeypatch.setattr(_atomic, "fsync_file", crash)
    with pytest.raises(KeyboardInterrupt):
        write()
    assert path in made
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir() if ".tmp-" in p.name] == []


# ----------------------------------------------------------------------------- image folders
def test_skip_when_the_first_ids_have_no_files(kaggle_folder, tmp_path):
    """The image folder used to be recognised from the first id alone."""
    folder, X, Y, ids = kaggle_folder
    for sample_id in ids[:2]:
        for channel in CHANNELS:
            (folder / "train" / f"{sample_id}_{channel}.png").unlink()
    with pytest.warns(UserWarning, match="skipped 2 of 6"):
        data = _load(folder, tmp_path, missing="skip")
    assert list(data.ids) == ids[2:]
    np.testing.assert_array_equal(data.images, X[2:])
    np.testing.assert_array_equal(data.target, Y[2:])
    with pytest.raises(FileNotFoundError, match=f"'{ids[0]}' has no red, green, blue, yellow"):
        _load(folder, tmp_path)
    # no id has files: still the clear error
    for path in (folder / "train").iterdir():
        path.unlink()
    with pytest.raises(FileNotFoundError, match="no image folder holding any of id00_green"):
        _load(folder, tmp_path, missing="skip")


def _chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_claiming(width, height):
    """A valid PNG header claiming ``width x height`` 8-bit grey pixels, with one tiny IDAT."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + _chunk(b"IEND", b""))


@pytest.mark.parametrize("n_jobs", [None, 2])
def test_decompression_bomb_is_an_image_file_error(kaggle_folder, tmp_path, n_jobs):
    """Pillow's DecompressionBombError used to escape (not a ValueError, no file name)."""
    folder, _, _, ids = kaggle_folder
    bomb = _write(folder / "train" / f"{ids[3]}_green.png", _png_claiming(60000, 60000))
    with pytest.raises(ImageFileError) as caught:
        _load(folder, tmp_path, n_jobs=n_jobs, cache=False)
    message = str(caught.value)
    assert str(bomb) in message and "60000x60000 px" in message
    assert "MAX_IMAGE_PIXELS" in message and "missing='skip'" in message


@pytest.mark.parametrize("n_jobs", [None, 2])
def test_channel_of_another_size_is_an_error(kaggle_folder, tmp_path, n_jobs):
    """A channel file of another size than its siblings used to be resized without a word."""
    folder, _, _, ids = kaggle_folder
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(folder / "train" / f"{ids[2]}_blue.png")
    with pytest.raises(ImageFileError) as caught:
        _load(folder, tmp_path, n_jobs=n_jobs, cache=False)
    message = str(caught.value)
    assert f"Id '{ids[2]}'" in message
    for channel, size in zip(CHANNELS, (48, 48, 32, 48)):
        assert f"{channel} {size}x{size}" in message
    # one channel alone has nothing to disagree with
    data = _load(folder, tmp_path, channels=("blue",), image_size=32, cache=False)
    assert data.images.shape == (6, 32, 32, 1)


def test_vanished_file_is_a_file_not_found_error_from_workers(kaggle_folder, tmp_path):
    """A file deleted between the listing and the decoding is a FileNotFoundError naming it,
    also when it happens in a worker process (it used to be called a corrupt image)."""
    folder, _, _, ids = kaggle_folder
    array = tmp_path / "out.npy"
    np.lib.format.open_memmap(array, mode="w+", dtype=np.uint8, shape=(2, 32, 32, 4))
    paths = [[str(folder / "train" / f"{i}_{c}.png") for c in CHANNELS] for i in ids[:2]]
    gone = folder / "train" / f"{ids[1]}_yellow.png"
    gone.unlink()
    with pytest.raises(FileNotFoundError, match=f"{gone}: the channel file vanished"):
        Parallel(n_jobs=2)(
            delayed(_kaggle._decode_rows)(str(array), [row], [paths[row]], CHANNELS, 32)
            for row in range(2)
        )


# ----------------------------------------------------------------------------- fuzzing
# Valid files are generated with their expected content; corruptions are applied that a strict
# reader must report. The property: a valid file reads back exactly as generated, a corrupted one
# raises a ValueError naming the file (and the line, where the corruption has one); nothing else.
# Each corruption gets its own examples (hypothesis' own choice among them is far from even).
_VALID_EXAMPLES, _CORRUPT_EXAMPLES = 40, 12

_ID = st.text("abcdef0123456789-_ ,", min_size=1, max_size=10).filter(lambda s: s == s.strip())
_BAD_LABELS = ["28", "-1", "x", "1.0", "+1", "1_0", "1,", "\u0663", "99999999999999999999",
               "1" * 5000, "0 28", "3 x"]
_BAD_IDS = ["", " a", "a ", "a/b", "..", "a\\b", "a\tb", 'a"b', "a\x00b", "a\ufeffb"]
_STRUCTURAL = ["extra", "missing", "empty_line", "bad_labels", "bad_id", "duplicate", "header"]
_BYTES = ["bad_byte", "bom", "quote"]


@st.composite
def _csv_cases(draw, kind, corruption):
    """``(data, expected, line)``: the file's bytes, the expected ``(ids, Y)`` (None for a
    corrupted file) and the line the error must name (None where it has no single line)."""
    min_ids = 2 if corruption == "duplicate" else 1
    ids = draw(st.lists(_ID, min_size=min_ids, max_size=8, unique=True))
    min_labels = 0 if kind == "submission" else 1
    labels = [draw(st.lists(st.integers(0, 27), min_size=min_labels, max_size=4)) for _ in ids]
    template = kind == "labels" and draw(st.booleans())
    header = ["Id", "Predicted"] if kind == "submission" or template else ["Id", "Target"]
    sep = draw(st.sampled_from([" ", "  "]))
    rows = [[i, sep.join(map(str, draw(st.permutations(cell))))] for i, cell in zip(ids, labels)]
    Y = np.zeros((len(ids), 28), dtype=np.uint8)
    for r, cell in enumerate(labels):
        Y[r, cell] = 1
    expected = (ids, None if template else Y)
    line = None

    if corruption in _STRUCTURAL:
        expected = None
        r = draw(st.integers(0, len(rows) - 1))
        line = r + 2
        if corruption == "extra":
            rows[r] = rows[r] + [draw(st.sampled_from(["", "x", "1"]))]
        elif corruption == "missing":
            rows[r] = rows[r][:1]
        elif corruption == "empty_line":
            rows.insert(r, [])
        elif corruption == "bad_labels":
            rows[r][1] = draw(st.sampled_from(_BAD_LABELS))
        elif corruption == "bad_id":
            rows[r][0] = draw(st.sampled_from(_BAD_IDS))
        elif corruption == "duplicate":
            r = draw(st.integers(1, len(rows) - 1))
            first = draw(st.integers(0, r - 1))
            rows[r][0] = rows[first][0]
            line = None
        elif corruption == "header":
            header = draw(st.sampled_from([["Id", "Targt"], ["ID", header[1]], [],
                                           header + ["Extra"], ["Id", "Id"]]))
            line = None

    buffer = io.StringIO()
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    writer = csv.writer(buffer, quoting=quoting, lineterminator=newline)
    writer.writerow(header)
    writer.writerows(rows)
    text = buffer.getvalue()
    blank_lines = draw(st.integers(0, 2))
    if not blank_lines and draw(st.booleans()):
        text = text[: -len(newline)]
    text += newline * blank_lines
    data = text.encode("utf-8")

    if corruption in _BYTES:
        expected, line = None, None
        at = draw(st.integers(1 if corruption == "bom" else 0, len(data)))
        insert = {"bad_byte": draw(st.sampled_from([b"\xff", b"\x80", b"\xc3", b"\xed\xa0\x80"])),
                  "bom": "\ufeff".encode(), "quote": b'"'}[corruption]
        data = data[:at] + insert + data[at:]
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data
    return data, expected, line


def _check_outcome(reader, path, data, expected, line):
    path.write_bytes(data)
    try:
        ids, Y = reader(path)
    except ValueError as exc:
        message = str(exc)
        assert not isinstance(exc, UnicodeDecodeError), message
        assert expected is None, f"a valid file was refused: {message}\n{data!r}"
        assert str(path) in message, message
        if line is not None:
            assert f"line {line}" in message, (message, data)
        return
    assert expected is not None, f"a corrupted file was read without an error:\n{data!r}"
    assert list(ids) == expected[0] and ids.dtype == object
    if expected[1] is None:
        assert Y is None
    else:
        np.testing.assert_array_equal(Y, expected[1])


def _fuzz(reader, kind, path, corruption):
    @settings(max_examples=_CORRUPT_EXAMPLES if corruption else _VALID_EXAMPLES, deadline=None,
              derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(case=_csv_cases(kind, corruption))
    def run(case):
        _check_outcome(reader, path, *case)

    run()


@pytest.mark.parametrize("corruption", [None, *_STRUCTURAL, *_BYTES])
def test_fuzz_read_label_csv(tmp_path, corruption):
    _fuzz(read_label_csv, "labels", tmp_path / "fuzz_train.csv", corruption)


@pytest.mark.parametrize("corruption", [None, *_STRUCTURAL, *_BYTES])
def test_fuzz_read_submission(tmp_path, corruption):
    _fuzz(read_submission, "submission", tmp_path / "fuzz_submission.csv", corruption)
