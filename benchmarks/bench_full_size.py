"""Benchmark: the whole competition set at full size, measured (not projected): all 31,072 Kaggle
training samples at 512 px, the 11,702 test samples, and the 74,606 HPAv18 samples beside them.

The machine holds 76 real Kaggle samples and 2 real HPAv18 samples, so the full-size folders are
built OUTSIDE the project (``--scratch``, by default a temporary folder) from the real label files
(``train.csv``, ``sample_submission.csv``, ``HPAv18RBGY_wodpl.csv``) with every image file a hard
link to a real file, cycled (sample ``i`` of a file is real sample ``i mod 76``, or ``i mod 2``);
where a hard link is refused (another file system, a read-only mount) a symbolic link is made.
No pixel is copied. HPAv18 files are named as the HPAv18 downloads are: Id ``11088_89_B5_1`` is
``89_B5_1_{colour}.jpg`` (``load_hpa`` maps one to the other).

Stages, each measured in a fresh child process while this process samples the memory of the child
and of every process it starts (the loader's loky workers) every 0.5 s from ``/proc``
(``VmRSS``; ``RssAnon``, anonymous memory, what the processes allocated):

1. ``load``: ``load_hpa(train, image_size=512, n_jobs=2)`` into an empty cache (after checking that
   the disk holds it): wall time, samples/s, peak memory, cache size on disk, and the time of the
   space reservation (``posix_fallocate``) and of the ``fsync`` before the entry is published;
   then the cached reload (the call, and reading every byte in chunks); the same for ``test/``
   (the template's 11,702 ids).
2. ``fit``/``predict``: one epoch of ``HPAVGG16Classifier(weights=None, input_size=32,
   batch_size=64, epochs=1)`` on the memory-mapped 31,072 x 512 x 512 x 4 array (the network
   resizes to 32 px inside the graph: the data path is full size, the convolutions CPU-sized),
   then ``predict_proba`` of the 11,702 test samples: peak memory, images/s.
3. ``cli``: ``hpa-sklearn train`` and ``hpa-sklearn predict`` on the same folder and cache (so
   their loads are cache hits: the cold load is stage 1), with their output captured.
4. ``hpav18``: the stage-1 caches are deleted; the 74,606 HPAv18 ids and the Kaggle set are loaded
   at ``--combined-size`` (256 px), joined with ``hpa_sklearn.datasets.combine`` (no copy) and
   trained on for one epoch. Skipped, with the reason, when the disk cannot hold both caches.

Every folder of links and every cache is deleted at the end. Each figure is one run (these runs
take minutes to hours); the 1-minute load average is recorded through the run (a shared machine).
Writes ``bench_full_size.json`` and ``.md`` into ``--out``. Run:
``python benchmarks/bench_full_size.py`` (on 2 cores: 72 minutes measured for the load, fit and
cli stages, about 3 hours more for hpav18) or ``--quick`` (a few hundred linked samples at small
sizes, 4 HPAv18 ids; a few minutes). Each stage's figures are also written to
``bench_full_size.partial.json`` in ``--out`` as soon as it ends, so a run stopped hours in keeps
them (the file is removed when the run completes).
"""

import contextlib
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402
from hpa_sklearn._io.atomic import atomic_write_json  # noqa: E402

CHANNELS = ("red", "green", "blue", "yellow")
N_TRAIN, N_TEST, N_V18 = 31_072, 11_702, 74_606
V18_REAL = ("89_B5_1", "800_A6_1")  # the real HPAv18 samples (stems of their files)
_HPAV18_ID = re.compile(r"^\d+_(.+)$")
MARGIN = 2 * 2**30  # free space left beyond a cache's size before a stage starts


# ----------------------------------------------------------------------------- folders of links
def _link(source, target, counts):
    """A hard link (a regular file, no copy); a symbolic link where that is refused."""
    try:
        os.link(source, target)
        counts["hard"] += 1
    except OSError:
        os.symlink(source, target)
        counts["symbolic"] += 1


def _rows(path, n):
    with open(path, newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        return header, [row for _, row in zip(range(n), reader)]


def _write_rows(path, header, rows):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def make_kaggle(folder, source, n_train, n_test, counts):
    """``folder/{train.csv, train/, sample_submission.csv, test/}``: the first ``n_train`` rows of
    the real ``train.csv`` and ``n_test`` of ``sample_submission.csv``, every image a link to a
    real training sample (cycled)."""
    with open(source / "train_images_labels.csv", newline="") as handle:
        real = [row["Id"] for row in csv.DictReader(handle)]
    folder.mkdir(parents=True, exist_ok=True)
    for labels, out_csv, images, n in (("train.csv", "train.csv", "train", n_train),
                                       ("sample_submission.csv", "sample_submission.csv", "test",
                                        n_test)):
        header, rows = _rows(source / labels, n)
        _write_rows(folder / out_csv, header, rows)
        (folder / images).mkdir(parents=True)
        for i, row in enumerate(rows):
            for channel in CHANNELS:
                _link(source / "train_images" / f"{real[i % len(real)]}_{channel}.png",
                      folder / images / f"{row[0]}_{channel}.png", counts)


def make_hpav18(folder, source, n, counts):
    """``folder/hpav18.csv`` (the first ``n`` rows of ``HPAv18RBGY_wodpl.csv``) and
    ``folder/hpav18/{stem}_{colour}.jpg``, links to the 2 real HPAv18 samples (cycled), named as
    the HPAv18 downloads are (Id ``11088_89_B5_1`` -> ``89_B5_1_red.jpg``)."""
    header, rows = _rows(source / "HPAv18RBGY_wodpl.csv", n)
    _write_rows(folder / "hpav18.csv", header, rows)
    (folder / "hpav18").mkdir(parents=True)
    for i, row in enumerate(rows):
        stem = _HPAV18_ID.match(row[0]).group(1)
        real = V18_REAL[i % len(V18_REAL)]
        for channel in CHANNELS:
            _link(source / "hpav18_jpg" / f"{real}_{channel}.jpg",
                  folder / "hpav18" / f"{stem}_{channel}.jpg", counts)


# ----------------------------------------------------------------------------- memory of a tree
def _descendants(root):
    parents = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as handle:
                text = handle.read()
        except OSError:
            continue
        parents[int(entry.name)] = int(text[text.rindex(")") + 2 :].split()[1])
    tree, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, ppid in parents.items() if ppid in frontier]
        tree.extend(frontier)
    return tree


def _status(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "RssAnon", "RssFile"):
                    out[key] = int(value.split()[0]) / 1024.0
    except OSError:
        return None
    return out if "VmRSS" in out else None


class TreeSampler:
    """Samples every ``interval`` s the memory (MiB) of process ``pid`` and of its descendants:
    ``(time, main VmRSS, main RssAnon, others' VmRSS, others' RssAnon, processes)``."""

    def __init__(self, pid, interval=0.5):
        self.pid, self.interval, self.samples = pid, interval, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self):
        while not self._stop.is_set():
            main = _status(self.pid)
            if main is not None:
                others = [s for s in (_status(p) for p in _descendants(self.pid)[1:]) if s]
                self.samples.append((time.time(), main["VmRSS"], main.get("RssAnon", 0.0),
                                     sum(s["VmRSS"] for s in others),
                                     sum(s.get("RssAnon", 0.0) for s in others), 1 + len(others)))
            self._stop.wait(self.interval)

    def stop(self):
        self._stop.set()
        self._thread.join()

    def peaks(self, start=None, end=None):
        rows = [s for s in self.samples if (start is None or s[0] >= start)
                and (end is None or s[0] <= end)]
        if not rows:
            return {}
        return {
            "main_rss_mib": max(r[1] for r in rows),
            "main_anon_mib": max(r[2] for r in rows),
            "tree_rss_mib": max(r[1] + r[3] for r in rows),
            "tree_anon_mib": max(r[2] + r[4] for r in rows),
            "workers_rss_mib": max(r[3] for r in rows),
            "workers_anon_mib": max(r[4] for r in rows),
            "max_processes": max(r[5] for r in rows),
            "samples": len(rows),
        }


# ----------------------------------------------------------------------------- child processes
def _phase(name, edge):
    print(f"PHASE {json.dumps([name, edge, time.time()])}", flush=True)


def _result(**values):
    print("RESULT " + json.dumps(values), flush=True)


def _instrument_cache(timings):
    """Time the space reservation and the ``fsync`` of the cache (the functions the loader
    calls), into ``timings``."""
    from hpa_sklearn.datasets import _cache

    def timed(name, function):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                timings[name] = timings.get(name, 0.0) + time.perf_counter() - start
        return wrapper

    _cache.allocate_array = timed("reserve_s", _cache.allocate_array)
    _cache.fsync_file = timed("fsync_s", _cache.fsync_file)


def _child_load(spec):
    """Load cold (the cache must be empty), then reload (a hit) and read every byte."""
    import numpy as np

    from hpa_sklearn.datasets import load_hpa

    timings = {}
    _instrument_cache(timings)
    kwargs = dict(labels=spec["labels"], image_dir=spec["image_dir"],
                  image_size=spec["image_size"], n_jobs=spec["n_jobs"],
                  cache_dir=spec["cache_dir"], verbose=1)
    _phase("load", "start")
    start = time.perf_counter()
    data = load_hpa(spec["folder"], **kwargs)
    seconds = time.perf_counter() - start
    _phase("load", "end")
    shape = data.images.shape
    filename = str(data.images.filename)
    del data
    disk = os.stat(filename)
    _phase("reload", "start")
    start = time.perf_counter()
    again = load_hpa(spec["folder"], **{**kwargs, "verbose": 0})
    call_s = time.perf_counter() - start
    X = again.images
    buffer = np.empty((64, *X.shape[1:]), dtype=X.dtype)
    start = time.perf_counter()
    for row in range(0, len(X), 64):
        chunk = X[row : row + 64]
        buffer[: len(chunk)] = chunk
    read_s = time.perf_counter() - start
    _phase("reload", "end")
    _result(seconds=seconds, shape=list(shape), cache_file=filename,
            cache_bytes=disk.st_size, cache_disk_bytes=disk.st_blocks * 512,
            reload_call_s=call_s, reload_read_s=read_s, **timings)


class _EpochTimer:
    """A Keras callback keeping the wall time of each epoch (training only)."""

    def __new__(cls):
        import keras

        class EpochTimer(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.epochs = []

            def on_epoch_begin(self, epoch, logs=None):
                self._start = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                self.epochs.append(time.perf_counter() - self._start)

        return EpochTimer()


def _child_fit(spec):
    """One epoch on the (cached) training set; then predict the (cached) test set."""
    _common.quiet_tensorflow()
    import numpy as np

    from hpa_sklearn import HPAClassifier, HPAVGG16Classifier
    from hpa_sklearn.datasets import combine, load_hpa

    def load(entry):
        if entry.get("npy"):  # an array an earlier load stage decoded (its cache file)
            from hpa_sklearn.datasets import read_label_csv

            images = np.load(entry["npy"], mmap_mode="r")
            ids, target = read_label_csv(Path(entry["folder"]) / entry["labels"])
            if len(ids) != len(images):
                raise RuntimeError(f"{entry['npy']} holds {len(images)} images, the labels "
                                   f"{len(ids)}")
            return type("Data", (), {"images": images, "target": target})
        data = load_hpa(entry["folder"], labels=entry["labels"], image_dir=entry["image_dir"],
                        image_size=spec["image_size"], cache_dir=spec["cache_dir"], verbose=0)
        if spec.get("expect_cached") and not isinstance(data.images, np.memmap):
            raise RuntimeError("the training set was not a cache hit")
        return data

    _phase("open", "start")
    parts = [load(entry) for entry in spec["train"]]
    data = parts[0] if len(parts) == 1 else combine(*parts)
    _phase("open", "end")
    timer = _EpochTimer()
    params = dict(weights=None, input_size=spec["input_size"], batch_size=spec["batch_size"],
                  epochs=1, verbose=2, random_state=0, callbacks=[timer])
    backbone = spec.get("backbone", "vgg16")
    if backbone == "vgg16":
        clf = HPAVGG16Classifier(**params)
    else:
        clf = HPAClassifier(backbone=backbone, **params)
    _phase("fit", "start")
    start = time.perf_counter()
    clf.fit(data.images, data.target)
    fit_s = time.perf_counter() - start
    _phase("fit", "end")
    out = dict(fit_s=fit_s, epoch_s=timer.epochs[0], n_train=len(data.target),
               images_type=type(data.images).__name__)
    if spec.get("test"):
        test = load(spec["test"])
        _phase("predict", "start")
        start = time.perf_counter()
        proba = clf.predict_proba(test.images)
        out["predict_s"] = time.perf_counter() - start
        _phase("predict", "end")
        out["n_test"] = len(proba)
        out["proba_finite"] = bool(np.isfinite(proba).all())
    _result(**out)


def _child(spec):
    {"load": _child_load, "fit": _child_fit}[spec["kind"]](spec)


def _run(command, log_path, env=None):
    """Run ``command`` while sampling its process tree; returns (returncode, seconds, sampler,
    phases, result, output)."""
    env = dict(os.environ, **(env or {}))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    start = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        sampler = TreeSampler(proc.pid)
        proc.wait()
        sampler.stop()
    seconds = time.perf_counter() - start
    output = Path(log_path).read_text(errors="replace")
    phases, result = {}, None
    for line in output.splitlines():
        if line.startswith("PHASE "):
            name, edge, stamp = json.loads(line[6:])
            phases.setdefault(name, {})[edge] = stamp
        elif line.startswith("RESULT "):
            result = json.loads(line[7:])
    return proc.returncode, seconds, sampler, phases, result, output


def _child_run(spec, log_path):
    code, seconds, sampler, phases, result, output = _run(
        [sys.executable, __file__, "--child", json.dumps(spec)], log_path)
    if code or result is None:
        raise RuntimeError(f"child {spec['kind']} failed (exit {code}):\n{output[-4000:]}")
    result["process_s"] = seconds
    result["memory"] = {name: sampler.peaks(p.get("start"), p.get("end"))
                        for name, p in phases.items()}
    result["memory"]["whole_process"] = sampler.peaks()
    return result


def _progress_lines(output, keep=6):
    """The output as a user sees it at the end (each ``\\r`` progress redraw replaced by the
    next), the progress bars shortened to their first and last states."""
    lines = []
    for raw in output.replace("\r\n", "\n").split("\n"):
        states = [s for s in raw.split("\r") if s.strip()]
        if not states:
            continue
        if len(states) > keep:
            states = states[:2] + ["..."] + states[-2:]
        lines.extend(s.rstrip() for s in states)
    return [line for line in lines if not line.startswith(("PHASE ", "RESULT "))]


# ----------------------------------------------------------------------------- the parent
def _free(path):
    return shutil.disk_usage(path).free


def _cache_bytes(n, size):
    return n * size * size * len(CHANNELS)


def _gb(n_bytes):
    return n_bytes / 1e9


def main():
    parser = _common.parser(__doc__)
    parser.add_argument("--child", help=__import__("argparse").SUPPRESS)
    parser.add_argument("--scratch", type=Path, default=None,
                        help="folder for the links and caches, outside the project (default: a "
                             "new temporary folder); deleted at the end")
    parser.add_argument("--n-train", type=int, default=None, help=f"default {N_TRAIN:,}")
    parser.add_argument("--n-test", type=int, default=None, help=f"default {N_TEST:,}")
    parser.add_argument("--n-hpav18", type=int, default=None,
                        help=f"default {N_V18:,} (0: no HPAv18 stage)")
    parser.add_argument("--image-size", type=int, default=None, help="default 512 (quick 64)")
    parser.add_argument("--combined-size", type=int, default=None,
                        help="size of the HPAv18 + Kaggle stage (default 256; quick 32)")
    parser.add_argument("--input-size", type=int, default=32,
                        help="side the network resizes to inside the graph (default 32)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--n-jobs", type=int, default=2, help="decoding processes (default 2)")
    parser.add_argument("--train-npy", type=Path, default=None,
                        help="with --test-npy and without the load stage: fit on the .npy "
                             "array an earlier load stage left (its cache file) instead of "
                             "loading; the stage-1 figures are then from that earlier run")
    parser.add_argument("--test-npy", type=Path, default=None)
    parser.add_argument("--cli-backbone", default=None,
                        help="backbone of the command-line stage (default vgg16, smallcnn with "
                             "--quick; smallcnn trains about 6 times faster per image on a CPU)")
    parser.add_argument("--combined-backbone", default="vgg16",
                        help="backbone of the HPAv18 + Kaggle epoch (default vgg16: about 2.9 h "
                             "for 105,678 images on 2 cores; smallcnn about 0.5 h)")
    parser.add_argument("--stages", nargs="+", default=["load", "fit", "cli", "hpav18"],
                        choices=["load", "fit", "cli", "hpav18"],
                        help="stages to run (default: all; fit and cli need load's caches)")
    args = parser.parse_args()
    if args.child:
        _child(json.loads(args.child))
        return

    quick = args.quick
    n_train = args.n_train or (152 if quick else N_TRAIN)
    n_test = args.n_test or (76 if quick else N_TEST)
    n_v18 = args.n_hpav18 if args.n_hpav18 is not None else (4 if quick else N_V18)
    size = args.image_size or (64 if quick else 512)
    combined_size = args.combined_size or (32 if quick else 256)
    args.cli_backbone = args.cli_backbone or ("smallcnn" if quick else "vgg16")
    run = _common.Run("bench_full_size", args)
    source = _common.real_data_dir()
    needed = ("train_images_labels.csv", "sample_submission.csv", "HPAv18RBGY_wodpl.csv")
    if source is None or not all((source / name).is_file() for name in needed):
        reason = ("real HPA files not found: expected ../shared/data/hpa (beside the checkout) or "
                  "$HPA_SKLEARN_DATA with train_images/, the label files and hpav18_jpg/")
        run.finish({"skipped": reason, "settings": {}, "stages": {}},
                   ["# The full competition set, measured", f"Skipped: {reason}."])
        return

    own_scratch = args.scratch is None
    scratch = Path(tempfile.mkdtemp(prefix="hpa_full_size_")) if own_scratch else args.scratch
    scratch = scratch.resolve()
    if _common.ROOT in (scratch, *scratch.parents):
        parser.error(f"--scratch {scratch} is inside the project; choose a folder outside it")
    scratch.mkdir(parents=True, exist_ok=True)
    log = lambda message: print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)  # noqa
    settings = dict(n_train=n_train, n_test=n_test, n_hpav18=n_v18, image_size=size,
                    combined_size=combined_size, input_size=args.input_size,
                    batch_size=args.batch_size, n_jobs=args.n_jobs, stages=args.stages,
                    cli_backbone=args.cli_backbone, combined_backbone=args.combined_backbone,
                    scratch=str(scratch),
                    memory_sampling_s=0.5)
    stages, skipped, disk = {}, {}, {"free_before_gb": _gb(_free(scratch))}
    folder, cache = scratch / "kaggle", scratch / "cache"
    logs = scratch / "logs"
    logs.mkdir(exist_ok=True)
    counts = {"hard": 0, "symbolic": 0}
    partial = Path(args.out) / "bench_full_size.partial.json"

    def keep():
        """The stages measured so far, on disk at once: a run stopped hours in keeps them."""
        partial.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(partial, {"settings": settings, "stages": stages, "skipped": skipped,
                                    "disk": disk, "date_utc": time.strftime("%Y-%m-%d %H:%M:%S",
                                                                            time.gmtime())})

    try:
        start = time.perf_counter()
        shutil.rmtree(folder, ignore_errors=True)  # links of an earlier run: made again
        make_kaggle(folder, source, n_train, n_test, counts)
        links = {"seconds": time.perf_counter() - start}
        log(f"Kaggle folder: {n_train:,} + {n_test:,} samples, {counts}")
        kaggle_train = dict(folder=str(folder), labels="train.csv", image_dir=None)
        kaggle_test = dict(folder=str(folder), labels="sample_submission.csv", image_dir=None)

        def load_stage(name, entry, n, image_size):
            need = _cache_bytes(n, image_size)
            free = _free(scratch)
            if need + MARGIN > free:
                skipped[name] = (f"the cache needs {_gb(need):.1f} GB (+{_gb(MARGIN):.0f} GB "
                                 f"margin) and {_gb(free):.1f} GB are free")
                log(f"{name}: skipped, {skipped[name]}")
                return None
            log(f"{name}: loading {n:,} samples at {image_size} px ({_gb(need):.1f} GB; "
                f"{_gb(free):.1f} GB free)")
            load_before = _common.load_average()
            spec = dict(kind="load", image_size=image_size, n_jobs=args.n_jobs,
                        cache_dir=str(cache), **entry)
            result = _child_run(spec, logs / f"{name}.log")
            result.update(n=n, image_size=image_size, free_before_gb=_gb(free),
                          needed_gb=_gb(need), load_average_start=load_before,
                          load_average_end=_common.load_average(),
                          samples_per_s=n / result["seconds"],
                          reload_read_gb_per_s=_gb(result["cache_bytes"]) / result[
                              "reload_read_s"],
                          output=_progress_lines((logs / f"{name}.log").read_text()))
            stages[name] = result
            keep()
            log(f"{name}: {result['seconds']:.0f} s ({result['samples_per_s']:.1f} samples/s), "
                f"peak tree RSS {result['memory']['load'].get('tree_rss_mib', 0):.0f} MiB, "
                f"fsync {result.get('fsync_s', 0):.1f} s")
            return result

        if "load" in args.stages:
            load_stage("load_train", kaggle_train, n_train, size)
            load_stage("load_test", kaggle_test, n_test, size)

        have = "load_train" in stages and "load_test" in stages
        if args.train_npy and args.test_npy:  # arrays an earlier load stage decoded
            kaggle_train["npy"], kaggle_test["npy"] = str(args.train_npy), str(args.test_npy)
            have = "load" not in args.stages
            log(f"fit and predict on {args.train_npy} and {args.test_npy}")
        if "fit" in args.stages and have:
            log(f"fit: one epoch on {n_train:,} images of {size} px, then predict {n_test:,}")
            load_before = _common.load_average()
            spec = dict(kind="fit", image_size=size, input_size=args.input_size,
                        batch_size=args.batch_size, cache_dir=str(cache),
                        train=[kaggle_train], test=kaggle_test, expect_cached=True)
            if args.train_npy:
                settings["train_npy"], settings["test_npy"] = str(args.train_npy), str(
                    args.test_npy)
            result = _child_run(spec, logs / "fit.log")
            result.update(load_average_start=load_before, load_average_end=_common.load_average(),
                          fit_images_per_s=n_train / result["fit_s"],
                          epoch_images_per_s=n_train / result["epoch_s"],
                          predict_images_per_s=n_test / result["predict_s"])
            stages["fit_predict"] = result
            keep()
            log(f"fit: {result['fit_s']:.0f} s; predict {result['predict_s']:.0f} s; memory "
                f"{result['memory']}")
        elif "fit" in args.stages:
            skipped["fit_predict"] = "the load stage did not produce both caches"

        if "cli" in args.stages and have:
            exe = Path(sys.executable).with_name("hpa-sklearn")
            prefix = [str(exe)] if exe.is_file() else [
                sys.executable, "-c", "import sys; from hpa_sklearn.cli import main; "
                "sys.exit(main())"]
            model, submission = scratch / "model", scratch / "submission.csv"
            commands = {
                "cli_train": ["train", "--data", str(folder), "--image-size", str(size),
                              "--input-size", str(args.input_size), "--epochs", "1",
                              "--backbone", args.cli_backbone, "--weights", "none",
                              "--batch-size", str(args.batch_size),
                              "--n-jobs", str(args.n_jobs), "--cache-dir", str(cache),
                              "--out", str(model)],
                "cli_predict": ["predict", "--data", str(folder), "--model", str(model),
                                "--n-jobs", str(args.n_jobs), "--cache-dir", str(cache),
                                "--out", str(submission)],
            }
            for name, command in commands.items():
                log(f"{name}: hpa-sklearn {' '.join(command)}")
                load_before = _common.load_average()
                code, seconds, sampler, _, _, output = _run(prefix + command,
                                                           logs / f"{name}.log")
                stages[name] = dict(
                    command="hpa-sklearn " + " ".join(
                        c.replace(str(scratch), "$SCRATCH") for c in command),
                    returncode=code, seconds=seconds, memory={"whole_process": sampler.peaks()},
                    load_average_start=load_before, load_average_end=_common.load_average(),
                    output=_progress_lines(output.replace(str(scratch), "$SCRATCH")))
                keep()
                log(f"{name}: exit {code}, {seconds:.0f} s")
                if code:
                    break
            if submission.is_file():
                with open(submission, newline="") as handle:
                    stages["cli_predict"]["submission_rows"] = sum(1 for _ in handle) - 1
        elif "cli" in args.stages:
            skipped["cli"] = "the load stage did not produce both caches"

        # the 512 px caches are deleted before the HPAv18 stage: both would not fit
        shutil.rmtree(cache, ignore_errors=True)
        shutil.rmtree(scratch / "model", ignore_errors=True)
        disk["free_after_512px_stages_gb"] = _gb(_free(scratch))

        if "hpav18" in args.stages and n_v18 > 0:
            need = _cache_bytes(n_v18, combined_size) + _cache_bytes(n_train, combined_size)
            free = _free(scratch)
            if need + MARGIN > free:
                skipped["hpav18"] = (f"the two caches need {_gb(need):.1f} GB "
                                     f"(+{_gb(MARGIN):.0f} GB margin), {_gb(free):.1f} GB free")
                log(f"hpav18: skipped, {skipped['hpav18']}")
            else:
                start = time.perf_counter()
                make_hpav18(scratch, source, n_v18, counts)
                links["hpav18_seconds"] = time.perf_counter() - start
                v18 = dict(folder=str(scratch), labels="hpav18.csv", image_dir="hpav18")
                loaded = [load_stage("load_hpav18", v18, n_v18, combined_size),
                          load_stage("load_train_combined_size", kaggle_train, n_train,
                                     combined_size)]
                if all(loaded):
                    log(f"combined fit: {n_train + n_v18:,} images of {combined_size} px")
                    load_before = _common.load_average()
                    spec = dict(kind="fit", image_size=combined_size,
                                input_size=args.input_size, batch_size=args.batch_size,
                                cache_dir=str(cache), train=[kaggle_train, v18], test=None,
                                backbone=args.combined_backbone)
                    result = _child_run(spec, logs / "combined_fit.log")
                    result.update(load_average_start=load_before,
                                  load_average_end=_common.load_average(),
                                  fit_images_per_s=result["n_train"] / result["fit_s"],
                                  epoch_images_per_s=result["n_train"] / result["epoch_s"])
                    stages["combined_fit"] = result
                    keep()
                    log(f"combined fit: {result['fit_s']:.0f} s, memory {result['memory']}")
        elif "hpav18" in args.stages:
            skipped["hpav18"] = "--n-hpav18 0"
        links.update(counts)
    finally:
        shutil.rmtree(scratch / "kaggle", ignore_errors=True)
        shutil.rmtree(scratch / "hpav18", ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)
        shutil.rmtree(scratch / "model", ignore_errors=True)
        if own_scratch:
            shutil.rmtree(scratch, ignore_errors=True)
        else:
            for leftover in ("hpav18.csv", "submission.csv"):
                with contextlib.suppress(OSError):
                    (scratch / leftover).unlink()
            shutil.rmtree(logs, ignore_errors=True)
    disk["free_after_cleanup_gb"] = _gb(_free(scratch if scratch.exists() else scratch.parent))

    full = _cache_bytes(N_TRAIN, 512)
    result = {
        "settings": settings,
        "links": links,
        "disk": disk,
        "stages": stages,
        "skipped": skipped,
        "plain_float32_arithmetic": {
            "uint8_gib": full / 2**30, "float32_gib": 4 * full / 2**30,
            "note": ("31,072 x 512 x 512 x 4 channels: uint8 1 byte a value, float32 4; the plain "
                     "approach (the whole set as float32 into keras.Model.fit) holds at least the "
                     "float32 array, and measured 11-12x the uint8 size over its baseline in "
                     "bench_memory (a converted copy, then Keras' own tensor)"),
        },
    }
    run.finish(result, _markdown(result))
    partial.unlink(missing_ok=True)


def _mem(memory, phase, key):
    value = (memory or {}).get(phase, {}).get(key)
    return "" if value is None else f"{value / 1024:.2f}"


def _markdown(result):
    s, stages = result["settings"], result["stages"]
    lines = [
        "# The full competition set, measured: loading, training, predicting, the CLI, HPAv18",
        f"Folders of hard links to the real files ({result['links'].get('hard', 0):,} hard, "
        f"{result['links'].get('symbolic', 0):,} symbolic links; no pixel copied): "
        f"{s['n_train']:,} training ids (real `train.csv`), {s['n_test']:,} test ids "
        f"(`sample_submission.csv`), {s['n_hpav18']:,} HPAv18 ids; each figure one run; memory "
        "sampled every 0.5 s from /proc over the process and every process it started "
        "(*tree*: the loader's workers included). GiB; *anon* = RssAnon (allocated memory), "
        "*RSS* = VmRSS (also counts the pages of the memory-mapped cache the process touched, "
        "which the kernel may drop; summed over processes, a page mapped by two counts twice).",
        "",
        f"Free disk before: {result['disk']['free_before_gb']:.1f} GB; after cleanup: "
        f"{result['disk'].get('free_after_cleanup_gb', float('nan')):.1f} GB.",
        "",
        "| load (cold cache) | samples | px | wall time | samples/s | peak RSS, tree | peak "
        "anon, tree | peak anon, main | cache on disk | space reservation | fsync | free "
        "before | load average start / end |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, e in stages.items():
        if not name.startswith("load_"):
            continue
        lines.append(
            f"| {name[5:]} | {e['n']:,} | {e['image_size']} | {e['seconds']:.0f} s "
            f"({e['seconds'] / 60:.1f} min) | {e['samples_per_s']:.1f} | "
            f"{_mem(e['memory'], 'load', 'tree_rss_mib')} | "
            f"{_mem(e['memory'], 'load', 'tree_anon_mib')} | "
            f"{_mem(e['memory'], 'load', 'main_anon_mib')} | "
            f"{e['cache_disk_bytes'] / 1e9:.2f} GB | {e.get('reserve_s', 0):.2f} s | "
            f"{e.get('fsync_s', 0):.1f} s | {e['free_before_gb']:.0f} GB | "
            f"{e['load_average_start']} / {e['load_average_end']} |")
    lines += [
        "",
        "| cached reload | array | the load_hpa call (a hit) | reading every byte | GB/s | peak "
        "anon |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, e in stages.items():
        if name.startswith("load_"):
            lines.append(
                f"| {name[5:]} | {e['cache_bytes'] / 1e9:.2f} GB | {e['reload_call_s']:.2f} s | "
                f"{e['reload_read_s']:.0f} s | {e['reload_read_gb_per_s']:.2f} | "
                f"{_mem(e['memory'], 'reload', 'tree_anon_mib')} |")
    lines += [
        "",
        "| training / prediction | images | px (network input) | wall time | images/s | "
        "peak anon, main | peak RSS, main | load average start / end |",
        "|---|---:|---|---:|---:|---:|---:|---|",
    ]
    for name in ("fit_predict", "combined_fit"):
        e = stages.get(name)
        if not e:
            continue
        px = s["image_size"] if name == "fit_predict" else s["combined_size"]
        what = ("`HPAVGG16Classifier.fit`, one epoch, memmap X" if name == "fit_predict" else
                f"`fit` ({s.get('combined_backbone', 'vgg16')}), one epoch, "
                "`combine(kaggle, hpav18)` (LazyImages of 2 memmaps)")
        lines.append(
            f"| {what} | {e['n_train']:,} | {px} ({s['input_size']}) | {e['fit_s']:.0f} s "
            f"(epoch {e['epoch_s']:.0f} s) | {e['fit_images_per_s']:.1f} (epoch "
            f"{e['epoch_images_per_s']:.1f}) | {_mem(e['memory'], 'fit', 'main_anon_mib')} | "
            f"{_mem(e['memory'], 'fit', 'main_rss_mib')} | {e['load_average_start']} / "
            f"{e['load_average_end']} |")
        if "predict_s" in e:
            lines.append(
                f"| `predict_proba`, memmap X | {e['n_test']:,} | {px} ({s['input_size']}) | "
                f"{e['predict_s']:.0f} s | {e['predict_images_per_s']:.1f} | "
                f"{_mem(e['memory'], 'predict', 'main_anon_mib')} | "
                f"{_mem(e['memory'], 'predict', 'main_rss_mib')} | |")
    for name in ("cli_train", "cli_predict"):
        e = stages.get(name)
        if not e:
            continue
        lines += [
            "",
            f"`{e['command']}`: exit {e['returncode']}, {e['seconds']:.0f} s, peak anon "
            f"{_mem(e['memory'], 'whole_process', 'tree_anon_mib')} GiB, peak RSS "
            f"{_mem(e['memory'], 'whole_process', 'tree_rss_mib')} GiB"
            + (f", {e['submission_rows']:,} submission rows" if "submission_rows" in e else "")
            + ". Its output:",
            "",
            "```",
            *e["output"][-40:],
            "```",
        ]
    a = result["plain_float32_arithmetic"]
    lines += [
        "",
        f"The plain approach, by arithmetic (not run): the 31,072 x 512 x 512 x 4 set is "
        f"{a['uint8_gib']:.1f} GiB as uint8 and {a['float32_gib']:.1f} GiB as float32; "
        f"{a['note']}.",
    ]
    for name, reason in result["skipped"].items():
        lines.append(f"\nSkipped {name}: {reason}.")
    return lines


if __name__ == "__main__":
    main()
