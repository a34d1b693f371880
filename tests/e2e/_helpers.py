"""Helpers of the end-to-end tests: small Kaggle-layout folders, the command line run in-process,
and snapshots of a folder tree (what exists, with the SHA-256 of every file)."""

import hashlib
import os
import sys
from pathlib import Path

from hpa_sklearn import cli

#: the smallest training that still runs every step: the small CNN, one epoch of 32 px images
FAST = ["--image-size", "32", "--backbone", "smallcnn", "--epochs", "1", "--batch-size", "8",
        "--n-jobs", "1"]
MANIFEST = "hpa-sklearn.json"
PYTHON = sys.executable


def write_kaggle(root, *, n_train=16, n_test=8, size=32, seed=0):
    """A Kaggle-layout folder in ``root``: train.csv + train/ (``n_train`` labelled HPA-like
    images), test/ + sample_submission.csv (``n_test`` unlabelled ones). Returns ``root``."""
    from hpa_sklearn.datasets import make_hpa_like, write_kaggle_layout

    root = Path(root)
    train = make_hpa_like(n_train, size, random_state=seed)
    write_kaggle_layout(root, train.images, train.ids, train.target)
    test = make_hpa_like(n_test, size, random_state=seed + 1)
    write_kaggle_layout(root, test.images, [f"test-{i}" for i in range(n_test)])
    return root


def run_cli(capsys, *argv):
    """``hpa-sklearn ARGV`` in this process: (exit status, stdout, stderr)."""
    status = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def snapshot(root):
    """``{path relative to root: sha256}`` for files, ``"<dir>"`` for folders and ``"-> target"``
    for symbolic links, of everything under ``root`` (hidden entries included; links not
    followed)."""
    root = Path(root)
    found = {}
    for folder, dirs, files in os.walk(root, followlinks=False):
        base = Path(folder)
        for name in dirs:
            path = base / name
            rel = path.relative_to(root).as_posix()
            found[rel] = f"-> {os.readlink(path)}" if path.is_symlink() else "<dir>"
        for name in files:
            path = base / name
            rel = path.relative_to(root).as_posix()
            found[rel] = f"-> {os.readlink(path)}" if path.is_symlink() else digest(path)
    return found


def read_manifest(folder):
    import json

    return json.loads((Path(folder) / MANIFEST).read_text())


def read_run(folder):
    """The ``run`` record of a model folder (what ``hpa-sklearn train`` recorded)."""
    return read_manifest(folder).get("run") or {}


_LOADER = r"""
import json, sys, time
import numpy as np
import hpa_sklearn  # the only import of the library: loading must not depend on anything else

folders, X_path, out = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
X = np.load(X_path)
results, errors = {}, {}
for name, folder in folders.items():
    start = time.perf_counter()
    model = None
    try:
        model = hpa_sklearn.load_model(folder)
        results[name] = model.predict_proba(X)
        results[name + " :: predict"] = model.predict(X)
    except Exception as exc:
        errors[name] = f"{type(exc).__name__}: {exc}"
    print(f"{name}: loaded and predicted in {time.perf_counter() - start:.1f} s", flush=True)
    del model
np.savez(out + ".npz", **results)
with open(out + ".json", "w") as handle:
    json.dump(errors, handle)
"""


def predict_in_a_fresh_process(folders, X, work):
    """Load every model folder of ``folders`` ({name: path}) with ``hpa_sklearn.load_model`` in
    ONE new Python process that imports nothing of the library but ``hpa_sklearn``, and predict
    ``X``. Returns ({name: probabilities, name + " :: predict": predictions}, {name: error},
    the process's output); writes only into ``work``."""
    import json
    import subprocess

    import numpy as np

    np.save(work / "X.npy", X)
    done = subprocess.run(
        [PYTHON, "-c", _LOADER, json.dumps({k: str(v) for k, v in folders.items()}),
         str(work / "X.npy"), str(work / "result")],
        cwd=work, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-5000:]
    errors = json.loads((work / "result.json").read_text())
    with np.load(work / "result.npz") as arrays:
        results = {name: arrays[name] for name in arrays.files}
    return results, errors, done.stdout
