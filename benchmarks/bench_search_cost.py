"""Benchmark: the cost of searching the report's 720-combination table, successive halving
(``make_report_search``) against the full grid (``GridSearchCV``), in training epochs.

The cost of a search in epochs does not depend on the network, only on the schedule: every
candidate of a halving round trains ``n_resources`` epochs on each fold; the full grid trains all
720 for the final number of epochs on each fold; both refit the best once on all the data. To
really run the 720-combination table here (a 2-core CPU, where 720 x 3 VGG16 fits are out of
reach), the searched estimator is ``TinyNet``: a one-hidden-layer multi-label network in NumPy with
the same searched parameters as ``HPAVGG16Classifier`` (``batch_size``, ``learning_rate``,
``optimizer`` in {adam, adagrad, adamax}, ``activation`` in {relu, sigmoid, tanh}, ``dropout``) and
``epochs`` as the resource, on 8x8-px RGBY thumbnails of HPA-like images. It counts every epoch it
trains, so the table's epochs are counted, and checked against ``cv_results_``.

With ``--vgg16`` (the default setting) the same ``make_report_search`` also runs with
``HPAVGG16Classifier`` itself on a tiny problem, on a random slice of the table
(``n_candidates=9``), to show the machinery runs with the real network; its epochs are counted
by a Keras callback.

Writes ``bench_search_cost.json`` and ``.md`` into ``--out``. Run:
``python benchmarks/bench_search_cost.py`` (about 10 min on 2 cores) or ``--quick``.
"""

import sys
import time
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils._tags import ClassifierTags

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

EPOCHS_TRAINED = [0]  # every TinyNet epoch, in this process (the searches run with n_jobs=None)


class TinyNet(ClassifierMixin, BaseEstimator):
    """A one-hidden-layer multi-label network (NumPy) with HPAVGG16Classifier's searched parameters.

    Sigmoid outputs, binary cross-entropy, mini-batches of ``batch_size``, dropout after the hidden
    layer, and the report's optimizers (Adam, Adagrad, Adamax with Keras' defaults).
    """

    def __init__(self, batch_size=64, learning_rate=1e-4, optimizer="adam", activation="relu",
                 dropout=0.2, epochs=10, hidden_units=32, random_state=0):
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.optimizer = optimizer
        self.activation = activation
        self.dropout = dropout
        self.epochs = epochs
        self.hidden_units = hidden_units
        self.random_state = random_state

    def _features(self, X):
        X = np.asarray(X, dtype=np.float32).reshape(len(X), -1) / 255.0
        return (X - self.mean_) / self.scale_

    def _hidden(self, Z):
        if self.activation == "relu":
            return np.maximum(Z, 0), (Z > 0).astype(np.float32)
        if self.activation == "sigmoid":
            A = 1 / (1 + np.exp(-Z))
            return A, A * (1 - A)
        A = np.tanh(Z)
        return A, 1 - A * A

    def fit(self, X, Y):
        rng = np.random.default_rng(self.random_state)
        Y = np.asarray(Y, dtype=np.float32)
        flat = np.asarray(X, dtype=np.float32).reshape(len(X), -1) / 255.0
        self.mean_, self.scale_ = flat.mean(axis=0), flat.std(axis=0) + 1e-3
        X = self._features(X)
        d, h, k = X.shape[1], self.hidden_units, Y.shape[1]
        params = [rng.normal(0, np.sqrt(2 / d), (d, h)).astype(np.float32), np.zeros(h, np.float32),
                  rng.normal(0, np.sqrt(1 / h), (h, k)).astype(np.float32),
                  np.full(k, -2.0, np.float32)]
        m = [np.zeros_like(p) for p in params]
        v = [np.zeros_like(p) for p in params]
        t = 0
        for _ in range(self.epochs):
            order = rng.permutation(len(X))
            for start in range(0, len(X), self.batch_size):
                rows = order[start : start + self.batch_size]
                xb, yb = X[rows], Y[rows]
                A, dA = self._hidden(xb @ params[0] + params[1])
                keep = (rng.random(A.shape) >= self.dropout) / (1 - self.dropout)
                A = A * keep
                P = 1 / (1 + np.exp(-(A @ params[2] + params[3])))
                G = (P - yb) / len(rows)
                dH = (G @ params[2].T) * keep * dA
                grads = [xb.T @ dH, dH.sum(0), A.T @ G, G.sum(0)]
                t += 1
                for i, g in enumerate(grads):
                    if self.optimizer == "adam":
                        m[i] = 0.9 * m[i] + 0.1 * g
                        v[i] = 0.999 * v[i] + 0.001 * g * g
                        step = (m[i] / (1 - 0.9**t)) / (np.sqrt(v[i] / (1 - 0.999**t)) + 1e-7)
                    elif self.optimizer == "adagrad":
                        v[i] = v[i] + g * g
                        step = g / (np.sqrt(v[i] + 0.1) + 1e-7)
                    else:  # adamax
                        m[i] = 0.9 * m[i] + 0.1 * g
                        v[i] = np.maximum(0.999 * v[i], np.abs(g))
                        step = (m[i] / (1 - 0.9**t)) / (v[i] + 1e-7)
                    params[i] -= self.learning_rate * step
            EPOCHS_TRAINED[0] += 1
        self.params_ = params
        self.classes_ = np.arange(k)
        return self

    def predict_proba(self, X):
        A, _ = self._hidden(self._features(X) @ self.params_[0] + self.params_[1])
        return 1 / (1 + np.exp(-(A @ self.params_[2] + self.params_[3])))

    def predict(self, X):
        return (self.predict_proba(X) >= 0.5).astype(np.uint8)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags = ClassifierTags(multi_class=False, multi_label=True)
        tags.target_tags.single_output = False
        tags.target_tags.multi_output = True
        return tags


def halving_schedule(n_candidates, max_epochs, factor):
    """Rounds of scikit-learn's successive halving with ``min_resources="exhaust"``:
    [(candidates, epochs), ...] (the same rule as ``BaseSuccessiveHalving._run_search``)."""
    from math import floor, log

    required = 1 + floor(log(n_candidates, factor))
    min_epochs = max(1, max_epochs // factor ** (required - 1))
    possible = 1 + floor(log(max_epochs // min_epochs, factor))
    rounds, candidates = [], n_candidates
    for i in range(min(possible, required)):
        rounds.append((candidates, min(int(factor**i * min_epochs), max_epochs)))
        candidates = int(np.ceil(candidates / factor))
    return rounds


def _thumbnails(n, seed=0):
    from hpa_sklearn.datasets import make_hpa_like

    X, Y = make_hpa_like(n_samples=n, image_size=32, random_state=seed, return_X_y=True)
    X = X.reshape(n, 8, 4, 8, 4, 4).mean(axis=(2, 4)).astype(np.uint8)  # 8x8 px, RGBY
    return X, Y


def _search_epochs(search, n_splits):
    """Training epochs of a fitted search from its cv_results_: every candidate's epochs on every
    fold, plus the refit on all the data."""
    results = search.cv_results_
    if "n_resources" in results:
        per_fold = int(np.sum(results["n_resources"]))
        refit = int(search.best_params_.get("epochs", search.best_estimator_.epochs))
    else:
        per_fold = int(np.sum([p["epochs"] for p in results["params"]]))
        refit = int(search.best_params_["epochs"])
    return per_fold * n_splits + refit


def _run_table(X, Y, X_test, Y_test, settings, cv, run_full, log):
    from sklearn.model_selection import GridSearchCV

    from hpa_sklearn.metrics import macro_f1, macro_f1_scorer
    from hpa_sklearn.model_selection import (MultilabelStratifiedKFold, make_report_search,
                                             report_param_grid)

    rows = []
    for factor, max_epochs in settings:
        search = make_report_search(TinyNet(), step=None, max_resources=max_epochs,
                                    factor=factor, cv=cv, random_state=0)
        EPOCHS_TRAINED[0] = 0
        seconds, _ = _common.timed(search.fit, X, Y)
        counted = EPOCHS_TRAINED[0]
        from_results = _search_epochs(search, cv)
        schedule = list(zip(search.n_candidates_, search.n_resources_))
        full = 720 * max_epochs * cv + max_epochs
        row = dict(
            factor=factor, max_epochs=max_epochs, folds=cv,
            schedule=[[int(c), int(r)] for c, r in schedule],
            schedule_as_predicted=[list(r) for r in halving_schedule(720, max_epochs, factor)],
            halving_epochs_counted=counted, halving_epochs_from_cv_results=from_results,
            full_grid_epochs=full, ratio=counted / full, target_met=counted / full <= 0.10,
            halving_seconds=seconds, halving_best_params=search.best_params_,
            halving_test_macro_f1=macro_f1(Y_test, search.predict(X_test)),
            full_grid_ran=False,
        )
        log(f"halving factor {factor}, {max_epochs} epochs: rounds {row['schedule']}, "
            f"{counted} epochs counted ({from_results} from cv_results_) vs {full} full grid "
            f"= {row['ratio']:.1%} ({seconds:.0f} s)")
        if run_full and (factor, max_epochs) == settings[0]:
            grid = dict(report_param_grid(step=None), epochs=[max_epochs])
            full_search = GridSearchCV(TinyNet(), grid, scoring=macro_f1_scorer,
                                       cv=MultilabelStratifiedKFold(cv, random_state=0))
            EPOCHS_TRAINED[0] = 0
            full_seconds, _ = _common.timed(full_search.fit, X, Y)
            row.update(
                full_grid_ran=True, full_grid_epochs_counted=EPOCHS_TRAINED[0],
                full_grid_seconds=full_seconds, full_grid_best_params=full_search.best_params_,
                full_grid_test_macro_f1=macro_f1(Y_test, full_search.predict(X_test)),
                full_grid_cv_rank_of_halving_pick=_rank_of(full_search, search.best_params_),
            )
            log(f"full grid: {EPOCHS_TRAINED[0]} epochs counted ({full_seconds:.0f} s); "
                f"halving's pick ranks {row['full_grid_cv_rank_of_halving_pick']} of 720 there")
        rows.append(row)
    return rows


def _rank_of(full_search, params):
    results = full_search.cv_results_
    for i, p in enumerate(results["params"]):
        if all(p.get(k) == v for k, v in params.items() if k != "epochs"):
            return int(results["rank_test_score"][i])
    return None


def _run_vgg16(n, max_epochs, n_candidates, cv, log):
    """make_report_search with HPAVGG16Classifier on a tiny problem; epochs counted by Keras."""
    _common.quiet_tensorflow()
    import keras

    from hpa_sklearn import HPAVGG16Classifier
    from hpa_sklearn.datasets import make_hpa_like
    from hpa_sklearn.model_selection import make_report_search

    counter = [0]

    class CountEpochs(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            counter[0] += 1

    X, Y = make_hpa_like(n_samples=n, image_size=32, random_state=0, return_X_y=True)
    clf = HPAVGG16Classifier(weights=None, verbose=0, random_state=0, callbacks=[CountEpochs()])
    search = make_report_search(clf, step=None, max_resources=max_epochs, factor=3,
                                n_candidates=n_candidates, cv=cv, random_state=0)
    seconds, _ = _common.timed(search.fit, X, Y)
    counted = counter[0]
    full = n_candidates * max_epochs * cv + max_epochs
    row = dict(n_samples=n, image_size=32, n_candidates=n_candidates, max_epochs=max_epochs,
               folds=cv, schedule=[[int(c), int(r)] for c, r in
                                   zip(search.n_candidates_, search.n_resources_)],
               halving_epochs_counted=counted,
               halving_epochs_from_cv_results=_search_epochs(search, cv),
               full_grid_epochs_same_candidates=full, ratio=counted / full, seconds=seconds,
               best_params={k: v for k, v in search.best_params_.items()})
    log(f"VGG16 halving: rounds {row['schedule']}, {counted} epochs counted vs {full} for the "
        f"full grid of the same {n_candidates} candidates ({seconds:.0f} s)")
    return row


def main():
    parser = _common.parser(__doc__)
    parser.add_argument("--settings", nargs="+", default=None, metavar="FACTOR:EPOCHS",
                        help="halving settings to run (default 3:27 3:81 4:64)")
    parser.add_argument("--n", type=int, default=None, help="TinyNet samples (default 400)")
    parser.add_argument("--cv", type=int, default=None, help="folds (default 3)")
    parser.add_argument("--no-full-grid", action="store_true",
                        help="do not run the full grid (its cost is counted analytically)")
    parser.add_argument("--vgg16", action=__import__("argparse").BooleanOptionalAction,
                        default=None, help="also run the search with VGG16 (default: not quick)")
    args = parser.parse_args()
    quick = args.quick
    settings = [tuple(int(v) for v in s.split(":")) for s in
                (args.settings or (["3:3"] if quick else ["3:27", "3:81", "4:64"]))]
    n = args.n or (120 if quick else 400)
    cv = args.cv or (2 if quick else 3)
    run_full = not args.no_full_grid and not quick
    vgg16 = (not quick) if args.vgg16 is None else args.vgg16

    from hpa_sklearn.model_selection import multilabel_train_test_split

    run = _common.Run("bench_search_cost", args)
    log = lambda message: print(message, flush=True)  # noqa: E731
    X, Y = _thumbnails(n)
    X_train, X_test, Y_train, Y_test = multilabel_train_test_split(X, Y, test_size=0.25,
                                                                   random_state=0)
    started = time.perf_counter()
    rows = _run_table(X_train, Y_train, X_test, Y_test, settings, cv, run_full, log)
    vgg = _run_vgg16(n=48, max_epochs=9, n_candidates=9, cv=2, log=log) if vgg16 else None
    result = {
        "settings": dict(candidates=720, tinynet_samples=n, tinynet_train=len(X_train), folds=cv,
                         halving=[f"factor {f}, {e} epochs" for f, e in settings]),
        "table": rows,
        "vgg16": vgg,
        "seconds": time.perf_counter() - started,
    }
    lines = [
        "# Search cost: successive halving of the report's 720-combination table vs the full grid",
        f"`make_report_search` (HalvingGridSearchCV, `min_resources='exhaust'`, resource = epochs) "
        f"and GridSearchCV over all 720 combinations, {cv}-fold multilabel-stratified CV, on "
        f"TinyNet ({len(X_train)} training thumbnails; see the script): epochs counted as they are "
        "trained, including the refit of the best candidate.",
        "",
        "| halving | rounds (candidates x epochs) | halving epochs | full-grid epochs | ratio "
        "| target <= 10% |",
        "|---|---|---:|---:|---:|---|",
    ]
    for r in rows:
        rounds = ", ".join(f"{c} x {e}" for c, e in r["schedule"])
        lines.append(f"| factor {r['factor']}, {r['max_epochs']} epochs | {rounds} | "
                     f"{r['halving_epochs_counted']:,} | {r['full_grid_epochs']:,} | "
                     f"{r['ratio']:.1%} | {'met' if r['target_met'] else 'not met'} |")
    ran = [r for r in rows if r["full_grid_ran"]]
    for r in ran:
        lines += [
            "",
            f"The full grid really ran for factor {r['factor']}, {r['max_epochs']} epochs: "
            f"{r['full_grid_epochs_counted']:,} epochs counted in {r['full_grid_seconds']:.0f} s "
            f"(halving: {r['halving_seconds']:.0f} s). Held-out macro F1 of the refitted best: "
            f"halving {r['halving_test_macro_f1']:.3f}, full grid "
            f"{r['full_grid_test_macro_f1']:.3f}; halving's pick ranks "
            f"{r['full_grid_cv_rank_of_halving_pick']} of 720 in the full grid's CV ranking.",
        ]
    if vgg:
        lines += [
            "",
            f"With `HPAVGG16Classifier` itself ({vgg['n_samples']} HPA-like images, 32 px, "
            f"{vgg['n_candidates']} random candidates of the table, factor 3, "
            f"{vgg['max_epochs']} epochs, {vgg['folds']} folds): rounds "
            + ", ".join(f"{c} x {e}" for c, e in vgg["schedule"])
            + f"; {vgg['halving_epochs_counted']} epochs counted by a Keras callback "
            f"({vgg['halving_epochs_from_cv_results']} from cv_results_) against "
            f"{vgg['full_grid_epochs_same_candidates']} for the full grid of the same candidates "
            f"({vgg['ratio']:.0%}; {vgg['seconds']:.0f} s).",
        ]
    run.finish(result, lines)


if __name__ == "__main__":
    main()
