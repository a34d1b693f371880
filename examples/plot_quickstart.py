"""
Quickstart: VGG16 on HPA-like images, in a script
=================================================

The library used from a plain Python script, the first of the design's three uses:

1. :func:`~hpa_sklearn.datasets.make_hpa_like` generates HPA-like four-channel images (red
   microtubules, green protein, blue nucleus, yellow ER) with labels drawn from the real
   competition's label distribution, as a uint8 array ``X`` of shape (n, size, size, 4) and a 0/1
   indicator matrix ``Y`` of shape (n, 28);
2. :func:`~hpa_sklearn.model_selection.multilabel_train_test_split` holds out a test part that
   keeps every label's frequency;
3. :class:`~hpa_sklearn.HPAVGG16Classifier` is fitted like any scikit-learn classifier, and
   ``predict_proba`` / ``predict`` give probabilities and 0/1 labels (threshold 0.5);
4. :func:`~hpa_sklearn.metrics.macro_f1` (the competition's metric) and
   :func:`~hpa_sklearn.metrics.per_class_scores` score the test part.

It writes ``per_class_scores.csv`` (precision, recall, F1 and support of each class on the test
part) and ``training_curves.png`` (loss and macro F1 per epoch) into ``--out``.

The network is trained from scratch (``weights=None``) because the ImageNet weights are a download;
with network access, ``weights="imagenet"`` (the default of the estimator) starts from them, the
first convolution's kernel extended to the yellow channel.

Run from the repository root::

    python examples/plot_quickstart.py           # 800 images, 32 px, 10 epochs: minutes on a CPU
    python examples/plot_quickstart.py --tiny    # 64 images, 1 epoch: the CI setting
"""

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # silence TensorFlow's start-up messages


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1].strip(),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true",
                        help="tiny settings (64 images of 32 px, 1 epoch) that finish in seconds")
    parser.add_argument("--out", default="hpa-sklearn-output/examples/quickstart",
                        help="output folder (default: %(default)s)")
    parser.add_argument("--n-samples", type=int, default=800)
    parser.add_argument("--image-size", type=int, default=32,
                        help="image side in px (the report used 64; default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.tiny:
        args.n_samples, args.image_size, args.epochs = 64, 32, 1
    return args


def main(argv=None):
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from hpa_sklearn import HPAVGG16Classifier
    from hpa_sklearn.datasets import make_hpa_like
    from hpa_sklearn.metrics import macro_f1, per_class_scores
    from hpa_sklearn.model_selection import multilabel_train_test_split

    # 1. data: uint8 images (n, size, size, 4) in the order red, green, blue, yellow; Y (n, 28)
    X, Y = make_hpa_like(n_samples=args.n_samples, image_size=args.image_size,
                         random_state=args.seed, return_X_y=True)
    print(f"X: {X.shape} {X.dtype}, Y: {Y.shape}, labels per image: {Y.sum(axis=1).mean():.2f}")

    # 2. a multilabel-stratified 75/25 split
    X_train, X_test, Y_train, Y_test = multilabel_train_test_split(
        X, Y, test_size=0.25, random_state=args.seed)

    # 3. the estimator. weights="imagenet" (the default) would start from the ImageNet weights;
    # batch_size=16 and learning_rate=3e-4 suit a small data set trained from scratch (the
    # report's values, the defaults, are 64 and 1e-4).
    classifier = HPAVGG16Classifier(weights=None, epochs=args.epochs, batch_size=16,
                                    learning_rate=3e-4, random_state=args.seed, verbose=2)
    classifier.fit(X_train, Y_train)

    proba = classifier.predict_proba(X_test)   # (n_test, 28) floats
    Y_pred = classifier.predict(X_test)        # (n_test, 28) 0/1, threshold 0.5
    print(f"probabilities {proba.shape}, predictions {Y_pred.shape}")

    # 4. scores on the test part
    print(f"test macro F1 (threshold 0.5): {macro_f1(Y_test, Y_pred):.4f}")
    print(f"classifier.score (the same macro F1): {classifier.score(X_test, Y_test):.4f}")
    table = per_class_scores(Y_test, Y_pred)
    table.to_csv(out / "per_class_scores.csv")
    print(table[table["support"] > 0].round(3).to_string())

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    history = classifier.history_
    epochs = range(1, len(history["loss"]) + 1)
    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    axes[0].plot(epochs, history["loss"], marker="o")
    axes[0].set(title="training loss (binary cross-entropy)", xlabel="epoch")
    axes[1].plot(epochs, history["f1"], marker="o")
    axes[1].set(title="training macro F1 (threshold 0.5)", xlabel="epoch")
    fig.tight_layout()
    fig.savefig(out / "training_curves.png", dpi=100)
    plt.close(fig)
    print(f"wrote {out / 'per_class_scores.csv'} and {out / 'training_curves.png'}")


if __name__ == "__main__":
    main()
