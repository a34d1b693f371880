"""``hpa-sklearn cache list`` and ``hpa-sklearn cache clear`` end to end, on a real cache folder
(moved from tests/test_cache.py; the cache's API is tested in tests/unit/test_cache.py)."""

import os

import numpy as np
import pytest
from PIL import Image

from hpa_sklearn import cli
from hpa_sklearn.datasets import cache_entries, load_hpa, make_hpa_like, write_kaggle_layout

SIZE = 32
N = 24


@pytest.fixture
def data(tmp_path):
    """A Kaggle-layout folder of N synthetic samples; returns (folder, images)."""
    synthetic = make_hpa_like(N, SIZE, random_state=0)
    write_kaggle_layout(tmp_path / "data", synthetic.images, synthetic.ids, synthetic.target)
    return tmp_path / "data", synthetic.images


def _load(folder, cache_dir, **kw):
    kw.setdefault("image_size", SIZE)
    kw.setdefault("verbose", 0)
    return load_hpa(folder, cache_dir=cache_dir, **kw)


def _change(folder, name, value=7):
    path = folder / "train" / name
    Image.fromarray(np.full((SIZE, SIZE), value, dtype=np.uint8)).save(path)
    os.utime(path, ns=(10**9, 10**9 + value))  # a different time, whatever the clock


def test_cli_cache_list_and_clear(data, tmp_path, capsys):
    folder, _ = data
    cache_dir = tmp_path / "cache"
    _load(folder, cache_dir)
    _load(folder, cache_dir, image_size=40)
    _change(folder, "synthetic-000002_blue.png")  # both entries read it: both stale...
    _load(folder, cache_dir, image_size=40)  # ...until the 40 px one is rebuilt (and evicted)
    assert cli.main(["cache", "list", "--cache-dir", str(cache_dir)]) == 0
    out = capsys.readouterr().out
    assert "KEY" in out and "SIZE" in out and "KiB" in out
    assert f"{N}x{SIZE}x{SIZE}x4" in out and f"{N}x40x40x4" in out
    assert "stale (synthetic-000002_blue.png changed)" in out
    assert "2 entries" in out and "1 stale" in out
    assert cli.main(["cache", "clear", "--stale", "--cache-dir", str(cache_dir)]) == 0
    assert "Removed 1 stale cache entry" in capsys.readouterr().out
    assert list(cache_entries(cache_dir)["shape"]) == [(N, 40, 40, 4)]
    assert cli.main(["cache", "clear", "--cache-dir", str(cache_dir)]) == 0
    assert "Removed 1 cache entry" in capsys.readouterr().out
    assert cache_entries(cache_dir).empty
    # bad input: one line on stderr, exit 2
    assert cli.main(["cache", "list", "--cache-dir", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and str(tmp_path / "missing") in err
    (tmp_path / "a-file").write_text("")
    assert cli.main(["cache", "clear", "--cache-dir", str(tmp_path / "a-file")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        cli.main(["cache"])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        cli.main(["cache", "purge"])
    assert info.value.code == 2
