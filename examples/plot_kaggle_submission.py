"""
From a Kaggle-layout folder to a submission CSV
===============================================

The competition's data is a folder holding ``train.csv`` (``Id,Target``; Target is the
space-separated class ids, e.g. ``16 0``), ``train/{Id}_{red,green,blue,yellow}.png``,
``sample_submission.csv`` (``Id,Predicted``: the test ids) and ``test/{Id}_{channel}.png``. This
example runs the whole path on such a folder:

1. without ``--data``, it first writes a small folder in that layout from
   :func:`~hpa_sklearn.datasets.make_hpa_like` with
   :func:`~hpa_sklearn.datasets.write_kaggle_layout` (labelled training images, and test images
   with a template and no labels), inside ``--out``;
2. :func:`~hpa_sklearn.datasets.load_hpa` decodes the training images into a uint8 array (in
   parallel, resized to ``--image-size``, cached on disk as a memory-mapped ``.npy`` in
   ``--out/cache``: a second run loads instantly) and reads the labels;
3. :class:`~hpa_sklearn.HPAVGG16Classifier` is trained on them;
4. ``load_hpa(..., labels="sample_submission.csv")`` loads the test images of the template (its
   ``target`` is None), the classifier predicts them with ``at_least_one_label=True`` (every HPA
   image has a label), and :func:`~hpa_sklearn.datasets.write_submission` writes
   ``submission.csv`` with exactly the template's ids in the template's order.

On the real data, point ``--data`` at the unpacked competition folder; the outputs (cache and
submission) still go to ``--out``, never into the data folder::

    python examples/plot_kaggle_submission.py --data /path/to/human-protein-atlas \\
        --image-size 512 --epochs 20 --out submission-run

(on 31,072 images at 512 px that is a GPU job, and ImageNet weights help: set ``weights=
"imagenet"`` below). The ``hpa-sklearn train`` and ``hpa-sklearn predict`` commands do the same
with threshold tuning and a saved model folder.

Run from the repository root::

    python examples/plot_kaggle_submission.py          # 400 + 100 synthetic images: minutes
    python examples/plot_kaggle_submission.py --tiny   # 48 + 16 images, 1 epoch: the CI setting
"""

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # silence TensorFlow's start-up messages


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1].strip(),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true",
                        help="tiny settings (48 training + 16 test images of 32 px, 1 epoch)")
    parser.add_argument("--out", default="hpa-sklearn-output/examples/kaggle_submission",
                        help="output folder (default: %(default)s)")
    parser.add_argument("--data", default=None,
                        help="a Kaggle-layout folder (train.csv, train/, sample_submission.csv, "
                             "test/); default: write a synthetic one into --out")
    parser.add_argument("--n-train", type=int, default=400)
    parser.add_argument("--n-test", type=int, default=100)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.tiny:
        args.n_train, args.n_test, args.image_size, args.epochs = 48, 16, 32, 1
    return args


def write_synthetic_folder(folder, args):
    """A Kaggle-layout folder of HPA-like images: labelled train part, unlabelled test part."""
    from hpa_sklearn.datasets import make_hpa_like, write_kaggle_layout

    data = make_hpa_like(n_samples=args.n_train + args.n_test, image_size=args.image_size,
                         random_state=args.seed)
    train, test = slice(0, args.n_train), slice(args.n_train, None)
    # train.csv + train/{Id}_{channel}.png
    write_kaggle_layout(folder, data.images[train], data.ids[train], data.target[train])
    # sample_submission.csv (Id,Predicted) + test/{Id}_{channel}.png, no labels
    write_kaggle_layout(folder, data.images[test], data.ids[test])
    return folder


def main(argv=None):
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from hpa_sklearn import HPAVGG16Classifier
    from hpa_sklearn.datasets import load_hpa, read_submission, write_submission

    folder = Path(args.data) if args.data else write_synthetic_folder(out / "kaggle_data", args)
    print(f"data folder: {folder}: {sorted(p.name for p in folder.iterdir())}")

    # training images and labels; n_jobs=-1 decodes on every core, the cache is reused next time
    train = load_hpa(folder, labels="train.csv", image_size=args.image_size, n_jobs=-1,
                     cache_dir=out / "cache", verbose=1)
    print(train.DESCR)

    # weights="imagenet" (the estimator's default) starts from ImageNet: a download
    classifier = HPAVGG16Classifier(weights=None, epochs=args.epochs, batch_size=16,
                                    learning_rate=3e-4, at_least_one_label=True,
                                    random_state=args.seed, verbose=2)
    classifier.fit(train.images, train.target)

    # the test images of the template; a template has no labels: target is None
    test = load_hpa(folder, labels="sample_submission.csv", image_size=args.image_size,
                    n_jobs=-1, cache_dir=out / "cache", verbose=1)
    Y_pred = classifier.predict(test.images)
    path = write_submission(out / "submission.csv", test.ids, Y_pred,
                            template=folder / "sample_submission.csv")

    ids, Y_back = read_submission(path)
    print(f"wrote {path}: {len(ids)} rows, {Y_back.sum(axis=1).mean():.2f} labels per image")
    print(path.read_text().splitlines()[:4])


if __name__ == "__main__":
    main()
