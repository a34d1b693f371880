"""Checks of ``explain`` that must hold on every Keras backend, as a plain script: the TensorFlow
run imports these functions (tests/integration/test_explain.py), the JAX run executes this file
in a subprocess with ``KERAS_BACKEND=jax`` and prints one JSON line of results.

The known answer: with average pooling and dense layers only after it (the library's head), the
logit's gradient with respect to the feature map ``A`` (h x w cells) is the same in every cell,
``dz_c / dA_ijk = (dz_c / dp)_k / (h w)`` with ``p`` the pooled vector, so Grad-CAM is
``ReLU(A @ dz_c/dp)`` up to a positive factor: computed here in NumPy from the network's weights,
not by the library's code.
"""

import json
import os
import sys
import tempfile

import numpy as np


def upsample(maps, height, width):
    """Bilinear upsampling with half-pixel centres (as ``tf.image.resize`` and
    ``jax.image.resize``): ``(..., h, w)`` -> ``(..., height, width)``."""
    h, w = maps.shape[-2:]

    def axis(n_out, n_in):
        src = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
        low = np.floor(src).astype(int)
        return low, np.minimum(low + 1, n_in - 1), src - low

    y0, y1, fy = axis(height, h)
    x0, x1, fx = axis(width, w)
    top = maps[..., y0, :] * (1 - fy)[:, None] + maps[..., y1, :] * fy[:, None]
    return top[..., x0] * (1 - fx) + top[..., x1] * fx


def reference_gradcam(clf, X, classes):
    """Grad-CAM of a fitted smallcnn classifier with ``pooling="avg"`` by hand: the feature map
    from the backbone, the gradient of the logit from the head's weights; normalized maps
    ``(n, len(classes), H, W)``."""
    import keras

    model = clf.model_
    standardized = keras.Model(model.inputs, model.get_layer("standardize").output)
    backbone = model.get_layer(clf.backbone)
    A = np.asarray(backbone.predict(standardized.predict(X, verbose=0), verbose=0),
                   dtype=np.float64)
    pooled = A.mean(axis=(1, 2))
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    # forward through the hidden layers (relu), remembering where they are active
    h, gates = pooled, []
    for layer in dense[:-1]:
        kernel, bias = (np.asarray(v, dtype=np.float64) for v in layer.get_weights())
        pre = h @ kernel + bias
        gates.append((kernel, (pre > 0).astype(np.float64)))
        h = np.maximum(pre, 0)
    out_kernel = np.asarray(dense[-1].get_weights()[0], dtype=np.float64)
    maps = np.zeros((len(X), len(classes), *X.shape[1:3]))
    for i in range(len(X)):
        for j, c in enumerate(classes):
            grad = out_kernel[:, c]
            for kernel, gate in reversed(gates):
                grad = kernel @ (gate[i] * grad)
            cam = np.maximum(A[i] @ grad, 0)  # the 1 / (h w) factor is positive: dropped
            up = upsample(cam, *X.shape[1:3])
            maps[i, j] = up / up.max() if up.max() > 0 else 0
    return maps


def fit_small(X, Y, **changes):
    from hpa_sklearn import HPAClassifier

    params = {"backbone": "smallcnn", "weights": None, "epochs": 1, "batch_size": 8,
              "hidden_units": 16, "learning_rate": 1e-3, "decay": 0.0, "verbose": 0,
              "random_state": 0}
    return HPAClassifier(**{**params, **changes}).fit(X, Y)


def check_known_answer(clf, X, classes=(0, 25)):
    """Largest difference between ``explain`` and the hand-computed Grad-CAM."""
    maps = clf.explain(X, list(classes))
    return float(np.abs(maps - reference_gradcam(clf, X, classes)).max())


def check_maps(maps, shape):
    maps = np.asarray(maps)
    return {"shape": list(maps.shape), "expected": list(shape), "dtype": str(maps.dtype),
            "finite": bool(np.isfinite(maps).all()), "min": float(maps.min()),
            "max": float(maps.max()), "nonzero": bool((maps > 0).any())}


def run_all():
    """The checks of the backend-dependent parts (the gradient step, the compiled prediction),
    on the backend of this process: a dict of results. (Resizing inside the network, the
    ensemble and the tuner are backend-independent code, tested under TensorFlow.)"""
    import keras

    from hpa_sklearn.datasets import make_hpa_like

    X, Y = make_hpa_like(24, 32, random_state=0, return_X_y=True)
    results = {"backend": keras.backend.backend()}
    clf = fit_small(X, Y)
    results["known_answer_max_diff"] = check_known_answer(clf, X[:3])
    results["smallcnn_gradcam"] = check_maps(clf.explain(X[:5], [0, 2, 25]), (5, 3, 32, 32))
    maps, classes = clf.explain(X[:5], return_classes=True)
    results["predicted_classes"] = check_maps(maps, (5, classes.shape[1], 32, 32))
    results["smallcnn_occlusion"] = check_maps(
        clf.explain(X[:1], [0, 25], method="occlusion", batch_size=64), (1, 2, 32, 32))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "images.npy")
        np.save(path, X[:5])
        mapped = clf.explain(np.load(path, mmap_mode="r"), [0, 2, 25], batch_size=2)
        results["memmap_max_diff"] = float(np.abs(mapped - clf.explain(X[:5], [0, 2, 25])).max())
    from hpa_sklearn import HPAVGG16Classifier

    vgg = HPAVGG16Classifier(weights=None, epochs=1, batch_size=8, hidden_units=16, verbose=0,
                             random_state=0).fit(X[:16], Y[:16])
    results["vgg16_gradcam"] = check_maps(vgg.explain(X[:3], [0, 25]), (3, 2, 32, 32))
    return results


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
        __file__)))))
    print(json.dumps(run_all()))
