"""Helpers shared by the benchmark scripts: the machine and code they ran on, argument parsing,
medians and ratios, peak-memory probes, and writing each result as JSON plus a Markdown table.

Every script compares the library with the plain alternative in the same run and reports medians of
repeats and ratios, since the machines these run on are shared and noisy.
"""

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from hpa_sklearn._io.atomic import atomic_write_text

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
REAL_DATA_ENV = "HPA_SKLEARN_DATA"


# ----------------------------------------------------------------------------- the machine
def _cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gib():
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _gpus():
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
        names = [n.strip() for n in out.stdout.splitlines() if n.strip()]
        return names
    except (OSError, subprocess.SubprocessError):
        return []


def _versions():
    """Versions of the packages that matter, read from their metadata (nothing is imported, so
    a benchmark that does not use TensorFlow does not pay for importing it)."""
    from importlib import metadata

    versions = {"python": platform.python_version()}
    for name in ("numpy", "scikit-learn", "keras", "tensorflow", "pillow", "scikeras", "joblib"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    if "keras" in sys.modules:
        versions["keras_backend"] = sys.modules["keras"].backend.backend()
    else:
        versions["keras_backend"] = os.environ.get("KERAS_BACKEND", "tensorflow (default)")
    return versions


def _git(*args):
    try:
        out = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True,
                             timeout=20)
        return out.stdout.strip() if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def provenance():
    """The code measured: the commit of this checkout, whether the library and benchmark sources
    differ from it, and where ``hpa_sklearn`` was imported from."""
    import hpa_sklearn

    dirty = _git("status", "--porcelain", "--", "hpa_sklearn", "pyproject.toml", "benchmarks")
    dirty = None if dirty is None else [
        line for line in dirty.splitlines() if "benchmarks/results/" not in line
    ]
    return {
        "commit": _git("rev-parse", "HEAD"),
        "library_and_benchmarks_clean": None if dirty is None else not dirty,
        "uncommitted": dirty or [],
        "hpa_sklearn_imported_from": str(Path(hpa_sklearn.__file__).resolve().parent),
    }


def machine():
    """A description of the machine: CPU model, cores, RAM, GPUs, load average, versions."""
    gpus = _gpus()
    return {
        "cpu": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "ram_gib": _ram_gib(),
        "gpus": gpus,
        "os": platform.platform(),
        "versions": _versions(),
    }


def machine_line(info):
    """One line naming the machine, for the Markdown tables."""
    gpu = ", ".join(info["gpus"]) if info["gpus"] else "no GPU"
    v = info["versions"]
    return (
        f"{info['cpu']}, {info['usable_cpus']} cores, {info['ram_gib']} GiB RAM, {gpu}; "
        f"Python {v.get('python')}, Keras {v.get('keras')} (backend {v.get('keras_backend')}, "
        f"TensorFlow {v.get('tensorflow')}), NumPy {v.get('numpy')}, scikit-learn "
        f"{v.get('scikit-learn')}"
    )


def load_average():
    return round(os.getloadavg()[0], 2)


# ----------------------------------------------------------------------------- running
def parser(doc):
    """An argument parser with the options every benchmark has: ``--quick`` and ``--out``."""
    p = argparse.ArgumentParser(description=doc.strip().splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="a tiny setting for a smoke test (seconds; the figures mean nothing)")
    p.add_argument("--out", type=Path, default=RESULTS,
                   help="folder of the JSON and Markdown results (default: benchmarks/results)")
    p.add_argument("--name", default=None,
                   help="file name (no extension) of the results (default: the script's name)")
    return p


def command_line():
    """The command that is running, as a user would type it from the repository root."""
    script = Path(sys.argv[0]).resolve()
    try:
        script = script.relative_to(ROOT)
    except ValueError:
        pass
    return shlex.join(["python", str(script), *sys.argv[1:]])


def quiet_tensorflow():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def median(values):
    return float(np.median(np.asarray(values, dtype=float)))


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def real_data_dir():
    """The folder of the real HPA files: ``$HPA_SKLEARN_DATA`` or ``../shared/data/hpa``."""
    env = os.environ.get(REAL_DATA_ENV)
    for path in ([Path(env)] if env else []) + [ROOT.parent / "shared" / "data" / "hpa"]:
        if (path / "train.csv").is_file():
            return path
    return None


class Run:
    """Collects a benchmark's result; ``finish`` adds the machine and writes JSON and Markdown."""

    def __init__(self, name, args):
        self.name = getattr(args, "name", None) or name
        self.args = args
        self.started = time.time()
        self.load_start = load_average()
        self.command = command_line()
        self._loads = []
        self._stop = threading.Event()
        threading.Thread(target=self._sample_load, daemon=True).start()

    def _sample_load(self):
        while not self._stop.wait(5.0):
            self._loads.append(load_average())

    def finish(self, result, markdown_lines):
        self._stop.set()
        out = Path(self.args.out)
        out.mkdir(parents=True, exist_ok=True)
        info = machine()
        loads = self._loads or [load_average()]
        meta = {
            "benchmark": self.name,
            "command": self.command,
            "quick": bool(self.args.quick),
            "machine": info,
            "load_average_1min": {"start": self.load_start, "end": load_average(),
                                  "mean": round(float(np.mean(loads)), 2),
                                  "max": round(float(np.max(loads)), 2)},
            "wall_time_s": round(time.time() - self.started, 1),
            "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
            "code": provenance(),
        }
        document = {**meta, **result}
        text = json.dumps(document, indent=2, default=_jsonable) + "\n"
        atomic_write_text(out / f"{self.name}.json", text)
        print(write_markdown(out / f"{self.name}.md", document, markdown_lines))
        return document


def write_markdown(path, document, markdown_lines):
    """Write a result's Markdown atomically: its title (the first line), then the command, the
    machine, the load and the commit from the metadata ``Run.finish`` put in ``document``, then
    the rest; returns the text."""
    code, load = document["code"], document["load_average_1min"]
    header = [
        f"Command: `{document['command']}`"
        + ("  (quick smoke-test setting)" if document["quick"] else ""),
        "",
        f"Machine: {machine_line(document['machine'])}. 1-min load average {load['start']} at the "
        f"start, {load['end']} at the end, {load['mean']} on average (max {load['max']}) during "
        f"the run; {document['wall_time_s']:.0f} s in all; {document['date_utc']} UTC; commit "
        f"{str(code['commit'])[:10]}"
        + ("" if code["library_and_benchmarks_clean"] else " with uncommitted changes")
        + ".",
        "",
    ]
    text = "\n".join([markdown_lines[0], "", *header, *markdown_lines[1:]]).rstrip() + "\n"
    atomic_write_text(path, text)
    return text


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def fmt(value, digits=2):
    """A number for a table cell ('' for None)."""
    if value is None:
        return ""
    if isinstance(value, (int, np.integer)):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


# ----------------------------------------------------------------------------- memory
def memory_status():
    """This process's memory from ``/proc/self/status``, in MiB: ``VmRSS``, ``VmHWM`` (peak RSS),
    ``RssAnon`` (anonymous pages: what the process allocated) and ``RssFile`` (file-backed pages:
    a memory-mapped file's pages that were touched, which the kernel may drop at any time)."""
    status = {}
    with open("/proc/self/status") as handle:
        for line in handle:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
                status[key] = int(value.split()[0]) / 1024.0
    return status


def reset_peak_rss():
    """Reset the kernel's peak-RSS counter (``VmHWM``) of this process (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


class PeakSampler:
    """Polls ``/proc/self/status`` in a thread and keeps the largest ``RssAnon``, ``RssFile`` and
    ``VmRSS`` seen (the kernel keeps a peak only of their sum, ``VmHWM``)."""

    def __init__(self, interval=0.005):
        self.interval = interval
        self.peak = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self):
        while not self._stop.is_set():
            for key, value in memory_status().items():
                if value > self.peak.get(key, 0.0):
                    self.peak[key] = value
            time.sleep(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        for key, value in memory_status().items():
            self.peak[key] = max(self.peak.get(key, 0.0), value)
        return False
