"""Training and prediction throughput of HPAClassifier (every backbone) on an accelerator, as a
fraction of its 16-bit peak, and whether the input path keeps up.

For each image size: train two epochs of synthetic uint8 images (the second epoch is timed; the
first includes compilation), predict twice (the second is timed), and time the input path alone
(the classifier's batch feeder reading every batch with no device work). FLOPs per image come from
the network itself (2 * multiply-adds of every convolution and dense layer; a training step counts
3 forward passes: forward, and the two products of the backward pass).

Usage (GPU, JAX):   KERAS_BACKEND=jax python benchmarks/bench_gpu.py --sizes 224 512 \
                        --backbones vgg16 resnet50 densenet121 efficientnetv2b0 mobilenetv3small
Usage (CPU smoke):  python benchmarks/bench_gpu.py --quick
"""

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

# dense bf16 tensor-core peaks from the vendors' datasheets, TFLOP/s
_PEAKS = {"H100 SXM": 989.0, "H100 PCIe": 756.0, "H100 NVL": 835.0, "H100": 989.0,
          "H200": 989.0, "A100": 312.0, "L4": 121.0}


def network_flops(model):
    """Forward FLOPs per image of a Keras model: 2 * multiply-adds of Conv2D and Dense layers."""
    import keras

    total = 0

    def visit(layer):
        nonlocal total
        if isinstance(layer, keras.Model):
            for inner in layer.layers:
                visit(inner)
        elif isinstance(layer, keras.layers.Conv2D):
            _, height, width, channels_out = layer.output.shape
            kh, kw, channels_in, _ = layer.kernel.shape
            total += 2 * height * width * kh * kw * channels_in * channels_out
        elif isinstance(layer, keras.layers.Dense):
            fan_in, fan_out = layer.kernel.shape
            total += 2 * fan_in * fan_out

    visit(model)
    return int(total)


def _device_name():
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        return device.platform, getattr(device, "device_kind", str(device))
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            details = tf.config.experimental.get_device_details(gpus[0])
            return "gpu", details.get("device_name", "GPU")
    return "cpu", platform.processor() or platform.machine()


def _peak_for(device_kind, override):
    if override:
        return override
    for name, peak in _PEAKS.items():
        if name.lower() in device_kind.lower():
            return peak
    return None


def measure(size, *, batch_size, steps, precision, workers, backbone="vgg16"):
    import keras

    from hpa_sklearn import HPAClassifier
    from hpa_sklearn._engine.feeding import ImageBatches

    n = batch_size * steps
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (n, size, size, 4), dtype=np.uint8)
    Y = (rng.random((n, 28)) < 0.1).astype(np.uint8)

    epoch_times = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            epoch_times.append(time.perf_counter() - self.start)

    clf = HPAClassifier(backbone=backbone, weights=None, epochs=2, batch_size=batch_size,
                        verbose=0, random_state=0, mixed_precision=precision, jit_compile=True,
                        workers=workers, callbacks=[Timer()])
    clf.fit(X, Y)
    train_ips = n / epoch_times[-1]
    clf.predict_proba(X)
    start = time.perf_counter()
    clf.predict_proba(X)
    predict_ips = n / (time.perf_counter() - start)

    feeder = ImageBatches(X, Y, batch_size=batch_size, shuffle=True, seed=0)
    start = time.perf_counter()
    for i in range(len(feeder)):
        feeder[i]
    input_ips = n / (time.perf_counter() - start)

    flops = network_flops(clf.model_)
    return {
        "backbone": backbone,
        "image_size": size,
        "batch_size": batch_size,
        "images": n,
        "precision": precision or "float32",
        "forward_gflops_per_image": flops / 1e9,
        "train_images_per_s": train_ips,
        "predict_images_per_s": predict_ips,
        "input_path_images_per_s": input_ips,
        "input_path_over_train": input_ips / train_ips,
        "train_tflops": train_ips * 3 * flops / 1e12,
        "predict_tflops": predict_ips * flops / 1e12,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[224, 512])
    parser.add_argument("--backbones", nargs="+", default=["vgg16"],
                        help="hpa_sklearn.backbones names (default: vgg16)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20, help="batches per timed epoch")
    parser.add_argument("--precision", default="mixed_bfloat16",
                        help="Keras dtype policy: mixed_bfloat16, mixed_float16 or float32")
    parser.add_argument("--workers", type=int, default=4, help="batch-preparing threads")
    parser.add_argument("--peak-tflops", type=float, default=None,
                        help="the device's dense 16-bit peak (default: from its name)")
    parser.add_argument("--quick", action="store_true", help="tiny CPU smoke run")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.batch_size, args.steps, args.precision = [32], 4, 2, "float32"
    precision = None if args.precision == "float32" else args.precision

    import keras

    platform_name, device_kind = _device_name()
    peak = _peak_for(device_kind, args.peak_tflops)
    rows = []
    for backbone, size in [(b, z) for b in args.backbones for z in args.sizes]:
        row = measure(size, batch_size=args.batch_size, steps=args.steps, precision=precision,
                      workers=args.workers, backbone=backbone)
        if peak and platform_name != "cpu":
            row["train_fraction_of_peak"] = row["train_tflops"] / peak
            row["predict_fraction_of_peak"] = row["predict_tflops"] / peak
        rows.append(row)
        print(json.dumps(row), flush=True)

    result = {
        "benchmark": "bench_gpu",
        "command": " ".join([f"KERAS_BACKEND={keras.backend.backend()}", "python",
                             "benchmarks/bench_gpu.py", *(argv if argv is not None else sys.argv[1:])]),
        "backend": keras.backend.backend(),
        "device": device_kind,
        "platform": platform_name,
        "peak_tflops_16bit": peak,
        "rows": rows,
    }
    from hpa_sklearn._io.atomic import atomic_write_text

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "bench_gpu_quick" if args.quick else f"bench_gpu_{platform_name}"
    atomic_write_text(out / f"{stem}.json", json.dumps(result, indent=2))
    lines = [
        f"Device: {device_kind} ({platform_name}), Keras backend {result['backend']}, "
        f"16-bit peak {peak or 'unknown'} TFLOP/s. Command: `{result['command']}`",
        "",
        "| backbone | size | precision | batch | GFLOP/img (fwd) | train img/s | predict img/s | "
        "train % of peak | input path / train |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        share = r.get("train_fraction_of_peak")
        lines.append(
            f"| {r['backbone']} | {r['image_size']} | {r['precision']} | {r['batch_size']} | "
            f"{r['forward_gflops_per_image']:.1f} | {r['train_images_per_s']:.1f} | "
            f"{r['predict_images_per_s']:.1f} | "
            f"{'n/a' if share is None else f'{100 * share:.1f}%'} | "
            f"{r['input_path_over_train']:.1f}x |"
        )
    atomic_write_text(out / f"{stem}.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
