"""``bench_macro_f1.py --recipes``: recipes compared at equal wall-clock (issue 12).

Per seed, on ``make_hpa_like(n, size, random_state=seed)`` split 80/20 (multilabel-stratified):

* ``vgg16 library``: the library's VGG16 recipe (RGBY, report's optimizer settings, ``epochs``,
  ``MultilabelThresholdTuner(cv=0.2, refit=False)``). Its training time is the budget T.
* ``report``: the report's recipe (RGB, VGG16, threshold 0.5, the same epochs).
* every other backbone, from scratch, with flips and right-angle rotations, no hidden layer, the
  learning rate its range test (``lr_find``) suggested and the schedule that scored best in a
  pilot, for as many epochs as fit in T at its measured speed (first-epoch graph tracing
  included), thresholds by the same tuner; each scored without and with 8-view test-time
  augmentation (the thresholds tuned on predictions made the same way), with the plain and the
  bootstrap threshold strategy;
* ``ensemble``: the pilot's best backbone as a 3-fold ensemble (``refit=False``) in the same T.

The pilot runs on another seed (``--pilot-seed``), half the images and half the epochs: for each
backbone the range test, the speed (seconds per epoch and first-epoch overhead, measured on the
tuner's training part) and the schedule. Nothing of the evaluated seeds is seen before they are
scored. Trainings of a variant that only changes prediction (TTA, thresholds) are restored from
checkpoints, not repeated.
"""

import json
import math
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402
from hpa_sklearn._io.atomic import atomic_write_json  # noqa: E402

BACKBONES = ("smallcnn", "mobilenetv3small", "efficientnetv2b0", "densenet121", "resnet50")
SCHEDULES = ("warmup_cosine", "one_cycle", "step", "plateau")
STRATEGIES = {"plain": {}, "bootstrap": {"n_bootstrap": 100}}


def _parse():
    parser = _common.parser(__doc__)
    parser.add_argument("--recipes", action="store_true", help="this comparison")
    parser.add_argument("--n", type=int, default=None, help="images per seed (default 2000)")
    parser.add_argument("--size", type=int, default=None, help="image side (default 32)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs of the VGG16 recipes (default 10)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="default 0 1 2")
    parser.add_argument("--pilot-seed", type=int, default=100)
    parser.add_argument("--backbones", nargs="+", default=None, help=f"default {BACKBONES}")
    parser.add_argument("--schedules", nargs="+", default=None, help=f"default {SCHEDULES}")
    parser.add_argument("--batch-size", type=int, default=32, help="of the other backbones")
    parser.add_argument("--pilot-only", action="store_true",
                        help="run the pilot, print it and stop (nothing written)")
    parser.add_argument("--render-only", action="store_true",
                        help="train nothing: summarize the runs of the existing "
                             "<out>/<name>.json again with this code and rewrite its .json, .md "
                             "and .png (the run's own metadata kept)")
    args = parser.parse_args()
    quick = args.quick
    args.n = args.n or (64 if quick else 2000)
    args.size = args.size or 32
    args.epochs = args.epochs or (1 if quick else 10)
    args.seeds = args.seeds if args.seeds is not None else ([0] if quick else [0, 1, 2])
    args.backbones = args.backbones or (["smallcnn"] if quick else list(BACKBONES))
    args.schedules = args.schedules or (["warmup_cosine"] if quick else list(SCHEDULES))
    if quick:
        args.batch_size = 16
    return args


def _split(n, size, seed):
    from hpa_sklearn.datasets import make_hpa_like
    from hpa_sklearn.model_selection import multilabel_train_test_split

    X, Y = make_hpa_like(n_samples=n, image_size=size, random_state=seed, return_X_y=True)
    return multilabel_train_test_split(X, Y, test_size=0.2, random_state=seed)


def _scores(Y_true, Y_pred):
    from hpa_sklearn.metrics import macro_f1
    from sklearn.metrics import f1_score

    return {"macro_f1": float(macro_f1(Y_true, Y_pred)),
            "micro_f1": float(f1_score(Y_true, Y_pred, average="micro", zero_division=0)),
            "labels_per_image": float(np.mean(Y_pred.sum(axis=1)))}


def _augmenter(seed):
    from hpa_sklearn import ImageAugmenter

    return ImageAugmenter(rotation=0.0, zoom=0.0, shift=0.0, brightness=0.0,
                          horizontal_flip=True, vertical_flip=True, rot90=True, random_state=seed)


def _modern(backbone, *, lr, schedule, epochs, seed, batch_size, checkpoint_dir=None, tta=None):
    from hpa_sklearn import HPAClassifier

    return HPAClassifier(backbone=backbone, weights=None, hidden_units=(), dropout=0.0,
                         learning_rate=lr, decay=0.0, lr_schedule=schedule,
                         warmup_epochs=min(1.0, epochs / 5), batch_size=batch_size,
                         epochs=epochs, augmentation=_augmenter(seed), tta=tta,
                         checkpoint_dir=checkpoint_dir, random_state=seed, verbose=0)


def _vgg16(epochs, seed):
    from hpa_sklearn import HPAVGG16Classifier

    return HPAVGG16Classifier(weights=None, epochs=epochs, random_state=seed, verbose=0)


def _tuned(clf, seed, strategy="plain", cv=0.2):
    from hpa_sklearn import MultilabelThresholdTuner

    return MultilabelThresholdTuner(clf, cv=cv, refit=False, random_state=seed,
                                    **STRATEGIES[strategy])


def _timed_fit(model, X, Y):
    start = time.perf_counter()
    model.fit(X, Y)
    return time.perf_counter() - start


def _speed(make, X, Y, seed):
    """Seconds per epoch of ``make(epochs)`` on the tuner's training part (80 % of ``X``) and
    the fit's fixed cost (building, tracing, statistics)."""
    import keras

    class Clock(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.start, self.ends = time.perf_counter(), []

        def on_epoch_end(self, epoch, logs=None):
            self.ends.append(time.perf_counter() - self.start)

    rows = np.sort(np.random.default_rng(seed).permutation(len(X))[: int(0.8 * len(X))])
    clock = Clock()
    clf = make(3).set_params(callbacks=[clock])
    start = time.perf_counter()
    clf.fit(X[rows], Y[rows])
    total = time.perf_counter() - start
    per_epoch = float(np.median(np.diff(clock.ends)))
    return per_epoch, max(total - 3 * per_epoch, 0.0)


def _epochs_in(budget, per_epoch, overhead, share=1.0, fits=1):
    """Epochs of each of ``fits`` fits on ``share`` of the rows that fit in ``budget`` s."""
    usable = budget - fits * overhead
    return max(1, int(math.floor(usable / (fits * per_epoch * share))))


def _pilot(args, workdir):
    """Learning rate, speed and best schedule of each backbone, on the pilot seed."""
    from hpa_sklearn import HPAClassifier

    X_train, X_test, Y_train, Y_test = _split(max(args.n // 2, 48), args.size, args.pilot_seed)
    n_main = len(_split(args.n, args.size, args.pilot_seed)[0])
    scale = n_main / len(X_train)  # epochs of the main runs hold this many times more rows
    # the VGG16 library recipe's time, in this load: fixed cost + epochs at the main run's size
    vgg_epoch, vgg_overhead = _speed(lambda e: _vgg16(e, args.pilot_seed), X_train, Y_train,
                                     args.pilot_seed)
    budget = vgg_overhead + args.epochs * vgg_epoch * scale
    pilot = {"budget_s": budget, "scale": scale, "vgg16_seconds_per_epoch": vgg_epoch,
             "vgg16_overhead_s": vgg_overhead, "backbones": {}}
    print(f"pilot: VGG16 {vgg_epoch:.1f} s per epoch on {int(0.8 * len(X_train))} rows, "
          f"{vgg_overhead:.0f} s fixed: budget {budget:.0f} s at the main size", flush=True)
    for backbone in args.backbones:
        probe = HPAClassifier(backbone=backbone, weights=None, hidden_units=(), dropout=0.0,
                              batch_size=args.batch_size, augmentation=_augmenter(0),
                              random_state=args.pilot_seed, verbose=0)
        steps = max(6, min(100, 3 * len(X_train) // args.batch_size))
        found = probe.lr_find(X_train, Y_train, min_lr=1e-5, max_lr=1.0, n_steps=steps)
        lr = float(np.clip(found.suggestion, 3e-4, 3e-2))
        per_epoch, overhead = _speed(
            lambda e, b=backbone, r=lr: _modern(b, lr=r, schedule=None, epochs=e,
                                                seed=args.pilot_seed, batch_size=args.batch_size),
            X_train, Y_train, args.pilot_seed)
        epochs = _epochs_in(budget, per_epoch * scale, overhead)
        # the schedules are compared on the pilot's half-size data, for the same time share
        pilot_epochs = _epochs_in(budget / scale, per_epoch, overhead)
        if args.quick:  # a smoke test of every step: its figures mean nothing anyway
            epochs, pilot_epochs = min(epochs, 2), min(pilot_epochs, 2)
        entry = {"lr_suggested": found.suggestion, "learning_rate": lr,
                 "seconds_per_epoch": per_epoch * scale, "overhead_s": overhead,
                 "epochs": epochs, "schedules": {}}
        for schedule in args.schedules:
            clf = _modern(backbone, lr=lr, schedule=schedule, epochs=pilot_epochs,
                          seed=args.pilot_seed, batch_size=args.batch_size)
            model = _tuned(clf, args.pilot_seed)
            seconds = _timed_fit(model, X_train, Y_train)
            score = _scores(Y_test, model.predict(X_test))["macro_f1"]
            entry["schedules"][schedule] = {"macro_f1": score, "seconds": seconds}
            print(f"pilot: {backbone:17s} lr {lr:.1e} {schedule:13s} {pilot_epochs} epochs "
                  f"{seconds:.0f} s macro F1 {score:.4f}", flush=True)
        entry["schedule"] = max(entry["schedules"], key=lambda s: entry["schedules"][s]["macro_f1"])
        entry["pilot_macro_f1"] = entry["schedules"][entry["schedule"]]["macro_f1"]
        pilot["backbones"][backbone] = entry
    pilot["best_backbone"] = max(pilot["backbones"],
                                 key=lambda b: pilot["backbones"][b]["pilot_macro_f1"])
    return pilot


def _run_seed(args, seed, pilot, workdir):
    X_train, X_test, Y_train, Y_test = _split(args.n, args.size, seed)
    rows = []

    def record(name, model, seconds, X_eval, **extra):
        entry = {"row": name, "seed": seed, "seconds": seconds,
                 **_scores(Y_test, model.predict(X_eval)), **extra}
        rows.append(entry)
        print(f"seed {seed} {name:45s} {seconds:6.0f} s  macro F1 {entry['macro_f1']:.4f}  "
              f"micro {entry['micro_f1']:.3f}  labels/image {entry['labels_per_image']:.2f}",
              flush=True)
        return entry

    report = _vgg16(args.epochs, seed)
    seconds = _timed_fit(report, X_train[..., :3], Y_train)
    record("report (VGG16, RGB, threshold 0.5)", report, seconds, X_test[..., :3],
           epochs=args.epochs)
    library = _tuned(_vgg16(args.epochs, seed), seed)
    budget = _timed_fit(library, X_train, Y_train)
    record("vgg16 library (RGBY, tuned thresholds)", library, budget, X_test,
           epochs=args.epochs)
    for backbone in args.backbones:
        info = pilot["backbones"][backbone]
        epochs = info["epochs"]
        folder = Path(workdir) / f"seed{seed}-{backbone}"
        variants = [(tta, strategy) for tta in (None, "dihedral") for strategy in STRATEGIES]
        if args.quick:
            variants = [(None, "plain"), ("dihedral", "bootstrap")]
        for tta, strategy in variants:
            clf = _modern(backbone, lr=info["learning_rate"], schedule=info["schedule"],
                          epochs=epochs, seed=seed, batch_size=args.batch_size,
                          checkpoint_dir=folder, tta=tta)
            model = _tuned(clf, seed, strategy)
            seconds = _timed_fit(model, X_train, Y_train)  # restored after the first
            if tta is None and strategy == "plain":
                trained = seconds
            record(f"{backbone} {info['schedule']}, tta {tta or 'none'}, {strategy}", model,
                   trained, X_test, backbone=backbone, epochs=epochs, tta=tta,
                   strategy=strategy, schedule=info["schedule"],
                   learning_rate=info["learning_rate"], restore_s=seconds)
    if args.quick:
        return rows  # the fold ensemble costs three more fits
    best = pilot["best_backbone"]
    info = pilot["backbones"][best]
    epochs = _epochs_in(pilot["budget_s"], info["seconds_per_epoch"], info["overhead_s"],
                        share=(2 / 3) / 0.8, fits=3)
    folder = Path(workdir) / f"seed{seed}-ensemble"
    for strategy in STRATEGIES:
        clf = _modern(best, lr=info["learning_rate"], schedule=info["schedule"], epochs=epochs,
                      seed=seed, batch_size=args.batch_size, checkpoint_dir=folder,
                      tta="dihedral")
        model = _tuned(clf, seed, strategy, cv=3)
        seconds = _timed_fit(model, X_train, Y_train)
        if strategy == "plain":
            trained = seconds
        record(f"ensemble of 3 {best} folds, tta dihedral, {strategy}", model, trained, X_test,
               backbone=best, epochs=epochs, tta="dihedral", strategy=strategy, ensemble=3)
    return rows


class _Journal:
    """What a run has finished (the pilot, each seed's rows), kept in ``<out>/<name>.journal.json``
    so that an interrupted run started again with the same settings goes on where it stopped.
    Settings that change the figures start a new journal."""

    def __init__(self, args):
        self.path = Path(args.out) / f"{args.name}.journal.json"
        self.key = {k: getattr(args, k) for k in ("n", "size", "epochs", "seeds", "pilot_seed",
                                                 "backbones", "schedules", "batch_size",
                                                 "quick")}
        self.state = {"key": self.key, "pilot": None, "seeds": {}}
        if self.path.is_file():
            try:
                state = json.loads(self.path.read_text())
            except ValueError:
                state = None
            if state and state.get("key") == json.loads(json.dumps(self.key)):
                self.state = state
                print(f"resuming from {self.path}: pilot "
                      f"{'done' if state['pilot'] else 'to do'}, seeds done "
                      f"{sorted(state['seeds']) or 'none'}", flush=True)

    def _save(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.path, self.state)

    def pilot(self, compute):
        if self.state["pilot"] is None:
            self.state["pilot"] = compute()
            self._save()
        return self.state["pilot"]

    def seed(self, seed, compute):
        if str(seed) not in self.state["seeds"]:
            self.state["seeds"][str(seed)] = compute()
            self._save()
        return self.state["seeds"][str(seed)]

    def done(self):
        self.path.unlink(missing_ok=True)


def recipes_main():
    args = _parse()
    args.name = getattr(args, "name", None) or "bench_macro_f1_recipes"
    _common.quiet_tensorflow()
    warnings.filterwarnings("ignore", category=UserWarning)  # rare classes absent from folds
    if args.render_only:
        return _render_again(args)
    run = _common.Run(args.name, args)
    journal = _Journal(args)
    with tempfile.TemporaryDirectory(prefix="hpa-recipes-") as workdir:
        pilot = journal.pilot(lambda: _pilot(args, workdir))
        if args.pilot_only:
            print(pilot)
            return
        runs = []
        for seed in args.seeds:
            runs.extend(journal.seed(seed, lambda s=seed: _run_seed(args, s, pilot, workdir)))
    result = _summarize(args, pilot, runs)
    _plot(result, Path(args.out) / f"{args.name}.png")
    run.finish(result, _markdown(result, args))
    journal.done()


METRICS = ("macro_f1", "micro_f1", "labels_per_image")


def _effects(runs):
    """Measured effect of test-time augmentation, of the bootstrap threshold strategy and of the
    fold ensemble: paired differences (with - without) of each metric, over every seed and
    backbone where both runs exist."""
    single = {(r["seed"], r["backbone"], r["tta"], r["strategy"]): r for r in runs
              if "backbone" in r and not r.get("ensemble")}
    pairs = {"tta": [], "bootstrap": [], "ensemble": []}
    for (seed, backbone, tta, strategy), run in single.items():
        if tta is not None and (seed, backbone, None, strategy) in single:
            pairs["tta"].append((run, single[seed, backbone, None, strategy]))
        if strategy != "plain" and (seed, backbone, tta, "plain") in single:
            pairs["bootstrap"].append((run, single[seed, backbone, tta, "plain"]))
    for run in runs:
        key = (run["seed"], run.get("backbone"), run.get("tta"), run.get("strategy"))
        if run.get("ensemble") and key in single:
            pairs["ensemble"].append((run, single[key]))
    effects = {}
    for name, found in pairs.items():
        if not found:
            continue
        deltas = {m: np.array([a[m] - b[m] for a, b in found]) for m in METRICS}
        effects[name] = {"pairs": len(found),
                         **{m: {"mean": float(d.mean()), "sd": float(d.std()),
                                "better": int((d > 0).sum())} for m, d in deltas.items()}}
    return effects


def _render_again(args):
    """Summarize a finished run's JSON again (e.g. after the summary learned a new figure)."""
    path = Path(args.out) / f"{args.name}.json"
    if not path.is_file():
        raise SystemExit(f"--render-only: no results at {path}; run without it first")
    document = json.loads(path.read_text())
    settings, pilot = document["settings"], document["pilot"]
    args.n, args.size, args.epochs = settings["n"], settings["size"], settings["vgg16_epochs"]
    args.seeds, args.pilot_seed = settings["seeds"], settings["pilot_seed"]
    args.batch_size, args.quick = settings["batch_size"], document["quick"]
    args.schedules = list(next(iter(pilot["backbones"].values()))["schedules"])
    result = _summarize(args, pilot, document["runs"])
    document.update(result)
    document["rendered_again_by"] = _common.provenance()
    _plot(result, Path(args.out) / f"{args.name}.png")
    lines = _markdown(result, args)
    commit = str(document["rendered_again_by"]["commit"])[:10]
    lines += ["", f"(Summarized again from the runs above by `--render-only` at commit {commit}.)"]
    atomic_write_json(path, document)
    print(_common.write_markdown(path.with_suffix(".md"), document, lines))


def _summarize(args, pilot, runs):
    names = list(dict.fromkeys(r["row"] for r in runs))
    table = []
    for name in names:
        entries = [r for r in runs if r["row"] == name]
        table.append({"row": name, **{key: float(np.mean([e[key] for e in entries]))
                                      for key in ("macro_f1", "micro_f1", "labels_per_image",
                                                  "seconds")},
                      "per_seed": [e["macro_f1"] for e in entries]})
    by_seed = {}
    for seed in args.seeds:
        entries = [r for r in runs if r["seed"] == seed]
        library = next(e for e in entries if e["row"].startswith("vgg16 library"))
        report = next(e for e in entries if e["row"].startswith("report"))
        best = max((e for e in entries if e is not library and e is not report),
                   key=lambda e: e["macro_f1"], default=library)
        by_seed[seed] = {"best_row": best["row"], "best": best["macro_f1"],
                         "x_library": best["macro_f1"] / max(library["macro_f1"], 1e-9),
                         "x_report": best["macro_f1"] / max(report["macro_f1"], 1e-9)}
    means = {t["row"]: t for t in table}
    best_row = max((t for t in table if not t["row"].startswith(("report", "vgg16"))),
                   key=lambda t: t["macro_f1"], default=None)
    per_seed_of_best = {}
    if best_row is not None:
        for seed in args.seeds:
            entries = {r["row"]: r for r in runs if r["seed"] == seed}
            library = next(v for k, v in entries.items() if k.startswith("vgg16 library"))
            report = next(v for k, v in entries.items() if k.startswith("report"))
            mine = entries[best_row["row"]]["macro_f1"]
            per_seed_of_best[seed] = {"x_library": mine / max(library["macro_f1"], 1e-9),
                                      "x_report": mine / max(report["macro_f1"], 1e-9)}
    target = None
    if best_row is not None:
        target = all(v["x_library"] >= 1.5 and v["x_report"] >= 2.5
                     for v in per_seed_of_best.values())
    return {"settings": {"n": args.n, "size": args.size, "vgg16_epochs": args.epochs,
                         "seeds": args.seeds, "pilot_seed": args.pilot_seed,
                         "batch_size": args.batch_size, "weights": None},
            "pilot": pilot, "table": table, "best_per_seed": by_seed,
            "best_recipe": None if best_row is None else best_row["row"],
            "best_recipe_per_seed": per_seed_of_best,
            "target": "the best recipe >= 1.5x the VGG16 library recipe and >= 2.5x the "
                      "report's recipe in every seed",
            "target_met": target, "effects": _effects(runs), "runs": runs,
            "library_means": means}


def _plot(result, path):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from hpa_sklearn._io.atomic import save_figure

    fig, ax = plt.subplots(figsize=(11, 5))
    rows = [t for t in result["table"]
            if "tta dihedral, bootstrap" in t["row"] or not ("tta" in t["row"])
            or t["row"].startswith("ensemble")]
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, table_row in enumerate(rows):
        entries = [r for r in result["runs"] if r["row"] == table_row["row"]]
        colour = colours[i % len(colours)]
        ax.scatter([e["seconds"] for e in entries], [e["macro_f1"] for e in entries], s=18,
                   color=colour, alpha=0.5)
        ax.scatter([table_row["seconds"]], [table_row["macro_f1"]], s=70, color=colour,
                   marker="D", label=table_row["row"])
    ax.set_xlabel("training time per fit (s; dots: seeds, diamonds: mean)")
    ax.set_ylabel("test macro F1")
    ax.set_title("Recipes at equal wall-clock (HPA-like data, this CPU)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # off the points
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def _markdown(result, args):
    s = result["settings"]
    lines = [
        "# Recipes at equal wall-clock: macro F1 of each backbone in the time of the VGG16 "
        "library recipe",
        f"`make_hpa_like({s['n']}, {s['size']})` per seed, 80/20 multilabel-stratified split, "
        f"seeds {', '.join(map(str, s['seeds']))}; everything from scratch (`weights=None`). "
        f"VGG16 recipes: {s['vgg16_epochs']} epochs, batch 64, Adam 1e-4 with decay 5e-5. "
        f"Other backbones: batch {s['batch_size']}, flips and right-angle rotations, no hidden "
        "layer, learning rate from `lr_find`, schedule from the pilot (seed "
        f"{s['pilot_seed']}, half the images and epochs), as many epochs as fit in the VGG16 "
        "library recipe's time at the speed measured in the pilot; thresholds by "
        "`MultilabelThresholdTuner(cv=0.2, refit=False)` ('plain') or with `n_bootstrap=100` "
        "('bootstrap'). Time: the training fit (tuning included), mean over seeds.",
        "",
        "| recipe | macro F1 (mean) | per seed | micro F1 | labels / image | time (s) |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for t in result["table"]:
        lines.append(f"| {t['row']} | {t['macro_f1']:.4f} | "
                     f"{', '.join(f'{v:.3f}' for v in t['per_seed'])} | {t['micro_f1']:.3f} | "
                     f"{t['labels_per_image']:.2f} | {t['seconds']:.0f} |")
    pilot = result["pilot"]
    lines += ["", "Pilot (seed %d, half the images): the VGG16 library recipe's time at the main "
              "size, %.0f s (%.1f s per epoch, %.0f s fixed); each backbone's learning rate, "
              "speed at the main size and schedule:" % (s["pilot_seed"], pilot["budget_s"],
                                                        pilot["vgg16_seconds_per_epoch"]
                                                        * pilot["scale"],
                                                        pilot["vgg16_overhead_s"]), "",
              "| backbone | lr suggested | lr used | s / epoch | overhead (s) | "
              "epochs | " + " | ".join(args.schedules) + " | chosen |",
              "|---|---:|---:|---:|---:|---:|" + "---:|" * len(args.schedules) + "---|"]
    for name, info in pilot["backbones"].items():
        cells = " | ".join(f"{info['schedules'][sc]['macro_f1']:.4f}" for sc in args.schedules)
        lines.append(f"| {name} | {info['lr_suggested']:.1e} | {info['learning_rate']:.1e} | "
                     f"{info['seconds_per_epoch']:.1f} | {info['overhead_s']:.0f} | "
                     f"{info['epochs']} | {cells} | {info['schedule']} |")
    if result["best_recipe"]:
        lines += ["", f"Best recipe (mean): {result['best_recipe']}. Per seed: " + "; ".join(
            f"seed {seed}: {v['x_library']:.2f}x the VGG16 library recipe, "
            f"{v['x_report']:.2f}x the report's"
            for seed, v in result["best_recipe_per_seed"].items()) + ".",
            f"Target ({result['target']}): {'met' if result['target_met'] else 'not met'}."]
    labels = {"tta": "8-view test-time augmentation (dihedral against none; same backbone, "
                     "seed and threshold strategy)",
              "bootstrap": "bootstrap-averaged thresholds (against plain; same backbone, seed "
                           "and TTA)",
              "ensemble": "3-fold ensemble (against one model of the same backbone, TTA and "
                          "strategy, in the same time)"}
    if result.get("effects"):
        lines += ["", "Measured effects (paired differences, with minus without: mean +- sd; "
                  "pairs in which the figure rose / pairs):", "",
                  "| change | pairs | macro F1 | micro F1 | labels / image |",
                  "|---|---:|---:|---:|---:|"]
        for name, eff in result["effects"].items():
            cells = " | ".join(f"{eff[m]['mean']:+.4f} +- {eff[m]['sd']:.4f} "
                               f"({eff[m]['better']}/{eff['pairs']})" for m in METRICS)
            lines.append(f"| {labels[name]} | {eff['pairs']} | {cells} |")
    lines += ["", f"Plot: `{args.name}.png` (test macro F1 against training time)."]
    return lines
