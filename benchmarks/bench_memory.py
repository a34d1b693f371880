"""Benchmark: peak memory of training and prediction, streamed uint8 batches against the plain
float32 approach.

For growing ``n`` at a fixed image size it runs, each in a FRESH subprocess (one epoch, CPU):

- ``ours, memmap``: ``HPAVGG16Classifier.fit`` / ``predict_proba`` on ``np.load(path, mmap_mode="r")``
  (what ``load_hpa``'s cache returns);
- ``ours, in memory``: the same on the uint8 array read into RAM;
- ``plain``: the uint8 array read into RAM, converted to float32 in [0, 1] (``astype`` then ``/= 255``
  in place, the uint8 array deleted), and handed whole to ``keras.Model.fit`` / ``predict`` of the
  same network (``hpa_sklearn._engine.network.build_network``, float input), same batch size.

What is measured, in each child: the memory after the imports and a warm-up (a fit, or a fit and a
predict, on two batches of in-memory images, so that TensorFlow's one-time allocations and graph
tracing are done; with ``--quick`` no warm-up, and one process for all) is the baseline; then the kernel's peak-RSS counter is reset
(``/proc/self/clear_refs``) and a thread polls ``/proc/self/status`` every 5 ms while the child
loads ``X`` and calls ``fit`` (which builds a new network) or ``predict``. Reported:

- ``peak anon``: the largest ``RssAnon`` (anonymous memory: what the process itself allocated);
- ``peak RSS``: the kernel's ``VmHWM``, which also counts the pages of a memory-mapped file the
  process touched (``RssFile``): reading a memmap once maps every page of it, but those are page
  cache the kernel drops under pressure, not memory the process needs;
- both minus the baseline (``... over baseline``).

The network's input may be resized inside the graph (``--input-size``) so that a CPU gets through
large images quickly: the data path (host copies of ``X``) is what this measures, and it is the same
whatever size the convolutions see. ``--size512`` adds a run at 512 px (the full-resolution data
path: memmap for 2 values of n, plain for the smallest), from which the docs project the full
31,072-image set.

Writes ``bench_memory.json`` and ``.md`` into ``--out``. Run:
``python benchmarks/bench_memory.py`` (about 20 min on 2 cores) or ``--quick``.
"""

import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

MODES = ("ours_memmap", "ours_memory", "plain")
WARMUP_EPOCHS = 8  # of 2 batches: 16 training steps before the baseline
MODE_NAMES = {
    "ours_memmap": "ours, memmap X",
    "ours_memory": "ours, in-memory X",
    "plain": "plain: whole set as float32 into `keras.Model.fit` / `predict`",
}


# ----------------------------------------------------------------------------- child
def _child(specs):
    """Measure each configuration of ``specs`` in turn (one, except with ``--quick``)."""
    for spec in specs:
        _measure_one(spec)


def _measure_one(spec):
    """Measure one configuration; print one JSON line."""
    _common.quiet_tensorflow()
    import numpy as np

    from hpa_sklearn import HPAVGG16Classifier

    mode, phase, path = spec["mode"], spec["phase"], spec["path"]
    Y = np.load(spec["labels"])
    n, batch_size = spec["n"], spec["batch_size"]
    Y = Y[:n]
    warm = np.array(np.load(path, mmap_mode="r")[: 2 * batch_size if spec["warmup"] else 1])
    Y_warm = Y[: len(warm)]
    image_shape = warm.shape[1:]

    params = dict(weights=None, epochs=1, batch_size=batch_size, input_size=spec["input_size"],
                  verbose=0, random_state=0)
    if mode == "plain":
        import keras

        from hpa_sklearn._engine.network import build_network

        def network():
            model = build_network(
                backbone="vgg16", image_shape=image_shape, n_outputs=Y.shape[1], input_dtype="float32",
                mean=np.full(image_shape[-1], 0.1), variance=np.full(image_shape[-1], 0.01),
                channels=("red", "green", "blue", "yellow")[: image_shape[-1]], weights=None,
                yellow_init="red", input_size=spec["input_size"], augmentation_layers=[],
                pooling="avg", hidden_units=(512,), activation="relu", dropout=0.2, seed=0)
            model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="binary_crossentropy")
            return model

        warm_f = warm.astype(np.float32) / 255
        model = network()
        if spec["warmup"]:
            model.fit(warm_f, Y_warm, batch_size=batch_size, epochs=spec["warmup_epochs"],
                      verbose=0)
        if phase == "predict":
            model.predict(warm_f, batch_size=batch_size, verbose=0)
        else:
            del model  # fit builds a new network, as a fresh process would
        del warm_f
    elif spec["warmup"] or phase == "predict":
        clf = HPAVGG16Classifier(**{**params, "epochs": spec["warmup_epochs"]}).fit(warm, Y_warm)
        if phase == "predict":
            clf.predict_proba(warm)
        else:
            del clf
    del warm
    gc.collect()
    time.sleep(0.2)
    baseline = _common.memory_status()
    reset_ok = _common.reset_peak_rss()
    start = time.perf_counter()
    with _common.PeakSampler() as sampler:
        if mode == "ours_memmap":
            X = np.load(path, mmap_mode="r")
        else:
            X = np.load(path)  # the uint8 array, read into RAM
        if mode == "plain":
            X_float = X.astype(np.float32)
            del X
            X_float /= 255
            if phase == "fit":
                model = network()
                model.fit(X_float, Y, batch_size=batch_size, epochs=1, verbose=0, shuffle=True)
            else:
                model.predict(X_float, batch_size=batch_size, verbose=0)
        elif phase == "fit":
            HPAVGG16Classifier(**params).fit(X, Y)
        else:
            clf.predict_proba(X)
    seconds = time.perf_counter() - start
    end = _common.memory_status()
    peak = sampler.peak
    print("RESULT " + json.dumps({
        "baseline_rss_mib": baseline["VmRSS"],
        "baseline_anon_mib": baseline["RssAnon"],
        "peak_rss_mib": end["VmHWM"] if reset_ok else None,
        "peak_anon_mib": peak["RssAnon"],
        "peak_file_mib": peak["RssFile"],
        "peak_rss_polled_mib": peak["VmRSS"],
        "seconds": seconds,
        "hwm_reset": reset_ok,
    }), flush=True)


# ----------------------------------------------------------------------------- parent
def _write_data(folder, n_values, image_size, seed=0):
    """One ``.npy`` of uint8 images per n (at most 256 distinct HPA-like images, tiled; above
    128 px they are drawn at 128 px and enlarged by pixel repetition: their content does not
    matter here, their size does) and the labels."""
    import numpy as np

    from hpa_sklearn.datasets import make_hpa_like

    distinct = min(max(n_values), 256)
    drawn = 128 if image_size > 128 and image_size % 128 == 0 else image_size
    X, Y = make_hpa_like(n_samples=distinct, image_size=drawn, random_state=seed,
                         return_X_y=True)
    factor = image_size // drawn
    paths = {}
    for n in n_values:
        path = Path(folder) / f"images_{image_size}px_{n}.npy"
        out = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8,
                                        shape=(n, image_size, image_size, X.shape[-1]))
        for start in range(0, n, distinct):
            stop = min(start + distinct, n)
            block = X[: stop - start]
            if factor > 1:
                block = block.repeat(factor, axis=1).repeat(factor, axis=2)
            out[start:stop] = block
        out.flush()
        del out
        paths[n] = str(path)
    labels = Path(folder) / "labels.npy"
    np.save(labels, np.tile(Y, (max(n_values) // distinct + 1, 1))[: max(n_values)])
    return paths, str(labels)


def _run_child(specs):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(specs)],
                          capture_output=True, text=True, env=env)
    results = [json.loads(line[len("RESULT "):]) for line in proc.stdout.splitlines()
               if line.startswith("RESULT ")]
    if proc.returncode or len(results) != len(specs):
        raise RuntimeError(f"child {specs} failed (exit {proc.returncode}):\n"
                           f"{proc.stderr[-3000:]}")
    return results


def _measure(configs, paths, labels, image_size, input_size, batch_size, log, quick=False,
             repeats=1):
    """``repeats`` fresh processes per configuration, each figure the median over them; with
    ``quick`` one process runs every configuration once (a smoke test: the later ones then start
    from the earlier ones' memory)."""
    specs = [dict(mode=mode, phase=phase, n=n, path=paths[n], labels=labels,
                  batch_size=batch_size, input_size=input_size, warmup=not quick,
                  warmup_epochs=WARMUP_EPOCHS)
             for phase, mode, n in configs]
    if quick:
        per_config = [[result] for result in _run_child(specs)]
    else:
        per_config = [[_run_child([spec])[0] for _ in range(repeats)] for spec in specs]
    rows = []
    for (phase, mode, n), results in zip(configs, per_config):
        for result in results:
            result["peak_anon_over_baseline_mib"] = (result["peak_anon_mib"]
                                                     - result["baseline_anon_mib"])
            if result["peak_rss_mib"] is not None:
                result["peak_rss_over_baseline_mib"] = (result["peak_rss_mib"]
                                                        - result["baseline_rss_mib"])
        median = {key: (_common.median([r[key] for r in results])
                        if isinstance(results[0][key], (int, float))
                        and not isinstance(results[0][key], bool) else results[0][key])
                  for key in results[0]}
        uint8_mib = n * image_size * image_size * 4 / 2**20
        row = dict(phase=phase, mode=mode, n=n, image_size=image_size, input_size=input_size,
                   uint8_mib=uint8_mib, repeats=len(results), **median, each_repeat=results)
        rows.append(row)
        log(f"{phase:7s} {mode:12s} {image_size}px n={n:5d} uint8 {uint8_mib:7.1f} MiB  peak anon "
            f"+{row['peak_anon_over_baseline_mib']:7.1f}  peak RSS "
            f"+{row.get('peak_rss_over_baseline_mib', float('nan')):7.1f}  (medians of "
            f"{len(results)}; {row['seconds']:.0f} s)")
    return rows


def _summaries(rows, n_small, n_large):
    """Per phase and mode: growth of the peaks from n_small to n_large."""
    out = []
    for phase in ("fit", "predict"):
        for mode in MODES:
            pick = {r["n"]: r for r in rows if r["phase"] == phase and r["mode"] == mode}
            if n_small not in pick or n_large not in pick:
                continue
            a, b = pick[n_small], pick[n_large]
            added = b["uint8_mib"] - a["uint8_mib"]
            s = dict(
                phase=phase, mode=mode, n_small=n_small, n_large=n_large,
                added_uint8_mib=added,
                growth_over_baseline_mib=(b["peak_anon_over_baseline_mib"]
                                          - a["peak_anon_over_baseline_mib"]),
                anon_growth_mib=b["peak_anon_mib"] - a["peak_anon_mib"],
                anon_peak_ratio=b["peak_anon_mib"] / a["peak_anon_mib"],
                rss_growth_mib=(b["peak_rss_mib"] - a["peak_rss_mib"]
                                if a["peak_rss_mib"] is not None else None),
                rss_peak_ratio=(b["peak_rss_mib"] / a["peak_rss_mib"]
                                if a["peak_rss_mib"] is not None else None),
                peak_over_baseline_per_uint8=b["peak_anon_over_baseline_mib"] / b["uint8_mib"],
            )
            if mode == "ours_memmap":
                s["target"] = "peak (anon) RSS within 10% as n grows 4x"
                s["target_met"] = s["anon_peak_ratio"] <= 1.10
            elif mode == "ours_memory":
                s["target"] = ("peak over baseline grows by at most the uint8 size of the added "
                               "images (+1% for page-granular accounting)")
                s["target_met"] = s["growth_over_baseline_mib"] <= 1.01 * added
            else:
                s["target"] = "plain peak over baseline >= 4x the uint8 data size"
                s["target_met"] = s["peak_over_baseline_per_uint8"] >= 4.0
            out.append(s)
    return out


def _projection(rows512):
    """Linear projection of the memmap training peak to 31,072 images at 512 px."""
    fit = sorted((r for r in rows512 if r["phase"] == "fit" and r["mode"] == "ours_memmap"),
                 key=lambda r: r["n"])
    if len(fit) < 2:
        return None
    a, b = fit[0], fit[-1]
    slope = (b["peak_anon_mib"] - a["peak_anon_mib"]) / (b["n"] - a["n"])
    n_full = 31_072
    projected = b["peak_anon_mib"] + max(slope, 0.0) * (n_full - b["n"])
    plain = [r for r in rows512 if r["mode"] == "plain" and r["phase"] == "fit"]
    full_uint8_gib = n_full * 512 * 512 * 4 / 2**30
    proj = dict(
        n=n_full, image_size=512,
        formula=("peak_anon(31,072) = peak_anon(n2) + max(slope, 0) x (31,072 - n2), slope = "
                 "(peak_anon(n2) - peak_anon(n1)) / (n2 - n1), from the 512 px memmap fit rows"),
        n1=a["n"], n2=b["n"], slope_mib_per_image=slope,
        ours_memmap_peak_anon_gib=projected / 1024,
        full_uint8_gib=full_uint8_gib,
        full_float32_gib=4 * full_uint8_gib,
    )
    if plain:
        p = plain[0]
        ratio = p["peak_anon_over_baseline_mib"] / p["uint8_mib"]
        proj["plain_peak_over_baseline_per_uint8"] = ratio
        proj["plain_projected_gib"] = (p["baseline_anon_mib"] / 1024 + ratio * full_uint8_gib)
    return proj


def main():
    parser = _common.parser(__doc__)
    parser.add_argument("--child", help=__import__("argparse").SUPPRESS)
    parser.add_argument("--image-size", type=int, default=None, help="image side (default 128)")
    parser.add_argument("--input-size", type=int, default=None,
                        help="side the network resizes to (default 32; 0: no resize)")
    parser.add_argument("--n", type=int, nargs="+", default=None,
                        help="numbers of images (default 512 1024 2048)")
    parser.add_argument("--batch-size", type=int, default=None, help="default 64 (32 quick)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="fresh processes per configuration, medians reported (default 3)")
    parser.add_argument("--size512", type=int, nargs="*", default=None,
                        help="n values of the 512 px run (default 256 1024; none with --quick)")
    args = parser.parse_args()
    if args.child:
        _child(json.loads(args.child))
        return

    quick = args.quick
    image_size = args.image_size or (32 if quick else 128)
    input_size = args.input_size if args.input_size is not None else (0 if quick else 32)
    input_size = input_size or None
    n_values = sorted(args.n or ([32, 128] if quick else [512, 1024, 2048]))
    batch_size = args.batch_size or (16 if quick else 64)
    size512 = sorted(args.size512 if args.size512 is not None else ([] if quick else [256, 1024]))
    phases = ("fit",) if quick else ("fit", "predict")
    repeats = 1 if quick else (args.repeats or 3)
    modes = ("ours_memmap", "plain") if quick else MODES

    run = _common.Run("bench_memory", args)
    log = lambda message: print(message, flush=True)  # noqa: E731
    with tempfile.TemporaryDirectory(prefix="hpa_bench_memory_") as folder:
        paths, labels = _write_data(folder, n_values, image_size)
        configs = [(phase, mode, n) for phase in phases for mode in modes for n in n_values]
        rows = _measure(configs, paths, labels, image_size, input_size, batch_size, log,
                        quick=quick, repeats=repeats)
        for path in paths.values():
            os.unlink(path)
        rows512 = []
        if size512:
            paths512, labels512 = _write_data(folder, size512, 512)
            configs = [("fit", "ours_memmap", n) for n in size512]
            configs += [("fit", "plain", size512[0]), ("predict", "ours_memmap", size512[-1]),
                        ("predict", "plain", size512[0])]
            rows512 = _measure(configs, paths512, labels512, 512, 32, batch_size, log,
                               repeats=repeats)

    summary = _summaries(rows, n_values[0], n_values[-1])
    projection = _projection(rows512)
    result = {
        "settings": dict(quick=quick, repeats=repeats, image_size=image_size,
                         input_size=input_size, n=n_values,
                         batch_size=batch_size, epochs=1, size512_n=size512, channels=4),
        "rows": rows,
        "rows_512px": rows512,
        "summary": summary,
        "projection_full_512px": projection,
    }
    run.finish(result, _markdown(result))


def _markdown(result):
    s = result["settings"]
    resize = (f"network input resized to {s['input_size']} px inside the graph"
              if s["input_size"] else "no resize")
    lines = [
        "# Peak memory of fit and predict: streamed uint8 batches vs plain float32 arrays",
        f"{s['image_size']} px RGBY uint8 images ({resize}), batch {s['batch_size']}, one epoch, "
        "CPU; " + ("one process for all rows (--quick)." if s.get("quick") else
                   f"each row the median of {s['repeats']} fresh processes.")
        + " *peak anon* = largest anonymous RSS (what the process allocated); *peak RSS* = the "
        "kernel's VmHWM, which also counts the touched pages of a memory-mapped file (page "
        "cache, which the kernel may drop). Both in MiB over the baseline (after imports and a "
        "warm-up fit), except the absolute *peak anon*.",
        "",
        "| phase | X | n | uint8 data (MiB) | peak anon over baseline | peak RSS over baseline "
        "| absolute peak anon | time (s) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['phase']} | {MODE_NAMES[r['mode']]} | {r['n']:,} | {r['uint8_mib']:.0f} | "
            f"{r['peak_anon_over_baseline_mib']:.0f} | "
            f"{_common.fmt(r.get('peak_rss_over_baseline_mib'), 0)} | "
            f"{r['peak_anon_mib']:.0f} | {r['seconds']:.0f} |")
    lines += [
        "",
        "Growth from the smallest to the largest n (targets of issue 6):",
        "",
        "| phase | X | n | added uint8 (MiB) | growth of peak anon over baseline (MiB) "
        "| absolute peak anon ratio | growth of peak RSS (MiB) | peak over baseline / uint8 "
        "size | target | met |",
        "|---|---|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for t in result["summary"]:
        lines.append(
            f"| {t['phase']} | {MODE_NAMES[t['mode']]} | {t['n_small']:,} -> {t['n_large']:,} | "
            f"{t['added_uint8_mib']:.0f} | {t['growth_over_baseline_mib']:.0f} | "
            f"{t['anon_peak_ratio']:.3f} | {_common.fmt(t['rss_growth_mib'], 0)} | "
            f"{t['peak_over_baseline_per_uint8']:.2f} | {t['target']} | "
            f"{'yes' if t['target_met'] else 'no'} |")
    if result["rows_512px"]:
        lines += [
            "",
            "512 px (the full resolution; network input resized to 32 px, so that the CPU gets "
            "through it: the data path is measured, not 512 px convolutions):",
            "",
            "| phase | X | n | uint8 data (MiB) | peak anon over baseline | peak RSS over baseline "
            "| absolute peak anon | time (s) |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        for r in result["rows_512px"]:
            lines.append(
                f"| {r['phase']} | {MODE_NAMES[r['mode']]} | {r['n']:,} | {r['uint8_mib']:.0f} | "
                f"{r['peak_anon_over_baseline_mib']:.0f} | "
                f"{_common.fmt(r.get('peak_rss_over_baseline_mib'), 0)} | "
                f"{r['peak_anon_mib']:.0f} | {r['seconds']:.0f} |")
    p = result["projection_full_512px"]
    if p:
        lines += [
            "",
            f"Projection (not a measurement) for training on all {p['n']:,} images at 512 px from "
            f"a memmap: {p['formula']}: slope {p['slope_mib_per_image'] * 1024:.1f} KiB/image "
            f"-> **{p['ours_memmap_peak_anon_gib']:.1f} GiB** of process memory, against "
            f"{p['full_uint8_gib']:.1f} GiB of uint8 images and {p['full_float32_gib']:.1f} GiB "
            "as float32."
            + (f" The plain approach measured {p['plain_peak_over_baseline_per_uint8']:.1f}x the "
               f"uint8 size over its baseline, i.e. about {p['plain_projected_gib']:.0f} GiB."
               if "plain_projected_gib" in p else ""),
        ]
    return lines


if __name__ == "__main__":
    main()
