"""The data layer: Kaggle-layout loader, cache, HPAv18/TIFF formats, submissions, bad input."""

import os
import warnings

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from hpa_sklearn.datasets import (
    CHANNELS,
    CLASS_NAMES,
    indicator_to_labels,
    labels_to_indicator,
    load_hpa,
    read_submission,
    write_kaggle_layout,
    write_submission,
)
from hpa_sklearn.datasets import _kaggle
from hpa_sklearn.datasets._cache import CacheEntry


from kaggle_helpers import load as _load  # noqa: E402
from kaggle_helpers import random_images as _images  # noqa: E402
from kaggle_helpers import random_labels as _labels  # noqa: E402


def test_constants():
    assert len(CLASS_NAMES) == 28
    assert CLASS_NAMES[0] == "Nucleoplasm" and CLASS_NAMES[27] == "Rods & rings"
    assert CHANNELS == ("red", "green", "blue", "yellow")


def test_label_string_round_trip():
    Y = labels_to_indicator([[16, 0], "7 1 2 0", [27]])
    assert Y.shape == (3, 28) and Y.dtype == np.uint8
    assert indicator_to_labels(Y) == ["0 16", "0 1 2 7", "27"]
    with pytest.raises(ValueError, match="outside 0..27"):
        labels_to_indicator([[28]])


def test_load_round_trip_bunch_and_return_X_y(kaggle_folder, tmp_path):
    folder, X, Y, ids = kaggle_folder
    data = _load(folder, tmp_path)
    assert set(data) >= {"images", "target", "ids", "target_names", "channels", "DESCR"}
    assert data.images.dtype == np.uint8 and data.images.shape == X.shape
    np.testing.assert_array_equal(data.images, X)
    np.testing.assert_array_equal(data.target, Y)
    assert list(data.ids) == ids and data.target_names == list(CLASS_NAMES)
    X2, Y2 = _load(folder, tmp_path, return_X_y=True)
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(Y2, Y)


def test_channel_and_id_selection(kaggle_folder, tmp_path):
    folder, X, Y, ids = kaggle_folder
    data = _load(folder, tmp_path, channels=("green", "red"), ids=[ids[3], ids[1]])
    np.testing.assert_array_equal(data.images, X[[3, 1]][..., [1, 0]])
    np.testing.assert_array_equal(data.target, Y[[3, 1]])
    assert data.channels == ["green", "red"]
    with pytest.raises(ValueError, match="not in"):
        _load(folder, tmp_path, ids=["nope"])
    with pytest.raises(ValueError, match="channels must be"):
        _load(folder, tmp_path, channels=("green", "purple"))


def test_template_without_labels_reads_test_folder(tmp_path):
    X = _images(3)
    write_kaggle_layout(tmp_path / "data", X, ["a", "b", "c"])  # sample_submission.csv + test/
    data = _load(tmp_path / "data", tmp_path, labels="sample_submission.csv")
    assert data.target is None
    np.testing.assert_array_equal(data.images, X)


def test_resize_averages_areas(tmp_path):
    # a one-pixel checkerboard of 0 and 255: area averaging to half size gives flat mid-grey,
    # whereas nearest-neighbour would keep only 0s or only 255s
    board = (np.indices((64, 64)).sum(axis=0) % 2 * 255).astype(np.uint8)
    X = np.repeat(board[None, :, :, None], 4, axis=3)
    write_kaggle_layout(tmp_path / "data", X, ["a"], _labels(1))
    data = _load(tmp_path / "data", tmp_path, image_size=32)
    assert data.images.shape == (1, 32, 32, 4)
    assert np.all(np.abs(data.images.astype(int) - 127.5) <= 1)


def test_parallel_decode_equals_serial(kaggle_folder, tmp_path):
    folder, X, _, _ = kaggle_folder
    serial = _load(folder, tmp_path, image_size=32, cache=False)
    parallel = _load(folder, tmp_path, image_size=32, cache=False, n_jobs=2)
    np.testing.assert_array_equal(serial.images, parallel.images)


def test_cache_reload_reads_no_image(kaggle_folder, tmp_path, monkeypatch):
    folder, X, _, _ = kaggle_folder
    first = _load(folder, tmp_path)
    assert isinstance(first.images, np.memmap) and not first.images.flags.writeable

    def fail(*args, **kwargs):
        raise AssertionError("an image was decoded although the cache holds the request")

    monkeypatch.setattr(_kaggle, "read_channel", fail)
    second = _load(folder, tmp_path)
    np.testing.assert_array_equal(second.images, X)
    # another size is another request: it must decode (and here fails loudly)
    with pytest.raises(AssertionError, match="decoded"):
        _load(folder, tmp_path, image_size=32)


def test_cache_follows_changed_source_files(kaggle_folder, tmp_path):
    folder, X, _, ids = kaggle_folder
    _load(folder, tmp_path)
    changed = np.full((48, 48), 7, dtype=np.uint8)
    path = folder / "train" / f"{ids[0]}_green.png"
    Image.fromarray(changed).save(path)
    os.utime(path, ns=(1, 1))  # a different modification time, whatever the clock
    again = _load(folder, tmp_path)
    np.testing.assert_array_equal(again.images[0, :, :, 1], changed)


def test_cache_without_commit_is_not_valid(tmp_path):
    entry = CacheEntry(tmp_path, "k")
    tmp = entry.create((2, 32, 32, 4))
    assert entry.load() is None  # a run killed before commit leaves nothing that loads
    entry.commit(tmp, {"shape": [2, 32, 32, 4]})
    assert entry.load() is not None
    entry.meta_path.write_text("{broken")
    assert entry.load() is None


def test_failed_decode_leaves_no_cache(kaggle_folder, tmp_path):
    folder, _, _, ids = kaggle_folder
    (folder / "train" / f"{ids[2]}_blue.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(ValueError, match=f"{ids[2]}_blue.png"):
        _load(folder, tmp_path)
    assert not list((tmp_path / "cache").glob("*.npy"))
    assert not list((tmp_path / "cache").glob(".*tmp"))


def test_no_cache_leaves_nothing(kaggle_folder, tmp_path):
    folder, X, _, _ = kaggle_folder
    data = _load(folder, tmp_path, cache=False)
    assert not isinstance(data.images, np.memmap)
    np.testing.assert_array_equal(data.images, X)
    assert not (tmp_path / "cache").exists()


# ----------------------------------------------------------------------------- bad input
def _write_csv(folder, text):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.csv").write_text(text)


@pytest.mark.parametrize(
    "csv, message",
    [
        ("", "empty"),
        ("Id,Target\n", "no rows"),
        ("Id,Target\nid00,1 x\n", r"line 2: malformed Target '1 x'"),
        ("Id,Target\nid00,3\nid01,28\n", r"line 3: class id 28 .* outside 0..27"),
        ("Id,Target\nid00,3\nid01,\n", r"line 3: empty Target"),
        ("Id,Target\nid00,3\nid01,4\nid00,5\n", r"duplicate Id 'id00' on lines \[2, 4\]"),
        ("Id,Target\n../x,3\n", r"line 2: Id '../x'"),
        ("Name,Target\na,1\n", "no 'Id' column"),
    ],
)
def test_bad_label_csv(tmp_path, csv, message):
    _write_csv(tmp_path / "data", csv)
    (tmp_path / "data" / "train").mkdir()
    with pytest.raises(ValueError, match=message):
        _load(tmp_path / "data", tmp_path)


def test_missing_channel_raises_or_skips(kaggle_folder, tmp_path):
    folder, X, Y, ids = kaggle_folder
    (folder / "train" / f"{ids[4]}_yellow.png").unlink()
    with pytest.raises(FileNotFoundError, match=f"'{ids[4]}' has no yellow"):
        _load(folder, tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = _load(folder, tmp_path, missing="skip")
    messages = [str(w.message) for w in caught if "skipped" in str(w.message)]
    assert len(messages) == 1 and "skipped 1 of 6" in messages[0]
    assert ids[4] not in list(data.ids)
    np.testing.assert_array_equal(data.images, np.delete(X, 4, axis=0))
    np.testing.assert_array_equal(data.target, np.delete(Y, 4, axis=0))


def test_truncated_png(kaggle_folder, tmp_path):
    folder, _, _, ids = kaggle_folder
    path = folder / "train" / f"{ids[1]}_red.png"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ValueError, match=f"{ids[1]}_red.png: cannot decode"):
        _load(folder, tmp_path)


@pytest.mark.parametrize(
    "array, mode, message",
    [
        (np.zeros((48, 48, 3), np.uint8), "RGB", "single-channel 8-bit"),
        (np.zeros((48, 48), np.uint16), "I;16", "single-channel 8-bit"),
        (np.zeros((48, 40), np.uint8), "L", "48x40|40x48"),
    ],
)
def test_wrong_kind_of_image(kaggle_folder, tmp_path, array, mode, message):
    folder, _, _, ids = kaggle_folder
    Image.fromarray(array, mode=mode if mode != "I;16" else None).save(
        folder / "train" / f"{ids[0]}_green.png"
    )
    with pytest.raises(ValueError, match=message):
        _load(folder, tmp_path)


def test_size_below_network_minimum(kaggle_folder, tmp_path):
    with pytest.raises(ValueError, match="image_size must be an integer >= 32"):
        _load(kaggle_folder[0], tmp_path, image_size=16)


def test_missing_csv_and_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="label file"):
        _load(tmp_path, tmp_path)
    _write_csv(tmp_path / "d", "Id,Target\na,1\n")
    with pytest.raises(FileNotFoundError, match="no image folder"):
        _load(tmp_path / "d", tmp_path)


# ----------------------------------------------------------------------------- other formats
def test_tiff_8_and_16_bit(tmp_path):
    folder = tmp_path / "tif"
    folder.mkdir()
    rng = np.random.default_rng(0)
    planes = {c: rng.integers(0, 256, (64, 64), dtype=np.uint8) for c in CHANNELS}
    for c, plane in planes.items():
        if c == "yellow":  # a 16-bit original: 257 * v maps back to v
            Image.fromarray((plane.astype(np.uint16) * 257)).save(folder / f"s1_{c}.tif")
        else:
            Image.fromarray(plane).save(folder / f"s1_{c}.tif")
    pd.DataFrame({"Id": ["s1"], "Target": ["0"]}).to_csv(folder / "labels.csv", index=False)
    data = _load(folder, tmp_path, labels="labels.csv", image_dir=".", image_size=64,
                 image_format="tif")
    for i, c in enumerate(CHANNELS):
        np.testing.assert_array_equal(data.images[0, :, :, i], planes[c])


def test_submission_round_trip_and_template_order(tmp_path):
    Y = _labels(3)
    Y[2] = 0  # an empty prediction is a valid (if losing) row
    out = write_submission(tmp_path / "s.csv", ["c", "a", "b"], Y, template=["a", "b", "c"])
    frame = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(frame.columns) == ["Id", "Predicted"] and list(frame.Id) == ["a", "b", "c"]
    ids, Y_back = read_submission(out)
    np.testing.assert_array_equal(Y_back, Y[[1, 2, 0]])
    with pytest.raises(ValueError, match="have no prediction"):
        write_submission(tmp_path / "s.csv", ["a", "b"], Y[:2], template=["a", "b", "c"])
    with pytest.raises(ValueError, match="not in the template"):
        write_submission(tmp_path / "s.csv", ["a", "b", "z"], Y, template=["a", "b"])
    with pytest.raises(ValueError, match="0/1"):
        write_submission(tmp_path / "s.csv", ["a", "b", "c"], Y * 0.7)


def test_submission_with_template_file(tmp_path):
    write_kaggle_layout(tmp_path / "d", _images(2, 32), ["x", "y"])
    Y = _labels(2)
    out = write_submission(tmp_path / "sub.csv", ["y", "x"], Y,
                           template=tmp_path / "d" / "sample_submission.csv")
    ids, Y_back = read_submission(out)
    assert list(ids) == ["x", "y"]
    np.testing.assert_array_equal(Y_back, Y[[1, 0]])


# ----------------------------------------------------------------------------- real HPA data
@pytest.mark.realdata
def test_real_kaggle_samples(real_data_dir, tmp_path):
    data = load_hpa(real_data_dir, labels="train_images_labels.csv", image_dir="train_images",
                    image_size=64, cache_dir=tmp_path, verbose=0, n_jobs=2)
    frame = pd.read_csv(real_data_dir / "train_images_labels.csv")
    assert data.images.shape == (76, 64, 64, 4) and data.images.dtype == np.uint8
    assert list(data.ids) == list(frame.Id)
    np.testing.assert_array_equal(data.target, labels_to_indicator(list(frame.Target)))
    per_channel = data.images.reshape(-1, 4)
    means = per_channel.mean(axis=0)
    assert np.all((means > 2) & (means < 100)), means  # dark fluorescence images, not blank
    assert np.all(per_channel.max(axis=0) > 100)  # every stain has bright structures
    # per sample, every channel has signal (no blank or duplicated planes)
    assert np.all(data.images.reshape(76, -1, 4).std(axis=1) > 1)
    assert not np.array_equal(data.images[..., 0], data.images[..., 3])


@pytest.mark.realdata
def test_real_missing_channels(real_data_dir, tmp_path):
    folder = real_data_dir / "partial_channels" / "train"
    present = sorted(folder.iterdir())
    sample_id, channel = present[0].stem.rsplit("_", 1)
    csv = tmp_path / "labels.csv"
    pd.DataFrame({"Id": [sample_id], "Target": ["0"]}).to_csv(csv, index=False)
    with pytest.raises(FileNotFoundError, match=f"'{sample_id}' has no"):
        load_hpa(tmp_path, labels=csv, image_dir=folder, image_size=32, cache_dir=tmp_path,
                 verbose=0, channels=CHANNELS)
    with pytest.warns(UserWarning, match="skipped 1 of 1"), pytest.raises(FileNotFoundError):
        load_hpa(tmp_path, labels=csv, image_dir=folder, image_size=32, cache_dir=tmp_path,
                 verbose=0, missing="skip")
    # the channel that is there loads on its own
    only = load_hpa(tmp_path, labels=csv, image_dir=folder, image_size=32, cache_dir=tmp_path,
                    verbose=0, channels=(channel,))
    assert only.images.shape == (1, 32, 32, 1)


@pytest.mark.realdata
def test_real_hpav18_jpegs(real_data_dir, tmp_path):
    folder = real_data_dir / "hpav18_jpg"
    labels = pd.read_csv(real_data_dir / "HPAv18RBGY_wodpl.csv")
    ids = ["11088_89_B5_1", "30741_800_A6_1"]
    subset = labels[labels.Id.isin(ids)]
    csv = tmp_path / "v18.csv"
    subset.to_csv(csv, index=False)
    data = load_hpa(tmp_path, labels=csv, image_dir=folder, image_size=64, cache_dir=tmp_path,
                    verbose=0)
    assert data.images.shape == (2, 64, 64, 4)
    row = list(data.ids).index("11088_89_B5_1")
    assert data.target[row].nonzero()[0].tolist() == [6]
    for c, (name, plane) in enumerate([("red", 0), ("green", 1), ("blue", 2)]):
        rgb = np.asarray(Image.open(folder / f"89_B5_1_{name}.jpg"))
        expected = np.asarray(Image.fromarray(rgb[..., plane]).resize((64, 64), Image.BOX))
        # decoded at 1/8 scale by the JPEG decoder (Image.draft), then area-averaged: close to
        # decoding every pixel (see test_jpeg_draft_decoding for the bounds)
        difference = data.images[row, :, :, c].astype(int) - expected
        assert np.abs(difference).mean() < 2.5 and abs(difference.mean()) < 0.5
    # yellow is drawn as red + green: the loaded plane is their mean, and carries signal
    rgb = np.asarray(Image.open(folder / "89_B5_1_yellow.jpg")).astype(float)
    expected = np.asarray(Image.fromarray(
        np.rint((rgb[..., 0] + rgb[..., 1]) / 2).astype(np.uint8)).resize((64, 64), Image.BOX))
    assert np.abs(data.images[row, :, :, 3].astype(int) - expected).mean() < 1
    assert data.images[row, :, :, 3].mean() > 5


def test_lazy_images_index_without_reading():
    from hpa_sklearn.datasets import LazyImages

    X = _images(10, 32)
    lazy = LazyImages(X)
    fold = lazy[np.array([7, 2, 5])]
    assert isinstance(fold, LazyImages) and fold.shape == (3, 32, 32, 4)
    inner = fold[1:]  # views of views compose their rows
    np.testing.assert_array_equal(np.asarray(inner), X[[2, 5]])
    np.testing.assert_array_equal(np.asarray(lazy[np.array([4, 1]), ...]), X[[4, 1]])
    np.testing.assert_array_equal(lazy[3], X[3])  # one row: read at once
    np.testing.assert_array_equal(lazy[1:3, 0], X[1:3, 0])  # other tuples read the data
    assert np.asarray(lazy[2:6]).base is not None  # a contiguous block is one slice of X
    assert LazyImages(fold).shape == fold.shape and len(fold) == 3


def test_lazy_images_of_a_memmap_pickle_as_a_path(tmp_path):
    import pickle

    from hpa_sklearn.datasets import LazyImages

    X = _images(40, 48)
    np.save(tmp_path / "x.npy", X)
    lazy = LazyImages(np.load(tmp_path / "x.npy", mmap_mode="r"))[np.array([5, 3, 30])]
    blob = pickle.dumps(lazy)
    assert len(blob) < 2000  # rows and a path, not 3 images of 9 KB
    back = pickle.loads(blob)
    np.testing.assert_array_equal(np.asarray(back), X[[5, 3, 30]])
    in_memory = pickle.loads(pickle.dumps(LazyImages(X)[np.array([1])]))
    np.testing.assert_array_equal(np.asarray(in_memory), X[[1]])


def test_decoding_never_msyncs_and_starts_writeback(kaggle_folder, tmp_path, monkeypatch):
    """Workers leave the rows in the page cache (no np.memmap.flush, which waited for the disk)
    and start their writeback; the one fsync happens when the entry is published."""
    folder, X, _, _ = kaggle_folder

    def no_flush(self):
        raise AssertionError("a decoding worker called np.memmap.flush")

    ranges = []
    monkeypatch.setattr(np.memmap, "flush", no_flush)
    monkeypatch.setattr(_kaggle, "start_writeback",
                        lambda path, offset, length: ranges.append((offset, length)))
    data = _load(folder, tmp_path, n_jobs=1)
    np.testing.assert_array_equal(data.images, X)
    row_bytes = X[0].nbytes
    covered = sorted(ranges)
    assert covered[0][0] == data.images.offset
    assert sum(length for _, length in covered) == len(X) * row_bytes
    for (start, length), (following, _) in zip(covered, covered[1:]):
        assert start + length == following  # every row's bytes, once


def test_start_writeback_is_a_harmless_hint(tmp_path):
    from hpa_sklearn.datasets._cache import start_writeback

    path = tmp_path / "x.bin"
    path.write_bytes(b"\1" * 10_000)
    assert start_writeback(path, 0, 10_000) in (True, False)  # False off Linux
    assert start_writeback(tmp_path / "absent.bin", 0, 10) is False
    assert start_writeback(path, 0, 0) is False
    assert path.read_bytes() == b"\1" * 10_000


def _smooth_colour_jpeg(path, size=256, subsampling=2):
    """Gaussian spots in the red, green and blue planes (a fluorescence-like image), as JPEG."""
    yy, xx = np.mgrid[0:size, 0:size]
    rng = np.random.default_rng(0)
    image = np.zeros((size, size, 3))
    for _ in range(30):
        cy, cx = rng.uniform(0, size, 2)
        radius = rng.uniform(4, 20)
        image[..., rng.integers(0, 3)] += 200 * np.exp(
            -((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * radius**2))
    Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(
        path, quality=95, subsampling=subsampling)
    return np.asarray(Image.open(path))


@pytest.mark.parametrize("subsampling", [0, 2])
def test_jpeg_draft_decoding(tmp_path, monkeypatch, subsampling):
    """A JPEG at least twice the output size is reduced by the decoder (Image.draft), then
    area-averaged: within half a grey level of decoding every pixel on average."""
    from PIL import JpegImagePlugin

    from hpa_sklearn.datasets._images import read_channel

    path = tmp_path / "spots_red.jpg"
    full = _smooth_colour_jpeg(path, subsampling=subsampling)
    drafts = []
    original = JpegImagePlugin.JpegImageFile.draft
    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft",
                        lambda self, mode, size: drafts.append(size) or original(self, mode, size))
    for size, drafted in ((32, True), (64, True), (128, True), (200, False)):
        drafts.clear()
        for channel, plane in (("red", 0), ("green", 1), ("blue", 2)):
            expected = np.asarray(Image.fromarray(full[..., plane]).resize((size, size),
                                                                           Image.BOX))
            got, original_size = read_channel(path, channel, size, return_size=True)
            assert got.shape == (size, size) and got.dtype == np.uint8
            assert original_size == (256, 256)  # the file's size, not the reduced one
            difference = got.astype(int) - expected
            if drafted:
                assert np.abs(difference).mean() < 0.6 and abs(difference.mean()) < 0.5
                assert np.abs(difference).max() <= 8
            else:  # less than halving: every pixel decoded, as before
                assert not difference.any()
        assert bool(drafts) == drafted


@pytest.mark.realdata
@pytest.mark.parametrize("size", [64, 256])
def test_jpeg_draft_decoding_of_real_hpav18_files(real_data_dir, size):
    from hpa_sklearn.datasets._images import read_channel

    weights = {"red": (1, 0, 0), "green": (0, 1, 0), "blue": (0, 0, 1), "yellow": (.5, .5, 0)}
    for path in sorted((real_data_dir / "hpav18_jpg").glob("*.jpg")):
        channel = path.stem.rsplit("_", 1)[1]
        rgb = np.asarray(Image.open(path), dtype=np.float32)
        plane = np.clip(np.rint(rgb @ np.asarray(weights[channel], np.float32)), 0, 255)
        expected = np.asarray(Image.fromarray(plane.astype(np.uint8)).resize((size, size),
                                                                              Image.BOX))
        difference = read_channel(path, channel, size).astype(int) - expected
        # measured: 0.07 to 2.14 grey levels on average, bias at most 0.2 (see read_channel)
        assert np.abs(difference).mean() < 2.5 and abs(difference.mean()) < 0.5, path.name
