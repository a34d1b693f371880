"""Benchmark: prediction images/s and peak memory of an exported ONNX model run by onnxruntime
against Keras ``predict`` of the same network, each in fresh processes; and which converters work.

For each backbone (``smallcnn``, the recommended "cpu" recipe's network, and ``vgg16``) and image
size (64 and 128 px), a classifier is fitted for one epoch on a few images (its weights do not
change the speed), saved (``model.keras``) and exported (``format="onnx"``, one view: no test-time
augmentation in either runtime). Then ``--processes`` fresh Python processes per runtime, in
alternating order, each load the model and predict the same uint8 RGBY images from a ``.npy``
file in batches of ``--batch-size``:

- *keras*: ``hpa_sklearn.load_model(folder).model_.predict(X, batch_size)`` (TensorFlow backend);
- *onnxruntime*: ``hpa_sklearn.load_exported(folder).predict_proba(X, batch_size)`` (checks the
  folder, then onnxruntime's CPU provider with its default threads; TensorFlow is not imported).

One warm-up batch, then every image once, timed; images/s is the median over the processes and
the peak memory is each process's peak resident size (imports included: that is what a
process serving predictions holds), read as ``VmHWM`` from ``/proc/self/status``: the
``ru_maxrss`` of a child keeps its parent's resident size at the fork (Linux carries it across
``exec``), so it would show the parent's TensorFlow in every child; it is recorded too
(``ru_maxrss_mib``). The ratio onnxruntime / Keras is the figure of the target (>= 1.5).

The converter check records, measured on the recipe's network: Keras' own
``model.export(format="onnx")`` (graph inputs, random ops, whether onnxruntime runs it) and ONNX's
``Resize`` with ``antialias=1`` against TensorFlow's antialiased resize (the difference that made
the library convert ``ScaleAndTranslate`` itself).

Writes ``bench_export.json`` and ``.md`` into ``--out``. Run:
``python benchmarks/bench_export.py`` (about 20 min on 2 cores) or ``--quick``.
"""

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

RUNTIMES = ("keras", "onnxruntime")
TARGET = 1.5


# ----------------------------------------------------------------------------- child processes
def _child(runtime, folder, images, batch_size):
    """Load the model in this fresh process, predict every image once; print one JSON line."""
    import numpy as np

    X = np.load(images, mmap_mode="r")
    start = time.perf_counter()
    if runtime == "keras":
        from hpa_sklearn import load_model

        network = load_model(folder).model_

        def predict(batch):
            return network.predict(batch, batch_size=batch_size, verbose=0)
    else:
        from hpa_sklearn import load_exported

        exported = load_exported(folder)

        def predict(batch):
            return exported.predict_proba(batch, batch_size=batch_size)
    load_seconds = time.perf_counter() - start
    predict(np.ascontiguousarray(X[:batch_size]))  # warm-up: graph tracing, allocations
    X = np.ascontiguousarray(X)
    start = time.perf_counter()
    proba = predict(X)
    seconds = time.perf_counter() - start
    # ru_maxrss keeps the parent's resident size at fork across exec (Linux); VmHWM belongs to
    # this program's own memory map, made at exec: it is this process's peak alone
    print(json.dumps({"runtime": runtime, "n": len(X), "seconds": seconds,
                      "images_per_s": len(X) / seconds, "load_seconds": load_seconds,
                      "peak_rss_mib": _common.memory_status()["VmHWM"],
                      "ru_maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "tensorflow_imported": "tensorflow" in sys.modules,
                      "proba_sum": float(np.asarray(proba, dtype=np.float64).sum())}))


def _run_child(runtime, folder, images, batch_size):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore")
    done = subprocess.run(
        [sys.executable, __file__, "--child", runtime, "--model", str(folder), "--images",
         str(images), "--batch-size", str(batch_size)],
        capture_output=True, text=True, env=env, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"{runtime} process failed:\n{done.stdout[-2000:]}\n"
                           f"{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- preparation
def _prepare(backbone, size, n_images, work):
    """Fit, save and export one classifier; write the images. Returns the paths and timings."""
    import numpy as np

    from hpa_sklearn.datasets import make_hpa_like
    from hpa_sklearn.recipes import make_classifier

    X, Y = make_hpa_like(n_samples=max(n_images, 16), image_size=size, random_state=0,
                         return_X_y=True)
    recipe = "cpu" if backbone == "smallcnn" else "report"
    clf = make_classifier(recipe, weights=None, epochs=1, batch_size=16, tta=None,
                          random_state=0, verbose=0).fit(X[:16], Y[:16])
    name = f"{backbone}-{size}"
    clf.save(work / f"{name}-keras")
    seconds, _ = _common.timed(clf.export, work / f"{name}-onnx", format="onnx", tta=None)
    np.save(work / f"{name}.npy", X[:n_images])
    return {"keras": work / f"{name}-keras", "onnxruntime": work / f"{name}-onnx",
            "images": work / f"{name}.npy", "export_seconds": seconds,
            "onnx_mib": (work / f"{name}-onnx" / "model.onnx").stat().st_size / 2**20,
            "n_parameters": int(clf.model_.count_params())}


# ----------------------------------------------------------------------------- converter check
def _keras_own_onnx_export(size, work):
    """Keras' ``model.export(format="onnx")`` on the recipe's network (and on a wrapper that
    calls it with training=False): what the graph takes, whether onnxruntime runs it."""
    import keras
    import numpy as np
    import onnx
    import onnxruntime as ort

    from hpa_sklearn.datasets import make_hpa_like
    from hpa_sklearn.recipes import make_classifier

    X, Y = make_hpa_like(n_samples=16, image_size=size, random_state=0, return_X_y=True)
    clf = make_classifier("cpu", weights=None, epochs=1, batch_size=8, tta=None, random_state=0,
                          verbose=0).fit(X, Y)
    network = clf.model_
    image = keras.Input(network.input_shape[1:], dtype="uint8", name="image")
    wrapper = keras.Model(image, network(image, training=False))
    reference = network.predict(X[:4], verbose=0)
    wrapper.predict(X[:4], verbose=0)  # Keras exports only a model that was called
    results = {}
    for label, model in (("network", network), ("wrapper_training_false", wrapper)):
        path = work / f"keras-own-{label}.onnx"
        entry = {}
        try:
            model.export(str(path), format="onnx", verbose=False)
        except Exception as exc:  # record what happens, whatever it is
            results[label] = {"exported": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
            continue
        proto = onnx.load(str(path), load_external_data=False)
        entry["exported"] = True
        entry["graph_inputs"] = [i.name for i in proto.graph.input]
        entry["random_ops"] = sorted({n.op_type for n in proto.graph.node if "Random" in n.op_type})
        try:
            session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            if len(session.get_inputs()) > 1:
                entry["onnxruntime"] = (f"loads, but needs {len(session.get_inputs()) - 1} inputs "
                                        "besides the image (the normalization constants)")
            else:
                got = session.run(None, {session.get_inputs()[0].name: X[:4]})[0]
                entry["onnxruntime"] = "runs"
                entry["max_abs_diff"] = float(np.abs(got - reference).max())
        except Exception as exc:
            entry["onnxruntime"] = f"fails: {type(exc).__name__}: {str(exc)[:240]}"
        results[label] = entry
    return results


def _onnx_resize_antialias():
    """Max |ONNX Resize(linear, antialias=1) - tf.image.resize(bilinear, antialias=True)| on
    random images, for an upscale and two downscales (opset 18)."""
    import numpy as np
    import onnxruntime as ort
    import tensorflow as tf
    from onnx import TensorProto, helper

    rows = []
    rng = np.random.default_rng(0)
    for src, dst in ((32, 48), (64, 32), (50, 32)):
        x = rng.random((2, src, src, 3), dtype=np.float32)
        expected = tf.image.resize(x, (dst, dst), method="bilinear", antialias=True).numpy()
        sizes = helper.make_tensor("sizes", TensorProto.INT64, [2], [dst, dst])
        node = helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], mode="linear",
                                antialias=1, axes=[1, 2],
                                coordinate_transformation_mode="half_pixel")
        graph = helper.make_graph(
            [node], "resize", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                             list(x.shape))],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=[sizes])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
        session = ort.InferenceSession(model.SerializeToString(),
                                       providers=["CPUExecutionProvider"])
        got = session.run(None, {"x": x})[0]
        rows.append({"from": src, "to": dst, "max_abs_diff": float(np.abs(got - expected).max())})
    return rows


# ----------------------------------------------------------------------------- main
def main():
    parser = _common.parser(__doc__)
    parser.add_argument("--processes", type=int, default=None, help="fresh processes per "
                        "runtime and setting (default 3)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--child", choices=RUNTIMES, help=argparse_hidden())
    parser.add_argument("--model", help=argparse_hidden())
    parser.add_argument("--images", help=argparse_hidden())
    args = parser.parse_args()
    if args.child:
        return _child(args.child, args.model, args.images, args.batch_size)
    _common.quiet_tensorflow()
    quick = args.quick
    processes = args.processes or (1 if quick else 3)
    # (backbone, size, images predicted per process)
    settings = ([("smallcnn", 32, 64)] if quick else
                [("smallcnn", 64, 512), ("smallcnn", 128, 256), ("vgg16", 64, 256),
                 ("vgg16", 128, 128)])
    run = _common.Run("bench_export", args)
    rows, prepared_info = [], []
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        work = Path(tmp)
        converters = {"keras_model_export_onnx": _keras_own_onnx_export(32, work),
                      "onnx_resize_antialias_vs_tensorflow": _onnx_resize_antialias()}
        print("converters:", json.dumps(converters, indent=1), flush=True)
        for backbone, size, n in settings:
            prepared = _prepare(backbone, size, n, work)
            prepared_info.append({"backbone": backbone, "image_size": size,
                                  "export_seconds": round(prepared["export_seconds"], 1),
                                  "onnx_mib": round(prepared["onnx_mib"], 1),
                                  "n_parameters": prepared["n_parameters"]})
            measured = {runtime: [] for runtime in RUNTIMES}
            for repeat in range(processes):
                order = RUNTIMES if repeat % 2 == 0 else RUNTIMES[::-1]
                for runtime in order:
                    result = _run_child(runtime, prepared[runtime], prepared["images"],
                                        args.batch_size)
                    measured[runtime].append(result)
                    print(f"{backbone} {size} px {runtime:11s} process {repeat + 1}: "
                          f"{result['images_per_s']:.1f} images/s, peak "
                          f"{result['peak_rss_mib']:.0f} MiB", flush=True)
            for runtime in RUNTIMES:
                results = measured[runtime]
                rows.append({
                    "backbone": backbone, "image_size": size, "runtime": runtime, "n_images": n,
                    "images_per_s": _common.median([r["images_per_s"] for r in results]),
                    "images_per_s_each": [round(r["images_per_s"], 2) for r in results],
                    "peak_rss_mib": _common.median([r["peak_rss_mib"] for r in results]),
                    "peak_rss_mib_each": [round(r["peak_rss_mib"], 1) for r in results],
                    "ru_maxrss_mib_each": [round(r["ru_maxrss_mib"], 1) for r in results],
                    "load_seconds": _common.median([r["load_seconds"] for r in results]),
                    "tensorflow_imported": results[0]["tensorflow_imported"],
                    "same_predictions": abs(results[0]["proba_sum"] - measured["keras"][0][
                        "proba_sum"]) < 1e-3 * n})
    table = []
    for backbone, size, _ in settings:
        keras_row, ort_row = [next(r for r in rows if (r["backbone"], r["image_size"],
                                                       r["runtime"]) == (backbone, size, rt))
                              for rt in RUNTIMES]
        ratio = ort_row["images_per_s"] / keras_row["images_per_s"]
        table.append({"backbone": backbone, "image_size": size, "ratio": ratio,
                      "target_met": ratio >= TARGET})
    result = {
        "settings": {"batch_size": args.batch_size, "processes": processes,
                     "settings": [list(s) for s in settings], "tta": None,
                     "threads": "defaults (TensorFlow and onnxruntime: all cores)",
                     "target_ratio": TARGET},
        "rows": rows, "ratios": table, "exports": prepared_info, "converters": converters,
    }
    lines = [
        "# Export: onnxruntime against Keras predict, fresh processes",
        f"Medians of {processes} fresh processes per runtime and setting (alternating order); "
        f"batch {args.batch_size}; one view (no test-time augmentation); uint8 RGBY images; "
        "peak memory = each process's peak resident size (VmHWM, imports included). smallcnn "
        "= the recommended 'cpu' recipe's network; vgg16 = the report's.",
        "",
        "| backbone | image px | Keras predict (images/s) | onnxruntime (images/s) | ratio "
        f"| target >= {TARGET} | Keras peak RSS (MiB) | onnxruntime peak RSS (MiB) |",
        "|---|---:|---:|---:|---:|---|---:|---:|",
    ]
    for entry in table:
        keras_row, ort_row = [next(r for r in rows if (r["backbone"], r["image_size"],
                                                       r["runtime"]) == (entry["backbone"],
                                                                         entry["image_size"],
                                                                         rt))
                              for rt in RUNTIMES]
        lines.append(
            f"| {entry['backbone']} | {entry['image_size']} | "
            f"{keras_row['images_per_s']:.1f} | {ort_row['images_per_s']:.1f} | "
            f"{entry['ratio']:.2f} | {'met' if entry['target_met'] else 'not met'} | "
            f"{keras_row['peak_rss_mib']:.0f} | {ort_row['peak_rss_mib']:.0f} |")
    lines += ["", "| export | seconds | model.onnx (MiB) | parameters |", "|---|---:|---:|---:|"]
    for info in prepared_info:
        lines.append(f"| {info['backbone']} {info['image_size']} px | {info['export_seconds']} "
                     f"| {info['onnx_mib']} | {info['n_parameters']:,} |")
    own = converters["keras_model_export_onnx"]
    lines += ["", "Keras' own `model.export(format='onnx')` on the recipe's network (32 px):", ""]
    for label, entry in own.items():
        lines.append(f"- {label}: " + ", ".join(f"{k} {v}" for k, v in entry.items()))
    lines += ["", "ONNX `Resize(antialias=1)` (opset 18) against TensorFlow's antialiased resize:",
              ""]
    for entry in converters["onnx_resize_antialias_vs_tensorflow"]:
        lines.append(f"- {entry['from']} -> {entry['to']} px: max abs difference "
                     f"{entry['max_abs_diff']:.2e}")
    run.finish(result, lines)


def argparse_hidden():
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    main()
