"""Small Kaggle-layout folders for the data-layer tests (imported by test_datasets.py and
test_readers.py)."""

import numpy as np

from hpa_sklearn.datasets import load_hpa, write_kaggle_layout


def random_images(n=6, size=48, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 4), dtype=np.uint8)


def random_labels(n=6, seed=0):
    rng = np.random.default_rng(seed)
    Y = np.zeros((n, 28), dtype=np.uint8)
    for i in range(n):
        Y[i, rng.choice(28, size=rng.integers(1, 4), replace=False)] = 1
    return Y


def kaggle_folder(root):
    """A Kaggle-layout folder of 6 random 48 px samples in ``root``: (folder, X, Y, ids)."""
    X, Y = random_images(), random_labels()
    ids = [f"id{i:02d}" for i in range(len(X))]
    write_kaggle_layout(root / "data", X, ids, Y)
    return root / "data", X, Y, ids


def load(folder, tmp_path, **kw):
    kw.setdefault("image_size", 48)
    kw.setdefault("verbose", 0)
    kw.setdefault("cache_dir", tmp_path / "cache")
    return load_hpa(folder, **kw)
