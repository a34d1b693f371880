"""Benchmark: training and prediction images/s of ``HPAVGG16Classifier`` against a raw
``keras.Model.fit`` / ``predict`` of the same network on the same data, in the same process.

The raw model is built by the same function (``hpa_sklearn._engine.network.build_network``, same input
dtype uint8, same per-channel standardization, seed, head), compiled with the same optimizer, loss,
metric and ``jit_compile``, and given the same uint8 array in memory, batch size and number of
epochs (``shuffle=True``). The two are timed alternately (which one goes first alternates too),
``--repeats`` times; each figure is the median.

- *end to end*: a whole ``fit`` call (ours: validation, channel statistics, building, compiling,
  training; raw: ``build_network`` + ``compile`` + ``fit``) and a ``predict`` call on a warm model;
- *steady state*: the median duration of the epochs after the first (a callback times them), which
  leaves out building and graph tracing.

images/s = images x epochs / seconds; ratio = ours / raw (>= 0.95 is the target: <= 5% overhead).
Writes ``bench_speed.json`` and ``.md`` into ``--out``. Run:
``python benchmarks/bench_speed.py`` (about 10 min on 2 cores) or ``--quick``.
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402


def main():
    parser = _common.parser(__doc__)
    parser.add_argument("--n", type=int, default=None, help="images (default 512)")
    parser.add_argument("--image-size", type=int, default=None, help="image side (default 32)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per fit (default 3)")
    parser.add_argument("--batch-size", type=int, default=None, help="default 64")
    parser.add_argument("--repeats", type=int, default=None, help="fits per method (default 3)")
    parser.add_argument("--predict-repeats", type=int, default=None, help="default 5")
    args = parser.parse_args()
    quick = args.quick
    n = args.n or (32 if quick else 512)
    size = args.image_size or 32
    epochs = args.epochs or (2 if quick else 3)
    batch_size = args.batch_size or (16 if quick else 64)
    repeats = args.repeats or (1 if quick else 3)
    predict_repeats = args.predict_repeats or (1 if quick else 5)

    _common.quiet_tensorflow()
    import keras
    import numpy as np

    from hpa_sklearn import HPAVGG16Classifier
    from hpa_sklearn._engine.losses import LOSSES
    from hpa_sklearn._engine.network import build_network
    from hpa_sklearn._engine.trainer import (_STATS_SAMPLES, _channel_moments, _make_optimizer,
                                             _positive_weights)
    from hpa_sklearn.datasets import make_hpa_like

    run = _common.Run("bench_speed", args)
    X, Y = make_hpa_like(n_samples=n, image_size=size, random_state=0, return_X_y=True)
    params = dict(weights=None, epochs=epochs, batch_size=batch_size, verbose=0)

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.times = []

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self._start)

    def fit_ours(seed):
        timer = EpochTimer()
        clf = HPAVGG16Classifier(random_state=seed, callbacks=[timer], **params)
        seconds, clf = _common.timed(clf.fit, X, Y)
        return seconds, timer.times, clf

    def fit_raw(seed):
        timer = EpochTimer()
        reference = HPAVGG16Classifier(random_state=seed, **params)  # its compile settings

        def build_and_fit():
            keras.utils.set_random_seed(seed)
            rows = np.random.default_rng(seed).permutation(n)[:_STATS_SAMPLES]
            mean, variance = _channel_moments(X, rows, 1 / 255)
            model = build_network(
                backbone="vgg16", image_shape=X.shape[1:], n_outputs=Y.shape[1], input_dtype="uint8", mean=mean,
                variance=variance, channels=("red", "green", "blue", "yellow"), weights=None,
                yellow_init="red", input_size=None, augmentation_layers=[], pooling="avg",
                hidden_units=(512,), activation="relu", dropout=0.2, seed=seed)
            steps = -(-n // batch_size)
            config = reference._config(seed=seed)  # the engine's settings of the classifier
            loss = LOSSES[config.loss].make(focal_gamma=config.focal_gamma,
                                            pos_weight=_positive_weights(config, Y))
            model.compile(optimizer=_make_optimizer(config, steps, epochs), loss=loss,
                          metrics=[keras.metrics.F1Score(average="macro", threshold=0.5,
                                                         name="f1")],
                          jit_compile=reference.jit_compile)
            model.fit(X, Y.astype(np.float32), batch_size=batch_size, epochs=epochs,
                      shuffle=True, verbose=0, callbacks=[timer])
            return model

        seconds, model = _common.timed(build_and_fit)
        return seconds, timer.times, model

    fit_times = {"ours": [], "raw": []}
    epoch_times = {"ours": [], "raw": []}
    models = {}
    for r in range(repeats):
        order = ("ours", "raw") if r % 2 == 0 else ("raw", "ours")
        for name in order:
            seconds, times, model = (fit_ours if name == "ours" else fit_raw)(r)
            fit_times[name].append(seconds)
            epoch_times[name].extend(times[1:] if len(times) > 1 else times)
            models[name] = model
            print(f"fit {name:4s} repeat {r}: {seconds:.1f} s, epochs "
                  f"{', '.join(f'{t:.1f}' for t in times)} s", flush=True)

    clf, model = models["ours"], models["raw"]
    clf.predict_proba(X[:batch_size])  # warm both prediction functions
    model.predict(X[:batch_size], batch_size=batch_size, verbose=0)
    predict_times = {"ours": [], "raw": []}
    for r in range(predict_repeats):
        order = ("ours", "raw") if r % 2 == 0 else ("raw", "ours")
        for name in order:
            if name == "ours":
                seconds, proba_ours = _common.timed(clf.predict_proba, X)
            else:
                seconds, proba_raw = _common.timed(model.predict, X, batch_size=batch_size,
                                                   verbose=0)
            predict_times[name].append(seconds)
        print(f"predict repeat {r}: ours {predict_times['ours'][-1]:.2f} s, raw "
              f"{predict_times['raw'][-1]:.2f} s", flush=True)

    def rate(images, seconds):
        return images / _common.median(seconds)

    figures = {
        "fit_end_to_end": {k: rate(n * epochs, v) for k, v in fit_times.items()},
        "fit_steady_state": {k: rate(n, v) for k, v in epoch_times.items()},
        "predict": {k: rate(n, v) for k, v in predict_times.items()},
    }
    for value in figures.values():
        value["ratio"] = value["ours"] / value["raw"]
        value["target_met"] = value["ratio"] >= 0.95
    result = {
        "settings": dict(n=n, image_size=size, channels=4, epochs=epochs, batch_size=batch_size,
                         repeats=repeats, predict_repeats=predict_repeats, weights=None,
                         workers=clf.workers),
        "images_per_second": figures,
        "seconds": {"fit": fit_times, "epochs_after_first": epoch_times,
                    "predict": predict_times},
        "same_network_parameters": int(clf.model_.count_params()) == int(model.count_params()),
        "n_parameters": int(model.count_params()),
    }
    labels = {"fit_end_to_end": "training, whole `fit` call",
              "fit_steady_state": "training, epochs after the first",
              "predict": "prediction, warm `predict`"}
    lines = [
        "# Speed: HPAVGG16Classifier against raw keras.Model.fit / predict of the same network",
        f"{n} HPA-like RGBY images of {size} px (uint8, in memory), VGG16 from scratch "
        f"({result['n_parameters']:,} parameters in both), batch {batch_size}, {epochs} epochs a "
        f"fit; medians of {repeats} fits and {predict_repeats} predictions per method, "
        "alternated.",
        "",
        "| what | ours (images/s) | raw Keras (images/s) | ratio ours / raw | target >= 0.95 |",
        "|---|---:|---:|---:|---|",
    ]
    for key, value in figures.items():
        lines.append(f"| {labels[key]} | {value['ours']:.1f} | {value['raw']:.1f} | "
                     f"{value['ratio']:.3f} | {'met' if value['target_met'] else 'not met'} |")
    run.finish(result, lines)


if __name__ == "__main__":
    main()
