"""Benchmark: where the model looks, measured: the pointing game on HPA-like images whose class
patterns are known.

``make_hpa_like(return_masks=True)`` knows where it drew each true class's green pattern. For each
(test image, true class) pair a heatmap of that class is asked where the class is, and the pair is
a hit when the heatmap's maximum falls inside the class's mask (on ties, the tied pixel nearest
their centre; an all-zero map is a miss). Chance is the mask's share of the image: the hit rate of
a point drawn uniformly at random. A model-free baseline points at the brightest pixel of the
protein (green) channel.

Per seed: ``--n`` images of ``--size`` px (``random_state=seed``), split 80/20 (multilabel-
stratified); the recommended recipe (``hpa_sklearn.recipes`` "cpu": the small CNN, 8-view test-time
augmentation) and the library's VGG16 (``HPAVGG16Classifier``, the report's settings, from scratch:
no ImageNet download here) each trained for the same ``--budget`` seconds (``time_budget``);
then Grad-CAM on every test image (the recipe with its 8 views and with none) and occlusion, which
costs about 230 forward passes per image, on the first test images only (``--occlusion-images``,
with Grad-CAM on the same images beside it for a paired comparison). Writes
``bench_pointing.{json,md}`` and a figure of examples (``--figure``, default
``docs/images/pointing-game.png``; the first pairs of seed 0's occlusion images, not chosen).

Run: ``python benchmarks/bench_pointing.py`` (about 12 min per seed on 2 cores) or ``--quick``.
"""

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common

FIGURE = _common.ROOT / "docs" / "images" / "pointing-game.png"
NETWORKS = ("smallcnn", "vgg16")


def point(heatmap):
    """The pixel a heatmap points at: its maximum (on ties the tied pixel nearest their mean
    position); None for an all-zero map."""
    peak = float(heatmap.max())
    if not peak > 0:
        return None
    ys, xs = np.nonzero(heatmap >= peak)
    k = int(np.argmin((ys - ys.mean()) ** 2 + (xs - xs.mean()) ** 2))
    return int(ys[k]), int(xs[k])


def true_pairs(Y, masks, rows):
    """``(row, class)`` of every true class whose mask is not empty, for ``rows``."""
    return [(int(i), int(k)) for i in rows for k in np.flatnonzero(Y[i]) if masks[i, k].any()]


def per_image_classes(Y, rows):
    """Each image's true classes as an ``(n, m)`` array (padded with its first class) and the
    slot of each (row, class)."""
    lists = [np.flatnonzero(Y[i]).tolist() for i in rows]
    width = max(len(c) for c in lists)
    table = np.array([c + [c[0]] * (width - len(c)) for c in lists])
    slot = {(int(i), k): j for i, c in zip(rows, lists) for j, k in enumerate(c)}
    return table, slot


def score(maps, rows, slot, Y, masks):
    """Pointing-game records of the heatmaps ``maps`` (aligned with ``rows``)."""
    records = []
    for position, i in enumerate(rows):
        for k in np.flatnonzero(Y[i]):
            mask = masks[i, k]
            if not mask.any():
                continue
            where = point(maps[position, slot[(int(i), int(k))]])
            hit = where is not None and bool(mask[where])
            other = where is not None and not hit and any(
                masks[i, j][where] for j in np.flatnonzero(Y[i]) if j != k)
            records.append({"row": int(i), "class": int(k), "hit": hit, "other": bool(other),
                            "zero": where is None, "chance": float(mask.mean())})
    return records


def summary(records, seconds=None, n_images=None):
    hits = np.array([r["hit"] for r in records], dtype=float)
    chance = np.array([r["chance"] for r in records])
    return {"pairs": len(records), "hits": int(hits.sum()),
            "hit_rate": float(hits.mean()) if len(hits) else None,
            "chance": float(chance.mean()) if len(chance) else None,
            "on_another_pattern": float(np.mean([r["other"] for r in records])) if records
            else None,
            "all_zero_maps": int(sum(r["zero"] for r in records)),
            "hit_rate_of_nonzero_maps": float(np.mean([r["hit"] for r in records
                                                       if not r["zero"]]))
            if any(not r["zero"] for r in records) else None,
            "seconds_per_image": None if seconds is None else seconds / max(n_images, 1)}


def protein_peak_maps(X, rows, width):
    green = np.asarray(X[rows][..., 1], dtype=np.float32)
    return np.repeat(green[:, None], width, axis=1)


def make_network(name, seed, budget, quick):
    from hpa_sklearn import HPAVGG16Classifier
    from hpa_sklearn.recipes import make_classifier

    limits = {"epochs": 1} if quick else {"time_budget": budget}
    if name == "smallcnn":
        return make_classifier("cpu", random_state=seed, verbose=0, **limits)
    return HPAVGG16Classifier(weights=None, random_state=seed, verbose=0,
                              **({"epochs": 1} if quick else {"time_budget": budget,
                                                               "epochs": 30}))


def run_seed(seed, args, quick):
    from hpa_sklearn.datasets import make_hpa_like
    from hpa_sklearn.metrics import macro_f1
    from hpa_sklearn.model_selection import multilabel_train_test_split

    X, Y, masks = make_hpa_like(args.n, args.size, random_state=seed, return_X_y=True,
                                return_masks=True)
    train, test = multilabel_train_test_split(np.arange(len(X)), Y, test_size=0.2,
                                              random_state=seed)[:2]
    test = np.sort(test)
    table, slot = per_image_classes(Y, test)
    occluded = test[: min(args.occlusion_images, args.vgg16_occlusion_images)]
    result = {"seed": seed, "n_train": len(train), "n_test": len(test),
              "networks": {}, "records": {}}
    baseline = score(protein_peak_maps(X, test, table.shape[1]), test, slot, Y, masks)
    result["records"]["protein peak (no model)"] = baseline
    maps_for_figure = {}
    for name in NETWORKS:
        clf = make_network(name, seed, args.budget, quick)
        start = time.perf_counter()
        clf.fit(X[train], Y[train])
        fit_s = time.perf_counter() - start
        info = {"fit_s": round(fit_s, 1), "epochs": len(clf.history_.get("loss", [])),
                "test_macro_f1": float(macro_f1(Y[test], clf.predict(X[test]))),
                "tta": clf.tta, "methods": {}}
        runs = [("gradcam", clf.tta, test)]
        if clf.tta is not None:
            runs.append(("gradcam", None, test))
        n_occ = args.occlusion_images if name == "smallcnn" else args.vgg16_occlusion_images
        subset = test[:n_occ]
        runs += [("gradcam", None, subset), ("occlusion", None, subset)]
        for method, tta, rows in runs:
            clf.set_params(tta=tta)
            start = time.perf_counter()
            maps = clf.explain(X[rows], table[: len(rows)], method=method)
            seconds = time.perf_counter() - start
            key = (f"{name} {method}, {'no' if tta is None else tta} TTA"
                   + (f", first {len(rows)} test images" if len(rows) < len(test) else ""))
            key = key.replace("first 1 test images", "first test image")
            records = score(maps, rows, slot, Y, masks)
            result["records"][key] = records
            info["methods"][key] = summary(records, seconds, len(rows))
            if len(rows) == len(subset) and seed == args.seeds[0]:
                maps_for_figure[f"{name} {method}"] = maps[: len(occluded)]
            print(f"seed {seed} {key}: {info['methods'][key]}", flush=True)
        result["networks"][name] = info
    return result, (X, Y, masks, occluded, slot, maps_for_figure)


def combine(results):
    """Per method: the pooled pairs' summary and the hit rate's mean and sd over seeds."""
    keys = list(results[0]["records"])
    rows = []
    for key in keys:
        per_seed = [summary(r["records"][key])["hit_rate"] for r in results]
        per_seed = [v for v in per_seed if v is not None]
        pooled = summary([rec for r in results for rec in r["records"][key]])
        seconds = [r["networks"][n]["methods"][key]["seconds_per_image"]
                   for r in results for n in r["networks"] if key in r["networks"][n]["methods"]]
        rows.append({"method": key, **pooled, "hit_rate_per_seed": per_seed,
                     "hit_rate_sd": float(np.std(per_seed, ddof=1)) if len(per_seed) > 1
                     else None,
                     "seconds_per_image": float(np.median(seconds)) if seconds else None})
    return rows


def per_class(results, keys, min_pairs):
    """Per class (pooled over seeds): pairs, chance, and the hit rate of each of ``keys``."""
    from hpa_sklearn._constants import CLASS_NAMES

    pooled = {key: [rec for r in results for rec in r["records"][key]] for key in keys}
    table = []
    for k in sorted({rec["class"] for rec in pooled[keys[0]]}):
        row = {"class": k, "name": CLASS_NAMES[k]}
        for key in keys:
            s = summary([rec for rec in pooled[key] if rec["class"] == k])
            row.setdefault("pairs", s["pairs"])
            row.setdefault("chance", s["chance"])
            row[key] = s["hit_rate"]
        row["reliable"] = row["pairs"] >= min_pairs
        table.append(row)
    return table


def figure(context, path):
    """Examples: per (image, true class) pair, the image, its protein channel with the class's
    mask outlined, and each method's heatmap with the point it picks."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hpa_sklearn._constants import CHANNELS, CLASS_NAMES
    from hpa_sklearn._io.atomic import save_figure
    from hpa_sklearn.report import hpa_composite

    X, Y, masks, rows, slot, maps = context
    pairs = [(p, i, k) for p, i in enumerate(rows) for k in np.flatnonzero(Y[i])
             if masks[i, k].any()][:5]
    methods = list(maps)
    fig, axes = plt.subplots(len(pairs), 2 + len(methods),
                             figsize=(2.3 * (2 + len(methods)), 2.5 * len(pairs)),
                             squeeze=False, layout="constrained")
    for r, (p, i, k) in enumerate(pairs):
        axes[r, 0].imshow(hpa_composite(X[i:i + 1], CHANNELS)[0])
        axes[r, 0].set_title(f"image {i}", fontsize=8)
        axes[r, 1].imshow(X[i, ..., 1], cmap="gray")
        axes[r, 1].contour(masks[i, k], levels=[0.5], colors="cyan", linewidths=0.8)
        axes[r, 1].set_title(f"{CLASS_NAMES[k][:22]}: mask", fontsize=8)
        for c, method in enumerate(methods):
            ax = axes[r, 2 + c]
            heat = maps[method][p, slot[(int(i), int(k))]]
            ax.imshow(X[i, ..., 1], cmap="gray")
            ax.imshow(heat, cmap="inferno", alpha=0.6)
            ax.contour(masks[i, k], levels=[0.5], colors="cyan", linewidths=0.8)
            where = point(heat)
            if where is not None:
                hit = bool(masks[i, k][where])
                ax.plot(where[1], where[0], marker="x", markersize=9, mew=2,
                        color="#2ecc71" if hit else "#e74c3c")
            ax.set_title(method, fontsize=8)
    for ax in axes.ravel():
        ax.axis("off")
    fig.suptitle("Pointing game examples (seed 0, the first pairs of the occlusion images): "
                 "cyan = where the class's pattern was drawn; x = the heatmap's maximum "
                 "(green: inside, red: outside)", fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, path, dpi=90)
    plt.close(fig)


def _pct(value):
    return "" if value is None else f"{100 * value:.1f}%"


def markdown(document, args):
    s = document["settings"]
    budget = ("1 epoch (quick)" if s["budget_s"] is None
              else f"{s['budget_s']:.0f} s (`time_budget`)")
    lines = ["# Where the model looks: the pointing game",
             (f"{s['n']} HPA-like images of {s['size']} px per seed (seeds {s['seeds']}), 80/20 "
              f"split; each network trained for {budget}; hit = the heatmap's maximum inside "
              "the class's pattern mask; chance = the mask's share of the image (a random "
              "point). Hit rates over all (test image, true class) pairs of all seeds, with the "
              "sd of the per-seed rates."), "",
             ("| heatmap | pairs | hit rate | sd over seeds | chance | hit / chance | on another "
              "class's pattern | all-zero maps | hit rate of the other maps | s per image |"),
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in document["methods"]:
        ratio = (row["hit_rate"] / row["chance"]) if row["chance"] else None
        lines.append(f"| {row['method']} | {row['pairs']} | {_pct(row['hit_rate'])} | "
                     f"{_pct(row['hit_rate_sd'])} | {_pct(row['chance'])} | "
                     f"{'' if ratio is None else f'{ratio:.1f}x'} | "
                     f"{_pct(row['on_another_pattern'])} | {row['all_zero_maps']} | "
                     f"{_pct(row['hit_rate_of_nonzero_maps'])} | "
                     f"{_common.fmt(row['seconds_per_image'], 3)} |")
    lines += ["", ("| network | test macro F1 (threshold 0.5), per seed | epochs trained | "
                   "fit s |"), "|---|---|---|---:|"]
    for name in NETWORKS:
        nets = [r["networks"][name] for r in document["seeds"]]
        scores = ", ".join(f"{n['test_macro_f1']:.3f}" for n in nets)
        epochs = ", ".join(str(n["epochs"]) for n in nets)
        fit_s = np.median([n["fit_s"] for n in nets])
        lines.append(f"| {name} | {scores} | {epochs} | {fit_s:.0f} |")
    keys = document["per_class_methods"]
    lines += ["", (f"Per class (pooled over seeds; classes with fewer than {args.min_pairs} "
                   "pairs marked *): hit rates"), "",
              "| class | pairs | chance | " + " | ".join(keys) + " |",
              "|---|---:|---:|" + "---:|" * len(keys)]
    for row in document["per_class"]:
        lines.append(f"| {row['class']} {row['name']}{'' if row['reliable'] else ' *'} | "
                     f"{row['pairs']} | {_pct(row['chance'])} | "
                     + " | ".join(_pct(row[key]) for key in keys) + " |")
    return lines


def main():
    parser = _common.parser(__doc__)
    parser.add_argument("--n", type=int, default=None, help="images per seed (default 800)")
    parser.add_argument("--size", type=int, default=None, help="image side (default 64)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="default 0 1 2")
    parser.add_argument("--budget", type=float, default=240.0,
                        help="training seconds per network (default %(default)s)")
    parser.add_argument("--occlusion-images", type=int, default=None,
                        help="test images explained by occlusion for the small CNN "
                             "(default 12)")
    parser.add_argument("--vgg16-occlusion-images", type=int, default=None,
                        help="the same for VGG16 (default 6)")
    parser.add_argument("--min-pairs", type=int, default=10,
                        help="pairs a class needs to be read in the per-class table")
    parser.add_argument("--figure", type=Path, default=None,
                        help=f"figure of examples (default {FIGURE.relative_to(_common.ROOT)}; "
                             "with --quick: in --out)")
    args = parser.parse_args()
    quick = args.quick
    args.n = args.n or (40 if quick else 800)
    args.size = args.size or (32 if quick else 64)
    args.seeds = args.seeds or ([0] if quick else [0, 1, 2])
    args.occlusion_images = args.occlusion_images or (1 if quick else 12)
    args.vgg16_occlusion_images = args.vgg16_occlusion_images or (1 if quick else 6)
    figure_path = args.figure or (Path(args.out) / "bench_pointing.png" if quick else FIGURE)
    _common.quiet_tensorflow()
    run = _common.Run("bench_pointing", args)
    results, context = [], None
    for seed in args.seeds:
        result, seed_context = run_seed(seed, args, quick)
        results.append(result)
        context = context or seed_context
    figure(context, figure_path)
    main_keys = [key for key in results[0]["records"] if "first" not in key]
    document = {
        "settings": {"n": args.n, "size": args.size, "seeds": args.seeds,
                     "budget_s": args.budget if not quick else None,
                     "occlusion_images": args.occlusion_images,
                     "vgg16_occlusion_images": args.vgg16_occlusion_images,
                     "figure": str(figure_path)},
        "methods": combine(results),
        "per_class_methods": main_keys,
        "per_class": per_class(results, main_keys, args.min_pairs),
        "seeds": [{k: v for k, v in r.items() if k != "records"} for r in results],
    }
    run.finish(document, markdown(document, args))


if __name__ == "__main__":
    main()
