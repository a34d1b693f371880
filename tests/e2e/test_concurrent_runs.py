"""Property (issue 18): two ``hpa-sklearn train`` runs started together on the same ``--out`` or
the same checkpoint folder never lose trained work: the second refuses before training, naming
the other process (exit 2), or both finish with a model that loads. Real processes
(``python -m hpa_sklearn.cli train``), started at the same moment."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest

from hpa_sklearn.classifier import HPAClassifier
from hpa_sklearn.datasets import load_hpa

from ._helpers import FAST, snapshot

pytestmark = pytest.mark.slow


def _start(argv, cwd):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "hpa_sklearn.cli", *map(str, argv)], cwd=cwd,
                            env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _finish(processes):
    results = []
    for process in processes:
        out, err = process.communicate(timeout=600)
        results.append((process.returncode, out, err, process.pid))
    return results


def _train(kaggle_data, image_cache, out, *extra):
    return ["train", "--data", kaggle_data, *FAST, "--no-tune-thresholds", "--cache-dir",
            image_cache, "--out", out, *extra]


def _assert_model(folder, X):
    model = HPAClassifier.load(folder)
    proba = model.set_params(verbose=0).predict_proba(X)
    assert proba.shape == (len(X), 28) and np.isfinite(proba).all()


def _images(kaggle_data, image_cache):
    return load_hpa(kaggle_data, image_size=32, cache_dir=image_cache, verbose=0).images


def test_two_trains_on_the_same_out(kaggle_data, image_cache, tmp_path):
    """Same --out (so the same checkpoint folder, OUT.checkpoints): one trains; the other is
    refused before training with a message naming the first, or (had the first finished before
    the second looked) both finish. The model folder is whole either way."""
    out = tmp_path / "model"
    argv = _train(kaggle_data, image_cache, out)
    results = _finish([_start(argv, tmp_path), _start(argv, tmp_path)])
    statuses = sorted(status for status, *_ in results)
    assert statuses in ([0, 0], [0, 2]), [(s, o[-2000:], e[-2000:]) for s, o, e, _ in results]
    for status, stdout, stderr, pid in results:
        if status == 2:
            (other,) = [p for s, _, _, p in results if p != pid]
            assert "is in use by process" in stderr and f"process {other}" in stderr, stderr
            assert "hpa-sklearn" in stderr and "Traceback" not in stderr
            assert "Training smallcnn" not in stdout  # refused before any training
        else:
            assert "Model saved in" in stdout, stdout[-2000:]
    _assert_model(out, _images(kaggle_data, image_cache))
    # nothing of either run is left beside the model: no checkpoints, lock or temporary
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_three_trains_sharing_a_checkpoint_folder(kaggle_data, image_cache, tmp_path):
    """Different --out, the same --checkpoint-dir (a folder of the user's, with a file in it):
    two runs of the same fit (data and parameters) and one of another (another seed). The two
    of the same fit would write the same checkpoint: the second is refused by its lock with a
    message naming the first (or, had the first finished, restores its result). The other fit
    finishes beside them. Each run removes only its own checkpoint; the user's file stays."""
    shared = tmp_path / "checkpoints"
    shared.mkdir()
    (shared / "notes.txt").write_text("the user's\n")
    before = snapshot(shared)
    seeds = {"same-a": 0, "same-b": 0, "other": 1}
    runs = [_start(_train(kaggle_data, image_cache, tmp_path / name, "--checkpoint-dir", shared,
                          "--seed", seed), tmp_path) for name, seed in seeds.items()]
    results = dict(zip(seeds, _finish(runs)))
    X = _images(kaggle_data, image_cache)
    assert results["other"][0] == 0, results["other"][1][-2000:] + results["other"][2][-3000:]
    _assert_model(tmp_path / "other", X)
    same = sorted(results[name][0] for name in ("same-a", "same-b"))
    assert same in ([0, 0], [0, 2]), [results[n][1:3] for n in ("same-a", "same-b")]
    for name in ("same-a", "same-b"):
        status, _, stderr, _ = results[name]
        if status == 2:
            (first,) = [results[n][3] for n in ("same-a", "same-b") if n != name]
            assert re.search(rf"checkpoint folder .* is in use by process {first}\b", stderr), \
                stderr
            assert not (tmp_path / name).exists()
        else:
            _assert_model(tmp_path / name, X)
    assert snapshot(shared) == before  # only the user's file: every checkpoint removed, no more
