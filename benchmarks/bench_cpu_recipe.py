"""Benchmark: how long the "cpu" recipe takes on the full Kaggle set, from measured rates.

The "cpu" recipe (``hpa_sklearn.recipes.make_classifier("cpu")``: MobileNetV3-Small at 128 px,
warm-up and cosine, flips and right-angle rotations, 8-view test-time augmentation) is meant to
give a user without a GPU a useful model of the real images in hours. This script measures, on
this machine, against the plain alternative in the same run:

- training images per second of the recipe on ``--n`` HPA-like images of 128 px (epochs after the
  first, so that building and graph tracing are counted once, separately), and of the VGG16
  library recipe on the same images (the alternative a user of the original report would run);
- prediction images per second, with the recipe's 8-view test-time augmentation and without;

and projects the wall time of ``hpa-sklearn train --image-size 128 --recipe cpu
--tune-thresholds`` on the 31,072 Kaggle images (decoding at the loader's measured rate, the
recipe's epochs on 80 % for the threshold fold plus all of them for the final model, the fold's
predictions) and of predicting the 11,702 test images. Writes ``bench_cpu_recipe.{json,md}``.
Run: ``python benchmarks/bench_cpu_recipe.py`` or ``--quick``.
"""

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

KAGGLE_TRAIN = 31_072
KAGGLE_TEST = 11_702
# load_hpa at 128 px, 2 jobs: samples per second measured by bench_loader.py / bench_full_size.py
# on this kind of machine; used only for the projection's decoding term (overridable)
LOADER_RATE_128 = 60.0


def _fit_rate(make, X, Y, epochs):
    import keras

    class Clock(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.start, self.ends = time.perf_counter(), []

        def on_epoch_end(self, epoch, logs=None):
            self.ends.append(time.perf_counter() - self.start)

    clock = Clock()
    clf = make().set_params(epochs=epochs, callbacks=[clock])
    start = time.perf_counter()
    clf.fit(X, Y)
    total = time.perf_counter() - start
    per_epoch = float(np.median(np.diff(clock.ends)))
    return {"images_per_s": len(X) / per_epoch, "seconds_per_epoch": per_epoch,
            "fixed_s": total - epochs * per_epoch}, clf


def _predict_rate(clf, X, tta):
    clf.set_params(tta=tta)
    clf.predict_proba(X[:8])  # traced once
    start = time.perf_counter()
    clf.predict_proba(X)
    return len(X) / (time.perf_counter() - start)


def main():
    parser = _common.parser(__doc__)
    parser.add_argument("--n", type=int, default=None, help="images (default 512)")
    parser.add_argument("--loader-rate", type=float, default=LOADER_RATE_128,
                        help="load_hpa samples/s at 128 px for the projection")
    args = parser.parse_args()
    n = args.n or (32 if args.quick else 512)
    size = 32 if args.quick else 128
    epochs = 2 if args.quick else 3
    _common.quiet_tensorflow()
    from hpa_sklearn import HPAVGG16Classifier
    from hpa_sklearn.datasets import make_hpa_like
    from hpa_sklearn.recipes import RECIPES, make_classifier

    run = _common.Run("bench_cpu_recipe", args)
    X, Y = make_hpa_like(n_samples=n, image_size=size, random_state=0, return_X_y=True)
    recipe = dict(RECIPES["cpu"].params)
    cpu, model = _fit_rate(lambda: make_classifier("cpu", weights=None, input_size=None,
                                                   random_state=0, verbose=0), X, Y, epochs)
    cpu["predict_images_per_s"] = _predict_rate(model, X, None)
    cpu["predict_tta_images_per_s"] = _predict_rate(model, X, recipe["tta"])
    vgg, _ = _fit_rate(lambda: HPAVGG16Classifier(weights=None, random_state=0, verbose=0),
                       X, Y, epochs)
    recipe_epochs = recipe["epochs"]
    decode = KAGGLE_TRAIN / args.loader_rate
    fold = 0.8 * KAGGLE_TRAIN * recipe_epochs / cpu["images_per_s"] + cpu["fixed_s"]
    final = KAGGLE_TRAIN * recipe_epochs / cpu["images_per_s"] + cpu["fixed_s"]
    fold_predict = 0.2 * KAGGLE_TRAIN / cpu["predict_tta_images_per_s"]
    test_predict = KAGGLE_TEST / cpu["predict_tta_images_per_s"]
    projection = {"decode_s": decode, "final_fit_s": final, "threshold_fold_fit_s": fold,
                  "threshold_fold_predict_s": fold_predict,
                  "train_total_h": (decode + final + fold + fold_predict) / 3600,
                  "predict_test_h": (KAGGLE_TEST / args.loader_rate + test_predict) / 3600,
                  "vgg16_final_fit_h": KAGGLE_TRAIN * 10 / vgg["images_per_s"] / 3600}
    result = {"settings": {"n": n, "size": size, "epochs_measured": epochs,
                           "recipe_epochs": recipe_epochs, "loader_rate_128": args.loader_rate},
              "cpu_recipe": cpu, "vgg16_library": vgg,
              "speed_ratio": cpu["images_per_s"] / vgg["images_per_s"],
              "projection": projection}
    lines = [
        "# The cpu recipe on the full Kaggle set: measured rates and projected time",
        f"Measured on {n} HPA-like images of {size} px (epochs after the first; the fixed cost "
        "of building and tracing apart).",
        "",
        "| | train img/s | fixed cost (s) | predict img/s | with 8-view TTA |",
        "|---|---:|---:|---:|---:|",
        f"| cpu recipe (MobileNetV3-Small) | {cpu['images_per_s']:.1f} | {cpu['fixed_s']:.0f} | "
        f"{cpu['predict_images_per_s']:.1f} | {cpu['predict_tta_images_per_s']:.1f} |",
        f"| VGG16 library recipe | {vgg['images_per_s']:.1f} | {vgg['fixed_s']:.0f} | | |",
        "",
        f"Training speed ratio, cpu recipe / VGG16: {result['speed_ratio']:.1f}x.",
        "",
        f"Projected `hpa-sklearn train --image-size 128 --recipe cpu --tune-thresholds` on the "
        f"{KAGGLE_TRAIN:,} Kaggle images: decoding {decode / 60:.0f} min (at "
        f"{args.loader_rate:.0f} samples/s), the threshold fold {fold / 3600:.1f} h + "
        f"{fold_predict / 60:.0f} min of predictions, the final model {final / 3600:.1f} h "
        f"({recipe_epochs} epochs): **{projection['train_total_h']:.1f} h** in all; predicting "
        f"the {KAGGLE_TEST:,} test images with 8-view TTA: "
        f"{projection['predict_test_h']:.1f} h. The VGG16 library recipe's final fit alone "
        f"(10 epochs, same size) would take {projection['vgg16_final_fit_h']:.1f} h.",
    ]
    run.finish(result, lines)


if __name__ == "__main__":
    main()
