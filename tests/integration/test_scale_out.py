"""Scaling out: mixed precision, data-parallel training on several devices (JAX and TensorFlow,
on virtual CPU devices here), the classifier's contract under the JAX backend, and a search on
Dask. The backends are checked in fresh interpreters (Keras picks its backend once per process):
each runs a plain script that asserts and prints its facts as JSON."""

import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

from hpa_sklearn import HPAClassifier

REPO = Path(__file__).resolve().parents[2]
SMALL = dict(backbone="smallcnn", weights=None, epochs=1, batch_size=16, hidden_units=16,
             verbose=0, random_state=0)

_DATA_PARALLEL = textwrap.dedent("""
    import json, sys
    import numpy as np
    import keras
    if keras.backend.backend() == "tensorflow":  # two virtual CPU devices
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from hpa_sklearn import HPAClassifier
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (32, 32, 32, 4), dtype=np.uint8)  # two steps of 16 images
    Y = (rng.random((32, 28)) < 0.2).astype(np.uint8)
    params = dict(backbone=sys.argv[2], weights=None, epochs=1, batch_size=16, hidden_units=16,
                  verbose=0, random_state=0, dropout=float(sys.argv[1]))
    one = HPAClassifier(**params).fit(X, Y)
    two = HPAClassifier(**params, distribution="data_parallel").fit(X, Y)
    odd = two.predict_proba(X[:5])  # 5 images on 2 devices: the last batch is padded
    print(json.dumps({
        "replicas": two._n_replicas(),
        "max_diff": float(np.abs(one.predict_proba(X) - two.predict_proba(X)).max()),
        "odd_shape": list(odd.shape),
        "odd_diff": float(np.abs(odd - one.predict_proba(X[:5])).max()),
    }))
""")

# The classifier's contract under JAX, asserted directly: fit and predict from uint8 (memory-
# mapped) and float input, augmentation layers in training only, early stopping, partial_fit,
# pickling and the saved folder.
_JAX_CONTRACT = textwrap.dedent("""
    import json, pickle, sys, tempfile
    from pathlib import Path
    import numpy as np
    import keras
    assert keras.backend.backend() == "jax", keras.backend.backend()
    from hpa_sklearn import HPAClassifier, ImageAugmenter, load_model

    tmp = Path(tempfile.mkdtemp())
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (32, 32, 32, 4), dtype=np.uint8)
    Y = np.zeros((32, 28), dtype=np.uint8)
    Y[np.arange(32), rng.integers(0, 28, 32)] = 1
    np.save(tmp / "x.npy", images)
    X = np.load(tmp / "x.npy", mmap_mode="r")
    small = dict(backbone="smallcnn", weights=None, batch_size=8, hidden_units=16, verbose=0,
                 random_state=0)

    clf = HPAClassifier(**small, epochs=4, augmentation=ImageAugmenter(), early_stopping=True,
                        validation_fraction=0.25, patience=1, learning_rate=0.05)
    clf.fit(X, Y)
    proba = clf.predict_proba(X)
    assert proba.shape == (32, 28) and proba.dtype == np.float32, (proba.shape, proba.dtype)
    assert np.all((proba >= 0) & (proba <= 1))
    assert clf.predict_proba(X[:1]).shape == (1, 28) and clf.predict(X[:1]).shape == (1, 28)
    assert clf.image_shape_ == (32, 32, 4) and clf.input_dtype_ == "uint8"
    history = clf.history_
    assert len(history["val_loss"]) == len(history["loss"]) <= 4
    np.testing.assert_array_equal(clf.predict_proba(X), proba)  # nothing random at inference
    before_standardize = keras.Model(clf.model_.input, clf.model_.get_layer("standardize").input)
    plain = keras.ops.convert_to_numpy(before_standardize(images[:4], training=False))
    np.testing.assert_allclose(plain, images[:4] / 255.0, atol=1e-6)
    drawn = keras.ops.convert_to_numpy(before_standardize(images[:4], training=True))
    assert not np.allclose(drawn, plain)

    n = len(history["loss"])
    clf.partial_fit(X, Y)
    assert len(clf.history_["loss"]) == n + 1
    proba = clf.predict_proba(X)

    np.testing.assert_array_equal(pickle.loads(pickle.dumps(clf)).predict_proba(X), proba)
    folder = clf.save(tmp / "model")
    loaded = load_model(folder)
    assert type(loaded) is HPAClassifier
    np.testing.assert_array_equal(loaded.predict_proba(X), proba)

    floats = (images[:16, ..., :3] / 255.0).astype(np.float32)
    other = HPAClassifier(**small, epochs=1).fit(floats, Y[:16])
    assert other.input_dtype_ == "float32" and other.channels_ == ("red", "green", "blue")
    assert other.predict_proba(floats).shape == (16, 28)
    try:
        other.predict(images[:2, ..., :3])
    except ValueError as exc:
        assert "dtype uint8 but the classifier was fitted on float32" in str(exc), exc
    else:
        raise AssertionError("uint8 images were taken by a classifier fitted on floats")
    print(json.dumps({"backend": keras.backend.backend(), "epochs": n + 1}))
""")


def _python(code, *args, env=None, timeout=900):
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    result = subprocess.run([sys.executable, "-c", code, *args], env=full_env, cwd=REPO,
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_mixed_bfloat16_computes_in_16_bits_with_float32_output():
    # the small network: bfloat16 is emulated on a CPU
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (16, 32, 32, 4), dtype=np.uint8)
    Y = (rng.random((16, 28)) < 0.2).astype(np.uint8)
    clf = HPAClassifier(**SMALL, mixed_precision="mixed_bfloat16").fit(X, Y)
    backbone = clf.model_.get_layer("smallcnn")
    conv = backbone.get_layer("block1_conv1")
    assert conv.compute_dtype == "bfloat16" and conv.variable_dtype == "float32"
    norm = backbone.get_layer("block1_bn1")  # batch statistics kept in float32
    assert norm.compute_dtype == "bfloat16" and norm.variable_dtype == "float32"
    assert clf.model_.get_layer("labels").compute_dtype == "float32"
    proba = clf.predict_proba(X)
    assert proba.dtype == np.float32 and np.all(np.isfinite(proba))
    assert np.isfinite(clf.history_["loss"][0])
    import keras

    assert keras.config.dtype_policy().name == "float32"  # the global policy is left as it was


@pytest.mark.parametrize(
    "params, message",
    [
        ({"mixed_precision": "float8"}, "'mixed_precision' parameter .* must be None"),
        ({"distribution": "model_parallel"}, "'distribution' parameter .* must be None"),
        ({"jit_compile": "yes"}, "'jit_compile' parameter .* must be"),
        ({"workers": 0}, r"'workers' parameter .* must be an int in the range \[1, inf\)"),
    ],
)
def test_scale_out_parameter_errors(params, message):
    X = np.zeros((4, 32, 32, 4), np.uint8)
    Y = np.eye(4, 28, dtype=np.uint8)
    with pytest.raises(ValueError, match=message):
        HPAClassifier(**{**SMALL, **params}).fit(X, Y)


@pytest.mark.slow
def test_data_parallel_on_two_jax_devices_equals_one_device():
    # the small batch-normalized network: under JAX the batch statistics are the global batch's
    # (one SPMD program), so two devices train as one; dropout masks are drawn the same way
    result = _python(_DATA_PARALLEL, "0.2", "smallcnn", env={
        "KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=2"})
    assert result["replicas"] == 2
    assert result["max_diff"] < 1e-2  # the same training, up to summation order and masks
    assert result["odd_shape"] == [5, 28] and result["odd_diff"] < 1e-2


@pytest.mark.slow
def test_data_parallel_on_two_tensorflow_devices_equals_one_device():
    # MirroredStrategy draws dropout masks and batch-norm statistics per replica: compare
    # without dropout, on the one backbone without batch normalization (VGG16)
    result = _python(_DATA_PARALLEL, "0.0", "vgg16", env={"KERAS_BACKEND": "tensorflow"})
    assert result["replicas"] == 2
    assert result["max_diff"] < 1e-2
    assert result["odd_shape"] == [5, 28] and result["odd_diff"] < 1e-2


@pytest.mark.slow
def test_classifier_contract_under_the_jax_backend():
    result = _python(_JAX_CONTRACT, env={"KERAS_BACKEND": "jax"})
    assert result["backend"] == "jax" and result["epochs"] >= 2


@pytest.mark.slow
def test_grid_search_on_a_dask_cluster_equals_the_local_search(tmp_path):
    joblib = pytest.importorskip("joblib")
    distributed = pytest.importorskip("distributed")
    from sklearn.model_selection import GridSearchCV

    from hpa_sklearn import MultilabelStratifiedKFold, macro_f1_scorer
    from hpa_sklearn.datasets import LazyImages, make_hpa_like

    images, Y = make_hpa_like(48, 32, random_state=0, classes=[0, 2, 21, 25], return_X_y=True)
    np.save(tmp_path / "images.npy", images)  # as the loader's cache: workers read the file
    X = LazyImages(np.load(tmp_path / "images.npy", mmap_mode="r"))
    grid = {"learning_rate": [1e-3, 1e-4]}

    def search(n_jobs):
        return GridSearchCV(HPAClassifier(**SMALL), grid, scoring=macro_f1_scorer,
                            cv=MultilabelStratifiedKFold(2, random_state=0), refit=False,
                            n_jobs=n_jobs)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        local = search(None).fit(X, Y)
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=None) as cluster, \
                distributed.Client(cluster) as client, joblib.parallel_backend("dask"):
            remote = search(-1).fit(X, Y)
            workers = client.run(os.getpid)
    assert len(workers) == 2 and os.getpid() not in workers.values()
    for key in ("split0_test_score", "split1_test_score", "mean_test_score"):
        np.testing.assert_array_equal(remote.cv_results_[key], local.cv_results_[key])


def test_gpu_benchmark_runs_on_cpu_with_a_tiny_setting(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run([sys.executable, "benchmarks/bench_gpu.py", "--quick", "--out",
                             str(tmp_path)], env=env, cwd=REPO, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "bench_gpu_quick.json").read_text())
    row = report["rows"][0]
    # VGG16's convolutions at 32 px, 4 input channels, plus the head: about 0.63 GFLOP forward
    assert 0.6 < row["forward_gflops_per_image"] < 0.7
    assert row["train_images_per_s"] > 0 and row["input_path_over_train"] > 1
    assert (tmp_path / "bench_gpu_quick.md").read_text().count("|") > 10
