"""Benchmark: per-class threshold search of MultilabelThresholdTuner vs scikit-learn.

On 31,072 x 28 synthetic out-of-fold probabilities (labels from the real ``train.csv`` when it is
beside the checkout, else drawn with HPA-like class frequencies), it times:

- ``MultilabelThresholdTuner(cv="prefit").fit``: the whole tuning step, with 100 candidates per
  class and with every observed score as a candidate (``thresholds="exact"``);
- scikit-learn's ``TunedThresholdClassifierCV(cv="prefit", scoring="f1", thresholds=100)`` fitted
  once per class on the same probabilities (it is binary-only): the same candidate grid (100
  values from the class's smallest to its largest probability) and the same tie rule (first
  maximum), so the thresholds must agree.

Writes ``benchmarks/results/bench_thresholds.json`` and ``.md`` (or into ``--out``). Run:
``python benchmarks/bench_thresholds.py [--repeats 5]``; ``--quick`` (2,000 rows, one run) is a
smoke test.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import TunedThresholdClassifierCV

from hpa_sklearn._io.atomic import atomic_write_text
from hpa_sklearn.datasets import N_CLASSES, read_label_csv
from hpa_sklearn.thresholds import MultilabelThresholdTuner

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
N_SAMPLES = 31_072


class _Precomputed(ClassifierMixin, BaseEstimator):
    """A fitted classifier whose probabilities are given as ``X``: one column (binary, for
    scikit-learn) or one column per label (for the tuner)."""

    def fit(self, X, y):
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X):
        X = np.asarray(X, dtype=float)
        return np.column_stack([1 - X[:, 0], X[:, 0]]) if X.shape[1] == 1 else X


def _labels(rng):
    env = os.environ.get("HPA_SKLEARN_DATA")
    csv = Path(env) / "train.csv" if env else ROOT.parent / "shared" / "data" / "hpa" / "train.csv"
    if csv.is_file():
        return read_label_csv(csv)[1], f"real labels ({csv.name}, n={N_SAMPLES})"
    # HPA-like imbalance: prevalences from 0.04 % to 41 %, log-spaced
    prevalence = np.geomspace(0.0004, 0.41, N_CLASSES)
    return rng.binomial(1, prevalence, size=(N_SAMPLES, N_CLASSES)).astype(np.uint8), (
        "synthetic labels (prevalence 0.04 % to 41 %)"
    )


def _out_of_fold_probabilities(Y, rng):
    """Probabilities of a mediocre, class-dependent model: rare classes are harder."""
    separation = rng.uniform(0.5, 2.5, size=Y.shape[1])
    logits = (2 * Y.astype(np.float64) - 1) * separation + rng.normal(size=Y.shape) - 1.5
    return (1 / (1 + np.exp(-logits))).astype(np.float32).astype(np.float64)


def _median_seconds(function, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), result


def _tuner(P, Y, thresholds):
    tuner = MultilabelThresholdTuner(
        _Precomputed().fit(P, None), cv="prefit", refit=False, thresholds=thresholds
    )
    return tuner.fit(P, Y)


def _sklearn_per_class(P, Y):
    thresholds = []
    for j in range(Y.shape[1]):
        tuned = TunedThresholdClassifierCV(
            _Precomputed().fit(P[:, [j]], Y[:, j]),
            scoring="f1",
            thresholds=100,
            cv="prefit",
            refit=False,
        ).fit(P[:, [j]], Y[:, j])
        thresholds.append(tuned.best_threshold_)
    return np.array(thresholds)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=None, help="timed runs of each method")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: the first 2,000 rows, one run (the figures mean nothing)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder of the results")
    args = parser.parse_args()
    args.repeats = args.repeats or (1 if args.quick else 5)

    rng = np.random.RandomState(0)
    Y, label_source = _labels(rng)
    if args.quick:
        Y, label_source = Y[:2000], f"{label_source}, first 2,000 rows (--quick)"
    P = _out_of_fold_probabilities(Y, rng)

    ours_s, ours = _median_seconds(lambda: _tuner(P, Y, 100), args.repeats)
    exact_s, exact = _median_seconds(lambda: _tuner(P, Y, "exact"), args.repeats)
    theirs_s, theirs = _median_seconds(lambda: _sklearn_per_class(P, Y), args.repeats)

    difference = np.abs(ours.best_thresholds_ - theirs)
    result = {
        "n_samples": int(Y.shape[0]),
        "n_labels": int(Y.shape[1]),
        "labels": label_source,
        "repeats": args.repeats,
        "tuner_100_candidates_s": ours_s,
        "tuner_exact_s": exact_s,
        "sklearn_per_class_100_candidates_s": theirs_s,
        "speedup_100_candidates": theirs_s / ours_s,
        "thresholds_agree": bool(np.array_equal(ours.best_thresholds_, theirs)),
        "max_abs_threshold_difference": float(difference.max()),
        "oof_macro_f1_100_candidates": ours.best_score_,
        "oof_macro_f1_exact": exact.best_score_,
        "machine": _common.machine_line(_common.machine()),
        "command": _common.command_line(),
        "code": _common.provenance(),
        "load_average_1min_at_end": os.getloadavg()[0],
        "versions": {"numpy": np.__version__, "scikit-learn": sklearn.__version__},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "bench_thresholds.json", json.dumps(result, indent=2) + "\n")
    table = [
        f"# Per-class threshold search: {result['n_samples']:,} x {result['n_labels']} "
        "out-of-fold probabilities",
        "",
        f"Command: `{result['command']}`",
        "",
        f"Labels: {label_source}. Median of {args.repeats} runs; {result['machine']} (1-min load "
        f"average {result['load_average_1min_at_end']:.1f} at the end); numpy {np.__version__}, "
        f"scikit-learn {sklearn.__version__}.",
        "",
        "| method | candidates per class | median time (s) | OOF macro F1 |",
        "|---|---|---:|---:|",
        f"| `MultilabelThresholdTuner(cv='prefit').fit` | 100 | {ours_s:.4f} | "
        f"{ours.best_score_:.5f} |",
        f"| `MultilabelThresholdTuner(cv='prefit', thresholds='exact').fit` | every score | "
        f"{exact_s:.4f} | {exact.best_score_:.5f} |",
        f"| `TunedThresholdClassifierCV(cv='prefit', scoring='f1')`, once per class | 100 | "
        f"{theirs_s:.4f} | |",
        "",
        f"Speed-up at 100 candidates: {result['speedup_100_candidates']:.0f}x. Thresholds "
        f"identical: {result['thresholds_agree']} (largest difference "
        f"{result['max_abs_threshold_difference']:.3g}).",
        "",
    ]
    atomic_write_text(args.out / "bench_thresholds.md", "\n".join(table))
    print("\n".join(table))


if __name__ == "__main__":
    main()
