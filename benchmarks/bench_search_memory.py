"""Benchmark: resident memory of a search whose fits all run in one process, against the same
search with its fits in worker processes replaced every k fits (``hpa_sklearn.isolated_fits``).

Each fit of a Keras network leaves memory behind in its process (issue 11: about 208 MiB a VGG16
fit, linearly). This runs the same ``GridSearchCV`` (``HPAVGG16Classifier(weights=None, epochs=1,
batch_size=16)`` on HPA-like 32 px images memory-mapped from a ``.npy`` file, as ``load_hpa``'s
cache is; candidates x 2 folds = ``--fits`` sequential fits) once per mode, each mode in a FRESH
process (the "main process" below, started by this script):

- ``in-process``: every fit in the main process (``n_jobs=None``, as ``--fits-per-worker 0``);
- ``k = 4``, ``k = 8``: inside ``isolated_fits(max_fits_per_worker=k, n_workers=1)``, one worker
  at a time, replaced after ``k`` fits (what ``hpa-sklearn search`` does by default, with k = 8).

What is measured: this script samples, every 0.2 s, the resident memory (``VmRSS``) of the main
process and of every process below it (workers and multiprocessing's resource tracker), with
psutil where installed, else ``/proc``: the peak of the main process, the peak of any one worker,
and the peak of their sum at one instant (RSS counts shared libraries in every process, so the
sum over-states what the processes need together: an upper bound). A scorer also records the
RSS of the process that ran each fit right after it (``rss_mib`` in ``cv_results_``), which shows
the growth fit by fit. Wall time is that of ``search.fit`` in the main process, worker starts
included.

Writes ``bench_search_memory.json`` and ``.md`` into ``--out``. Run:
``python benchmarks/bench_search_memory.py`` (40 fits a mode, 15-30 min on 2 cores) or
``--quick`` (2 fits, in-process and k = 1: a smoke test).
"""

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

SAMPLE_S = 0.2


# ----------------------------------------------------------------------------- the main process
def _status_mib(pid, keys=("VmRSS", "RssAnon")):
    values = {}
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key in keys:
                    values[key] = int(value.split()[0]) / 1024.0
    except OSError:
        return None
    return values


def _rss_scorer(estimator, X, y):
    """A 'score' that is the resident memory (MiB) of the process that just ran the fit."""
    status = _status_mib(os.getpid())
    if status is not None:
        return status["VmRSS"]
    import psutil  # noqa: PLC0415

    return psutil.Process().memory_info().rss / 2**20


def _child(spec):
    """One mode, in a fresh process: build the search, run it, print its result as JSON."""
    _common.quiet_tensorflow()
    import numpy as np
    from sklearn.model_selection import GridSearchCV

    from hpa_sklearn import HPAVGG16Classifier, MultilabelStratifiedKFold, macro_f1_scorer
    from hpa_sklearn.datasets import make_hpa_like

    folder = Path(spec["folder"])
    path = folder / "images.npy"
    images, Y = make_hpa_like(spec["n_samples"], spec["image_size"], random_state=0,
                              return_X_y=True)
    np.save(path, images)
    X = np.load(path, mmap_mode="r")  # what load_hpa's cache gives
    del images
    n_candidates = spec["fits"] // 2
    grid = {"learning_rate": [float(v) for v in np.geomspace(1e-4, 1e-2, n_candidates)]}
    search = GridSearchCV(
        HPAVGG16Classifier(weights=None, epochs=1, batch_size=16, verbose=0, random_state=0),
        grid, cv=MultilabelStratifiedKFold(2, random_state=0), refit=False,
        scoring={"macro_f1": macro_f1_scorer, "rss_mib": _rss_scorer},
    )
    pids = None
    start = time.perf_counter()
    if spec["k"]:
        from hpa_sklearn import isolated_fits

        with isolated_fits(max_fits_per_worker=spec["k"], n_workers=1) as pool:
            search.fit(X, Y)
        pids = pool.task_pids_
    else:
        search.fit(X, Y)
    seconds = time.perf_counter() - start
    results = search.cv_results_
    # the order the fits ran in: candidates in turn, each on fold 0 then fold 1
    rss = [float(results[f"split{s}_test_rss_mib"][c]) for c in range(n_candidates)
           for s in range(2)]
    f1 = [float(results[f"split{s}_test_macro_f1"][c]) for c in range(n_candidates)
          for s in range(2)]
    print("RESULT " + json.dumps({"seconds": seconds, "rss_after_fit_mib": rss,
                                  "macro_f1": f1, "task_pids": pids, "main_pid": os.getpid()}),
          flush=True)


# ----------------------------------------------------------------------------- the sampler
def _descendants(pid):
    try:
        import psutil  # noqa: PLC0415

        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except ImportError:
        pass
    except Exception:  # the process ended meanwhile
        return []
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    parents[int(entry)] = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    found, frontier = [], [pid]
    while frontier:
        children = [p for p, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def _rss_mib(pid):
    status = _status_mib(pid, keys=("VmRSS",))
    if status is not None:
        return status.get("VmRSS", 0.0)
    try:
        import psutil  # noqa: PLC0415

        return psutil.Process(pid).memory_info().rss / 2**20
    except Exception:
        return 0.0


class _Sampler:
    """Samples the RSS of a process and of every process below it, every ``SAMPLE_S``."""

    def __init__(self, pid):
        self.pid = pid
        self.peak_main = self.peak_worker = self.peak_total = 0.0
        self.others = set()
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            main = _rss_mib(self.pid)
            others = {p: _rss_mib(p) for p in _descendants(self.pid)}
            self.others.update(others)
            self.peak_main = max(self.peak_main, main)
            self.peak_worker = max([self.peak_worker, *others.values()])
            self.peak_total = max(self.peak_total, main + sum(others.values()))
            self.samples += 1
            self._stop.wait(SAMPLE_S)

    def stop(self):
        self._stop.set()
        self._thread.join()


def _run_mode(spec, log):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore")
    with tempfile.TemporaryDirectory(prefix="hpa_bench_search_memory_") as folder:
        spec = dict(spec, folder=folder)
        with tempfile.TemporaryFile("w+") as stderr:
            proc = subprocess.Popen([sys.executable, __file__, "--child", json.dumps(spec)],
                                    stdout=subprocess.PIPE, stderr=stderr, text=True, env=env)
            sampler = _Sampler(proc.pid)
            stdout, _ = proc.communicate()
            sampler.stop()
            stderr.seek(0)
            errors = stderr.read()
    results = [json.loads(line[len("RESULT "):]) for line in stdout.splitlines()
               if line.startswith("RESULT ")]
    if proc.returncode or not results:
        raise RuntimeError(f"mode {spec} failed (exit {proc.returncode}):\n{errors[-3000:]}")
    result = results[0]
    pids = result["task_pids"]
    row = dict(
        mode="in-process" if not spec["k"] else f"k = {spec['k']}",
        fits_per_worker=spec["k"],
        fits=len(result["rss_after_fit_mib"]),
        seconds=result["seconds"],
        peak_main_rss_mib=sampler.peak_main,
        peak_worker_rss_mib=sampler.peak_worker if spec["k"] else None,
        peak_total_rss_mib=sampler.peak_total,
        workers_started=len(set(pids)) if pids else 0,
        max_fits_in_one_worker=max(pids.count(p) for p in set(pids)) if pids else None,
        rss_after_fit_mib=result["rss_after_fit_mib"],
        macro_f1=result["macro_f1"],
        samples=sampler.samples,
        processes_seen_below_main=len(sampler.others),
    )
    log(f"{row['mode']}: {row['fits']} fits in {row['seconds']:.0f} s; peak RSS main "
        f"{row['peak_main_rss_mib']:.0f} MiB, any worker {row['peak_worker_rss_mib'] or 0:.0f} "
        f"MiB, total {row['peak_total_rss_mib']:.0f} MiB; {row['workers_started']} workers")
    return row


def _slope(values):
    import numpy as np

    if len(values) < 2:
        return None
    x = np.arange(1, len(values) + 1)
    return float(np.polyfit(x, np.asarray(values), 1)[0])


def main():
    parser = _common.parser(__doc__)
    parser.add_argument("--child", help=__import__("argparse").SUPPRESS)
    parser.add_argument("--fits", type=int, default=None,
                        help="fits a mode, an even number (default 40; 2 with --quick)")
    parser.add_argument("--k", type=int, nargs="+", default=None,
                        help="fits per worker of the isolated modes (default 4 8; 1 with --quick)")
    parser.add_argument("--n-samples", type=int, default=None,
                        help="HPA-like images (default 96; 32 with --quick)")
    args = parser.parse_args()
    if args.child:
        _child(json.loads(args.child))
        return

    quick = args.quick
    fits = args.fits or (2 if quick else 40)
    if fits < 2 or fits % 2:
        parser.error(f"--fits must be an even number >= 2 (2 folds); got {fits}")
    ks = args.k or ([1] if quick else [4, 8])
    n_samples = args.n_samples or (32 if quick else 96)
    settings = dict(fits=fits, fits_per_worker=ks, n_samples=n_samples, image_size=32,
                    folds=2, classifier="HPAVGG16Classifier(weights=None, epochs=1, "
                    "batch_size=16)", sample_every_s=SAMPLE_S,
                    x="np.load(path, mmap_mode='r') of uint8 HPA-like images")

    run = _common.Run("bench_search_memory", args)
    log = lambda message: print(message, flush=True)  # noqa: E731
    rows = []
    for k in [0, *ks]:
        spec = dict(k=k, fits=fits, n_samples=n_samples, image_size=32)
        rows.append(_run_mode(spec, log))
    base = rows[0]
    for row in rows:
        row["wall_time_ratio"] = row["seconds"] / base["seconds"]
    series = base["rss_after_fit_mib"]
    growth = _slope(series)
    marks = [i for i in (1, 10, 20, 40) if i <= len(series)]
    if len(series) not in marks:
        marks.append(len(series))
    same_scores = all(r["macro_f1"] == base["macro_f1"] for r in rows)
    result = {
        "settings": settings,
        "rows": rows,
        "in_process_rss_after_fit_mib": {str(i): series[i - 1] for i in marks},
        "in_process_growth_mib_per_fit": growth,
        "same_scores_in_every_mode": same_scores,
    }

    def cell(value):
        return "" if value is None else f"{value:,.0f}"

    lines = [
        "# Search memory: every fit in one process vs worker processes replaced every k fits",
        f"`GridSearchCV` of `HPAVGG16Classifier(weights=None, epochs=1, batch_size=16)` over "
        f"{fits // 2} learning rates x 2 folds = {fits} sequential fits, {n_samples} HPA-like "
        f"32 px images memory-mapped from a `.npy` file; each mode in a fresh process. RSS "
        f"(MiB) sampled every {SAMPLE_S} s in the main process and every process below it; "
        "*total* = the largest sum at one instant (shared libraries counted in each process).",
        "",
        "| mode | fits | workers started | peak RSS, main process | peak RSS, any worker "
        "| peak RSS, total | wall time (s) | wall time / in-process |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['mode']} | {r['fits']} | {r['workers_started']} | "
            f"{cell(r['peak_main_rss_mib'])} | {cell(r['peak_worker_rss_mib'])} | "
            f"{cell(r['peak_total_rss_mib'])} | {r['seconds']:,.0f} | "
            f"{r['wall_time_ratio']:.2f} |")
    lines += [
        "",
        "RSS (MiB) of the process that ran the fit, right after fit number:",
        "",
        "| mode | " + " | ".join(f"fit {i}" for i in marks) + " |",
        "|---|" + "---:|" * len(marks),
    ]
    for r in rows:
        values = r["rss_after_fit_mib"]
        lines.append(f"| {r['mode']} | " + " | ".join(cell(values[i - 1]) for i in marks) + " |")
    if growth is not None:
        lines += [
            "",
            f"In one process the RSS grows by {growth:,.0f} MiB a fit (least-squares slope over "
            f"the {len(series)} fits). Macro F1 of every fit identical in every mode: "
            f"{'yes' if same_scores else 'no'}.",
        ]
    run.finish(result, lines)


if __name__ == "__main__":
    main()
