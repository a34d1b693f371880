"""Benchmark: which per-class threshold strategy of ``MultilabelThresholdTuner`` holds on new data.

Tuned thresholds maximize the macro F1 of the rows they are tuned on; on new data a rare class
whose threshold was fitted to two or three positives falls back, often after predicting itself for
most images. This script measures, for each strategy, the F1 on the tuning rows against the F1 on
held-out rows (the gap is the overfitting), per class and overall.

For every seed: ``make_hpa_like(--n, --image-size, random_state=seed)`` (label sets drawn from the
real ``train.csv`` distribution), and out-of-fold probabilities of every image from a 5-fold
multilabel-stratified cross-validation of a real classifier (``--model``):

- ``logistic`` (default): one logistic regression per class (``C=0.05``) on standardized 8x8 px
  RGBY thumbnails, the non-deep floor of ``bench_macro_f1.py``, whose held-out macro F1 with tuned
  thresholds matches VGG16's at the CPU budget there (0.121 against 0.120);
- ``vgg16``: ``HPAVGG16Classifier(weights=None, epochs=--epochs, batch_size=32,
  learning_rate=3e-4)`` on the images (from scratch: no download on these machines). Meant for a
  GPU: on a shared 2-core CPU, 5 folds of 1,200 images for 3 epochs did not finish in 37 minutes.

Then ``--splits`` multilabel-stratified splits of those rows into a tuning part
(``--tune-fractions`` of the rows; the demo tunes on a validation part of 16% of 1,500 images) and
a test part (the rest). Each strategy tunes on the tuning part's probabilities
(``MultilabelThresholdTuner(prefitted, cv="prefit", refit=False, **strategy)``, candidates: the
default 100 per class) and is scored on both parts: per-class F1, macro F1 (the competition's
metric), micro F1, mean labels per image and the share of images left without a label. Each
bootstrap strategy is seeded with the split's seed.

Writes ``bench_threshold_strategies.json``, ``.md`` and ``.png`` (tuned-on against test F1 per
class, one panel per strategy, and the test macro and micro F1 of every strategy) into ``--out``.
Run: ``python benchmarks/bench_threshold_strategies.py`` (about 7 minutes on 2 busy CPU cores) or
``--quick``; ``--name`` changes the file names (e.g. for a ``--model vgg16`` run).
"""

import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

#: name -> MultilabelThresholdTuner arguments (None: the untuned 0.5 rule).
STRATEGIES = {
    "0.5 (untuned)": None,
    "f1 (plain)": {},
    "label_frequency": {"scoring": "label_frequency"},
    "bootstrap": {"n_bootstrap": 100},
    "min_positives=3": {"min_positives": 3},
    "min_positives=5": {"min_positives": 5},
    "min_positives=10": {"min_positives": 10},
    "prior_strength=2": {"prior_strength": 2.0},
    "prior_strength=5": {"prior_strength": 5.0},
    "prior_strength=10": {"prior_strength": 10.0},
    "bootstrap + min_positives=5": {"n_bootstrap": 100, "min_positives": 5},
    "bootstrap + prior_strength=5": {"n_bootstrap": 100, "prior_strength": 5.0},
}
PLAIN = "f1 (plain)"
PANELS = ("f1 (plain)", "label_frequency", "bootstrap", "min_positives=5", "prior_strength=5",
          "bootstrap + min_positives=5")


class _Precomputed(ClassifierMixin, BaseEstimator):
    """A fitted classifier whose probabilities are its input: ``predict_proba(P) = P``."""

    def fit(self, X, Y=None):
        self.fitted_ = True
        return self

    def predict_proba(self, X):
        return np.asarray(X, dtype=np.float64)


def _thumbnails(X):
    n, h, _, c = X.shape
    f = h // 8
    small = X[:, : 8 * f, : 8 * f].reshape(n, 8, f, 8, f, c).mean(axis=(2, 4))
    return small.reshape(n, -1).astype(np.float32) / 255.0


def _make_model(name, args, seed):
    if name == "logistic":
        from sklearn.linear_model import LogisticRegression
        from sklearn.multiclass import OneVsRestClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import FunctionTransformer, StandardScaler

        return make_pipeline(FunctionTransformer(_thumbnails), StandardScaler(),
                             OneVsRestClassifier(LogisticRegression(C=0.05, max_iter=2000)))
    from hpa_sklearn import HPAVGG16Classifier

    return HPAVGG16Classifier(weights=None, epochs=args.epochs, batch_size=32,
                              learning_rate=3e-4, random_state=seed, verbose=0)


def _out_of_fold(X, Y, args, seed):
    """5-fold multilabel-stratified out-of-fold probabilities of ``--model``."""
    from hpa_sklearn._decision import positive_proba
    from hpa_sklearn.model_selection import MultilabelStratifiedKFold

    proba = np.zeros(Y.shape)
    for train, test in MultilabelStratifiedKFold(5, random_state=seed).split(X, Y):
        model = _make_model(args.model, args, seed).fit(X[train], Y[train])
        proba[test] = positive_proba(model.predict_proba(X[test]))
    return proba


def _scores(Y, proba, thresholds):
    from hpa_sklearn._decision import apply_thresholds
    from hpa_sklearn.metrics import per_class_f1

    pred = apply_thresholds(proba, thresholds)
    fallback = apply_thresholds(proba, thresholds, at_least_one_label=True)
    tp = float((Y & pred).sum())
    per_class = per_class_f1(Y, pred)
    return dict(
        per_class_f1=per_class,
        macro_f1=float(per_class.mean()),
        macro_f1_at_least_one=float(per_class_f1(Y, fallback).mean()),
        micro_f1=2 * tp / float(Y.sum() + pred.sum()),
        labels_per_image=float(pred.sum(axis=1).mean()),
        empty_share=float((pred.sum(axis=1) == 0).mean()),
    )


def _evaluate(Y, proba, tune, test, params, seed):
    from hpa_sklearn.thresholds import MultilabelThresholdTuner

    start = time.perf_counter()
    if params is None:
        thresholds = np.full(Y.shape[1], 0.5)
    else:
        tuner = MultilabelThresholdTuner(_Precomputed().fit(None), cv="prefit", refit=False,
                                         random_state=seed, **params)
        thresholds = tuner.fit(proba[tune], Y[tune]).best_thresholds_
    seconds = time.perf_counter() - start
    on_tune = _scores(Y[tune], proba[tune], thresholds)
    on_test = _scores(Y[test], proba[test], thresholds)
    return dict(thresholds=thresholds, seconds=seconds, tune=on_tune, test=on_test)


def _mean_sd(values):
    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else 0.0


def _summarize(runs, names):
    """Per strategy: means over runs, and the paired difference from the plain strategy."""
    summary = []
    plain_test = np.array([r["strategies"][PLAIN]["test"]["macro_f1"] for r in runs])
    for name in names:
        entries = [r["strategies"][name] for r in runs]
        row = {"strategy": name, "params": STRATEGIES[name]}
        for part in ("tune", "test"):
            for key in ("macro_f1", "micro_f1", "labels_per_image", "empty_share",
                        "macro_f1_at_least_one"):
                row[f"{part}_{key}"], row[f"{part}_{key}_sd"] = _mean_sd(
                    [e[part][key] for e in entries])
        test = np.array([e["test"]["macro_f1"] for e in entries])
        difference = test - plain_test
        row["test_macro_f1_minus_plain"] = float(difference.mean())
        row["test_macro_f1_minus_plain_se"] = (
            float(difference.std(ddof=1) / np.sqrt(difference.size)) if difference.size > 1
            else 0.0)
        row["runs_better_than_plain"] = int((difference > 0).sum())
        row["gap_macro_f1"] = row["tune_macro_f1"] - row["test_macro_f1"]
        tune_pc = np.mean([e["tune"]["per_class_f1"] for e in entries], axis=0)
        test_pc = np.mean([e["test"]["per_class_f1"] for e in entries], axis=0)
        row["per_class_tune_f1"] = tune_pc
        row["per_class_test_f1"] = test_pc
        row["per_class_threshold_median"] = np.median([e["thresholds"] for e in entries], axis=0)
        row["seconds_mean"] = float(np.mean([e["seconds"] for e in entries]))
        summary.append(row)
    return summary


def _plot(setting, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hpa_sklearn._io.atomic import save_figure
    from hpa_sklearn.datasets import CLASS_NAMES

    rows = {row["strategy"]: row for row in setting["summary"]}
    panels = [name for name in PANELS if name in rows]
    positives = np.asarray(setting["tune_positives_mean"])
    fig, axes = plt.subplots(2, 4, figsize=(18, 9))
    axes = axes.ravel()
    for ax, name in zip(axes, panels):
        row = rows[name]
        x, y = np.asarray(row["per_class_tune_f1"]), np.asarray(row["per_class_test_f1"])
        points = ax.scatter(x, y, c=np.log10(np.maximum(positives, 0.5)), cmap="viridis",
                            vmin=np.log10(0.5), vmax=np.log10(max(positives.max(), 1)), s=28)
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
        for j in np.argsort(x - y)[-3:]:  # the three largest gaps
            ax.annotate(CLASS_NAMES[j] if len(x) == len(CLASS_NAMES) else str(j), (x[j], y[j]),
                        fontsize=7, xytext=(3, -8), textcoords="offset points")
        for axis in ("x", "y"):  # square-root scale: most classes score below 0.3
            getattr(ax, f"set_{axis}scale")("function", functions=(np.sqrt, np.square))
            getattr(ax, f"set_{axis}ticks")([0, 0.02, 0.1, 0.2, 0.4, 0.7, 1])
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="F1 on the tuning part (sqrt scale)",
               ylabel="F1 on the test part (sqrt scale)",
               title=f"{name}\nmacro F1 {row['tune_macro_f1']:.3f} tuned-on, "
                     f"{row['test_macro_f1']:.3f} test", )
        ax.title.set_fontsize(9)
    fig.colorbar(points, ax=axes[len(panels) - 1], label="log10 positives in the tuning part")
    names = [row["strategy"] for row in setting["summary"]]
    ax = axes[len(panels)]
    index = np.arange(len(names))
    ax.barh(index - 0.2, [rows[n]["test_macro_f1"] for n in names], 0.4, label="macro F1",
            xerr=[rows[n]["test_macro_f1_sd"] for n in names], color="tab:blue")
    ax.barh(index + 0.2, [rows[n]["test_micro_f1"] for n in names], 0.4, label="micro F1",
            xerr=[rows[n]["test_micro_f1_sd"] for n in names], color="tab:orange")
    ax.set_yticks(index, names, fontsize=7)
    ax.invert_yaxis()
    ax.set(xlabel="test part (mean +- sd over runs)", title="test macro and micro F1")
    ax.title.set_fontsize(9)
    ax.legend(fontsize=7, loc="lower right")
    ax = axes[len(panels) + 1]
    ax.barh(index, [rows[n]["test_labels_per_image"] for n in names], color="tab:green")
    ax.axvline(setting["true_labels_per_image"], color="black", lw=1, label="true")
    ax.set_yticks(index, names, fontsize=7)
    ax.invert_yaxis()
    ax.set(xlabel="mean labels per image (test part)", title="labels per image")
    ax.title.set_fontsize(9)
    ax.legend(fontsize=7)
    for ax in axes[len(panels) + 2:]:
        ax.axis("off")
    fig.suptitle(f"Threshold strategies: tuned on {setting['n_tune']} rows, tested on "
                 f"{setting['n_test']} ({setting['runs']} runs; per-class F1 = mean over runs)")
    fig.tight_layout()
    save_figure(fig, path, dpi=80)
    plt.close(fig)


def _setting_markdown(setting, title):
    from hpa_sklearn.datasets import CLASS_NAMES

    lines = [
        f"## {title}",
        "",
        f"{setting['n_tune']} tuning rows, {setting['n_test']} test rows, {setting['runs']} runs "
        f"(seeds x splits). True labels per image: {setting['true_labels_per_image']:.2f}. "
        "Mean (sd) over runs; 'gap' = macro F1 on the tuning part minus on the test part; "
        "'- plain' = paired difference of the test macro F1 from the plain strategy's "
        "(mean +- standard error; runs better / all).",
        "",
        "| strategy | macro F1, tuning part | macro F1, test | gap | - plain | micro F1, test | "
        "labels / image, test | images without label, test | macro F1, test, at_least_one_label "
        "|",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in setting["summary"]:
        lines.append(
            f"| {r['strategy']} | {r['tune_macro_f1']:.4f} | {r['test_macro_f1']:.4f} "
            f"({r['test_macro_f1_sd']:.4f}) | {r['gap_macro_f1']:+.4f} | "
            f"{r['test_macro_f1_minus_plain']:+.4f} +- {r['test_macro_f1_minus_plain_se']:.4f} "
            f"({r['runs_better_than_plain']}/{setting['runs']}) | "
            f"{r['test_micro_f1']:.4f} ({r['test_micro_f1_sd']:.4f}) | "
            f"{r['test_labels_per_image']:.2f} | {100 * r['test_empty_share']:.1f}% | "
            f"{r['test_macro_f1_at_least_one']:.4f} |")
    rows = {r["strategy"]: r for r in setting["summary"]}
    panels = [n for n in PANELS if n in rows]
    names = CLASS_NAMES if len(setting["tune_positives_mean"]) == len(CLASS_NAMES) else None
    lines += [
        "",
        "Per class: F1 on the tuning part / on the test part (mean over runs), and the median "
        "threshold.",
        "",
        "| class | positives (tuning) | " + " | ".join(panels) + " |",
        "|---|---:|" + "---|" * len(panels),
    ]
    for j, positives in enumerate(setting["tune_positives_mean"]):
        cells = [f"{rows[n]['per_class_tune_f1'][j]:.2f} / {rows[n]['per_class_test_f1'][j]:.2f} "
                 f"(t={rows[n]['per_class_threshold_median'][j]:.3f})" for n in panels]
        name = f"{j} {names[j]}" if names else str(j)
        lines.append(f"| {name} | {positives:.1f} | " + " | ".join(cells) + " |")
    return lines


def main():
    parser = _common.parser(__doc__)
    parser.add_argument("--n", type=int, default=None, help="images per seed (default 2000)")
    parser.add_argument("--image-size", type=int, default=None, help="default 32")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="default 0 1 2 3 4")
    parser.add_argument("--splits", type=int, default=None,
                        help="tuning/test splits per seed (default 4)")
    parser.add_argument("--tune-fractions", type=float, nargs="+", default=None,
                        help="share of the rows the thresholds are tuned on; the first is the "
                             "headline setting, whose plot is drawn (default 0.2 0.5)")
    parser.add_argument("--model", choices=("logistic", "vgg16"), default="logistic")
    parser.add_argument("--epochs", type=int, default=3, help="epochs of --model vgg16")
    args = parser.parse_args()
    quick = args.quick
    args.n = args.n or (300 if quick else 2000)
    args.image_size = args.image_size or 32
    args.seeds = args.seeds if args.seeds is not None else ([0] if quick else [0, 1, 2, 3, 4])
    args.splits = args.splits or (2 if quick else 4)
    args.tune_fractions = args.tune_fractions or ([0.3] if quick else [0.2, 0.5])
    if args.model == "vgg16":
        _common.quiet_tensorflow()
    names = list(STRATEGIES)

    from hpa_sklearn.datasets import make_hpa_like
    from hpa_sklearn.metrics import macro_f1
    from hpa_sklearn.model_selection import MultilabelStratifiedShuffleSplit

    run = _common.Run("bench_threshold_strategies", args)
    warnings.filterwarnings("ignore", category=UserWarning)  # classes absent from a part/fold
    settings = {fraction: [] for fraction in args.tune_fractions}
    models = []
    for seed in args.seeds:
        X, Y = make_hpa_like(n_samples=args.n, image_size=args.image_size, random_state=seed,
                             return_X_y=True)
        start = time.perf_counter()
        proba = _out_of_fold(X, Y, args, seed)
        models.append(dict(seed=seed, seconds=time.perf_counter() - start,
                           oof_macro_f1_at_05=macro_f1(Y, (proba >= 0.5).astype(np.uint8))))
        print(f"seed {seed}: out-of-fold probabilities in {models[-1]['seconds']:.0f} s",
              flush=True)
        for fraction in args.tune_fractions:
            splitter = MultilabelStratifiedShuffleSplit(
                args.splits, train_size=fraction, test_size=1 - fraction, random_state=seed)
            for split, (tune, test) in enumerate(splitter.split(proba, Y)):
                split_seed = 1000 * seed + split
                strategies = {name: _evaluate(Y, proba, tune, test, STRATEGIES[name], split_seed)
                              for name in names}
                settings[fraction].append(dict(
                    seed=seed, split=split, n_tune=len(tune), n_test=len(test),
                    tune_positives=Y[tune].sum(axis=0), test_positives=Y[test].sum(axis=0),
                    true_labels_per_image=float(Y[test].sum(axis=1).mean()),
                    strategies=strategies))
                print(f"  tune {fraction:.0%} split {split}: test macro F1 " + ", ".join(
                    f"{name} {strategies[name]['test']['macro_f1']:.3f}" for name in names[:4]),
                    flush=True)

    results = []
    for fraction, runs in settings.items():
        summary = _summarize(runs, names)
        tuned = [row for row in summary if row["params"] is not None]
        best = max(tuned, key=lambda row: row["test_macro_f1"])
        results.append(dict(
            tune_fraction=fraction, n_tune=int(np.mean([r["n_tune"] for r in runs])),
            n_test=int(np.mean([r["n_test"] for r in runs])), runs=len(runs),
            true_labels_per_image=float(np.mean([r["true_labels_per_image"] for r in runs])),
            tune_positives_mean=np.mean([r["tune_positives"] for r in runs], axis=0),
            summary=summary, best_test_macro_f1=best["strategy"],
            best_params=best["params"]))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plot = out / f"{run.name}.png"
    _plot(results[0], plot)

    result = {
        "settings": dict(n=args.n, image_size=args.image_size, seeds=args.seeds,
                         splits=args.splits, tune_fractions=args.tune_fractions,
                         model=args.model, epochs=args.epochs if args.model == "vgg16" else None,
                         candidates_per_class=100, strategies=STRATEGIES),
        "models": models,
        "results": results,
        "plot": plot.name,
    }
    model = ("logistic regression per class (C=0.05) on standardized 8x8 px RGBY thumbnails"
             if args.model == "logistic" else
             f"HPAVGG16Classifier(weights=None, epochs={args.epochs}, batch_size=32, "
             "learning_rate=3e-4)")
    lines = [
        "# Threshold strategies: F1 on the tuning part against F1 on new data",
        f"`make_hpa_like({args.n}, {args.image_size})` per seed (label sets from the real "
        f"train.csv), seeds {', '.join(map(str, args.seeds))}; out-of-fold probabilities of a "
        f"{model} (5-fold multilabel-stratified); {args.splits} multilabel-stratified "
        "tuning/test splits of them per seed and tuning fraction. "
        "`MultilabelThresholdTuner(cv='prefit', refit=False, **strategy)`, 100 candidates per "
        "class, bootstrap strategies with 100 resamples. Out-of-fold macro F1 at 0.5, whole "
        "set: " + ", ".join(f"{m['oof_macro_f1_at_05']:.3f}" for m in models) + ".",
        "",
        f"Plot of the first setting: `{plot.name}`.",
        "",
    ]
    for setting in results:
        lines += _setting_markdown(
            setting, f"Tuned on {setting['tune_fraction']:.0%} of the rows")
        lines += ["", f"Best test macro F1 (tuned strategies): **{setting['best_test_macro_f1']}** "
                      f"`{setting['best_params']}`.", ""]
    run.finish(result, lines)


if __name__ == "__main__":
    main()
