"""Fits in worker processes that are replaced after a fixed number of fits.

Every ``fit`` of a Keras network leaves memory behind in the process that ran it (about 200 MiB
a VGG16 fit with TensorFlow 2.21 and Keras 3.15; a plain Keras build-and-fit loop leaks the same,
and neither ``keras.backend.clear_session`` nor ``gc.collect`` gives it back). A search that runs
all its fits in one process therefore grows without bound. :func:`isolated_fits` runs the fits of
anything that goes through joblib (``GridSearchCV``, ``RandomizedSearchCV``,
``HalvingGridSearchCV``, ``cross_validate``, ``cross_val_score``,
:class:`~hpa_sklearn.MultilabelThresholdTuner`) in worker processes, and replaces each worker by
a fresh one after ``max_fits_per_worker`` fits: what a worker leaked goes back to the system when
it exits, so the memory of a search stays bounded however many fits it runs.

How it works: a joblib parallel backend (:class:`IsolatedFitsBackend`) whose workers are a
``concurrent.futures.ProcessPoolExecutor`` started with ``spawn`` and
``max_tasks_per_child=max_fits_per_worker`` (Python >= 3.11). scikit-learn dispatches one fit per
task. The data are not copied into every task when they are large: a ``np.memmap`` (what
:func:`~hpa_sklearn.datasets.load_hpa` returns) or a :class:`~hpa_sklearn.datasets.LazyImages`
over one travels as its file name, offset, shape and strides and the worker maps the same file;
an in-memory array larger than ``max_nbytes`` is written once to a temporary ``.npy`` file and
travels the same way; smaller arrays are pickled.
"""

import contextlib
import io
import mmap
import multiprocessing
import os
import pickle
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
import weakref
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from numbers import Integral
from pathlib import Path

import numpy as np
from joblib import cpu_count, parallel_config, register_parallel_backend
from sklearn.utils._param_validation import Interval, validate_params
from joblib.disk import memstr_to_bytes
from joblib.parallel import ParallelBackendBase

try:  # joblib >= 1.5 depends on cloudpickle; older versions vendor it
    import cloudpickle
except ImportError:  # pragma: no cover
    from joblib.externals import cloudpickle

from ._arrays import LazyImages
from .exceptions import InputError, WorkerLostError

__all__ = ["IsolatedFitsBackend", "isolated_fits"]

#: The name under which the backend is registered with joblib.
BACKEND_NAME = "isolated_fits"

_HAS_MAX_TASKS = sys.version_info >= (3, 11)  # ProcessPoolExecutor(max_tasks_per_child=...)
_PARENT_WATCH_S = 1.0


# ----------------------------------------------------------------------------- in the worker
def _watch_parent(parent_pid):
    # a worker whose parent was killed (SIGKILL, an OOM kill) must not linger: it would wait for
    # tasks forever
    while True:
        time.sleep(_PARENT_WATCH_S)
        if os.getppid() != parent_pid:
            os._exit(1)


def _init_worker(env, package_root, parent_pid):
    os.environ.update(env)
    # Ctrl-C reaches the whole process group: the parent handles it and ends the workers, which
    # would otherwise each print a KeyboardInterrupt traceback
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # the same hpa_sklearn as the parent's, even if the parent found it through a path it added
    if package_root not in sys.path:
        sys.path.insert(0, package_root)
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True,
                     name="hpa-sklearn-parent-watch").start()


def _peak_rss_mib():
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024.0 if sys.platform != "darwin" else peak / 2**20


def _flush():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass


def _sendable(exc):
    """``exc`` if the parent can rebuild it, else a RuntimeError that keeps its type, message and
    traceback (an exception whose class cannot be unpickled would break the whole pool)."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return RuntimeError(
            f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}\n\n"
            f"(the exception could not be sent back as it is; its traceback in the worker "
            f"process {os.getpid()}):\n{text}"
        )


def _run_task(payload):
    """Run one joblib task (a pickled ``BatchedCalls``) in a worker; returns its result with the
    worker's pid and peak RSS."""
    try:
        task = pickle.loads(payload)
        del payload
        result = task()
    except BaseException as exc:  # noqa: BLE001 - forwarded to the parent
        sent = _sendable(exc)
        if sent is exc:
            raise
        raise sent from None
    finally:
        _flush()  # verbose output of the search (GridSearchCV's [CV] lines) shows at once
    return result, os.getpid(), _peak_rss_mib()


def _open_mapped(filename, file_offset, shape, dtype, strides):
    """Map the bytes of an array that lie in ``filename`` (copy-on-write: writable like an
    unpickled copy, and the file is never changed)."""
    itemsize = np.dtype(dtype).itemsize
    span = itemsize + sum((n - 1) * s for n, s in zip(shape, strides))
    raw = np.memmap(filename, dtype=np.uint8, mode="c", offset=file_offset, shape=(span,))
    return np.ndarray(shape, dtype=dtype, buffer=raw, strides=strides)


# ----------------------------------------------------------------------------- pickling tasks
def _address(array):
    return array.__array_interface__["data"][0]


def _backing_memmap(array):
    """The ``np.memmap`` that maps the file holding ``array``'s bytes (``array`` itself or one of
    its bases), or None."""
    base = array
    while isinstance(base, np.ndarray):
        if isinstance(base, np.memmap) and isinstance(base.base, mmap.mmap):
            return base
        base = base.base
    return None


def _memmap_reduce(array):
    """Reduce an array whose bytes lie in a shared file mapping to (file, offset, shape, dtype,
    strides); None when it is not one (then it is pickled as usual)."""
    if array.size == 0 or array.dtype.hasobject or any(s < 0 for s in array.strides):
        return None
    root = _backing_memmap(array)
    # mode "c" maps privately: the process's own changes are not in the file
    if root is None or root.mode not in ("r", "r+", "w+") or not root.filename:
        return None
    start = _address(array)
    end = start + array.itemsize + sum((n - 1) * s for n, s in zip(array.shape, array.strides))
    root_start = _address(root)
    if start < root_start or end > root_start + root.nbytes:
        return None  # not inside the mapping (e.g. a copy whose base chain leads to it)
    return (_open_mapped, (root.filename, int(root.offset) + start - root_start, array.shape,
                           array.dtype, array.strides))


class _TaskPickler(cloudpickle.Pickler):
    """cloudpickle (functions and classes of ``__main__`` travel by value, as in joblib's loky
    backend) with arrays reduced by the backend: file-backed ones as their file, large in-memory
    ones through a temporary file written once."""

    def __init__(self, file, reduce_array):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._reduce_array = reduce_array

    def reducer_override(self, obj):
        if isinstance(obj, LazyImages):
            # the arrays underneath, each reduced as below, and the rows: never a copy of the rows
            return (LazyImages, (list(obj.parts), obj.rows))
        if isinstance(obj, np.ndarray):
            reduced = self._reduce_array(obj)
            if reduced is not None:
                return reduced
        return super().reducer_override(obj)


# ----------------------------------------------------------------------------- the pool
class _RecyclingExecutor(ProcessPoolExecutor):
    """A ``ProcessPoolExecutor`` that always replaces a worker that retired after
    ``max_tasks_per_child`` tasks while work is pending.

    CPython 3.11-3.13's ``_adjust_process_count`` consults an idle-worker semaphore that counts
    task completions, not idle workers; once a worker retires, a stale token makes it skip the
    replacement and the queued tasks wait forever (CPython gh-115634:
    ``ProcessPoolExecutor(1, max_tasks_per_child=2)`` with ten tasks runs two). Here a worker is
    started whenever fewer workers than pending tasks (up to ``max_workers``) are alive.
    """

    def _adjust_process_count(self):
        processes = self._processes
        if processes is None:  # shut down
            return
        wanted = min(self._max_workers, len(self._pending_work_items))
        while len(processes) < wanted:
            self._spawn_process()


def _end_executor(executor, *, kill):
    """Shut ``executor`` down; with ``kill``, cancel what is pending and end its workers at once
    (SIGKILL) instead of waiting for the running tasks.

    Not SIGTERM: during a fit the classifier turns SIGTERM into a graceful stop after the batch
    in progress (seconds, and a checkpoint if it has ``checkpoint_dir``); a search that is being
    cancelled wants none of that.
    """
    if not kill:
        executor.shutdown(wait=True, cancel_futures=True)
        return
    processes = executor._processes if executor._processes is not None else {}
    manager = executor._executor_manager_thread
    executor.shutdown(wait=False, cancel_futures=True)

    def end(procs):
        for process in procs:
            if process.is_alive():
                process.kill()
        for process in procs:
            process.join(5.0)

    end(list(processes.values()))
    if manager is not None:
        manager.join(10.0)
    end(list(processes.values()))  # any replacement started meanwhile


class IsolatedFitsBackend(ParallelBackendBase):
    """joblib backend that runs each task in a worker process replaced after
    ``max_fits_per_worker`` tasks.

    Used through :func:`isolated_fits`, which keeps one pool for all the searches in its block
    and shuts it down at the end. It is also registered with joblib as ``"isolated_fits"``:
    ``joblib.parallel_config("isolated_fits", max_fits_per_worker=4)`` starts a pool for each
    ``Parallel`` call (each search round) and ends it with the call.

    Parameters
    ----------
    max_fits_per_worker : int, default=8
        Tasks (fits) a worker runs before it exits and a fresh process takes its place.
    n_workers : int or None, default=None
        Worker processes running at the same time; negative values count from the number of
        CPUs as in joblib (-1: all). None: the ``n_jobs`` of the ``Parallel`` call (1 if unset).
    max_nbytes : int, str or None, default="1M"
        In-memory arrays larger than this are written once to a temporary ``.npy`` file and
        memory-mapped by the workers instead of being pickled into every task (None: never).
        Accepts joblib's strings ("1M", "100K").
    temp_folder : str or None, default=None
        Where those files go (default: ``$JOBLIB_TEMP_FOLDER`` or the system's temporary
        folder); removed when the pool ends.

    Attributes
    ----------
    task_pids_ : list of int
        The process id of the worker that ran each completed task, in completion order.
    worker_peak_rss_mib_ : dict of int to float
        The largest peak resident memory each worker reported (MiB).
    """

    supports_retrieve_callback = True
    supports_sharedmem = False
    uses_threads = False
    default_n_jobs = 1

    @validate_params(
        {
            "max_fits_per_worker": [Interval(Integral, 1, None, closed="left")],
            "n_workers": [None, Interval(Integral, 1, None, closed="left"),
                          Interval(Integral, None, -1, closed="right")],
            "max_nbytes": [None, str, Interval(Integral, 0, None, closed="left")],
            "temp_folder": [None, str, os.PathLike],
            "nesting_level": [None, Integral],
            "inner_max_num_threads": [None, Integral],
        },
        prefer_skip_nested_validation=True,
    )
    def __init__(self, max_fits_per_worker=8, n_workers=None, *, max_nbytes="1M",
                 temp_folder=None, nesting_level=None, inner_max_num_threads=None, **kwargs):
        if not _HAS_MAX_TASKS:
            raise InputError(
                "isolated fits need Python >= 3.11 (ProcessPoolExecutor's max_tasks_per_child); "
                f"this is Python {sys.version.split()[0]}.")
        if isinstance(max_nbytes, str):
            max_nbytes = memstr_to_bytes(max_nbytes)
        super().__init__(nesting_level=nesting_level, inner_max_num_threads=inner_max_num_threads,
                         **kwargs)
        self.max_fits_per_worker = int(max_fits_per_worker)
        self.n_workers = n_workers
        self.max_nbytes = max_nbytes
        self.temp_folder = temp_folder
        self.task_pids_ = []
        self.worker_peak_rss_mib_ = {}
        self._persistent = False  # True under isolated_fits: one pool for the whole block
        self._executor = None
        self._pool_size = None
        self._lock = threading.RLock()
        self._dumped = {}  # id(array) -> (weakref to it, reduced form)
        self._temp_dir = None

    # --- joblib's interface
    def _resolve(self, n_jobs):
        n = self.n_workers if self.n_workers is not None else (n_jobs or 1)
        if n == 0:
            raise InputError("n_jobs == 0 in Parallel has no meaning")
        return max(cpu_count() + 1 + n, 1) if n < 0 else int(n)

    def effective_n_jobs(self, n_jobs):
        if self._pool_size is None:
            self._pool_size = self._resolve(n_jobs)
        # joblib runs the tasks in the calling process when told 1: report at least 2, so that
        # a single worker is used too (the pool itself has self._pool_size processes; the only
        # effect is that joblib queues 4 tasks ahead instead of 2)
        return max(self._pool_size, 2)

    def configure(self, n_jobs=1, parallel=None, prefer=None, require=None, **backend_kwargs):
        self.parallel = parallel
        if not self._persistent and self._executor is None:
            self._pool_size = self._resolve(n_jobs)  # a pool per Parallel call
        return self.effective_n_jobs(n_jobs)

    def submit(self, func, callback=None):
        payload = self._dumps(func)
        future = self._get_executor().submit(_run_task, payload)
        if callback is not None:
            future.add_done_callback(callback)
        return future

    def retrieve_result_callback(self, future):
        try:
            result, pid, peak_rss = future.result()
        except BrokenProcessPool as exc:
            raise WorkerLostError(
                "a worker process running fits ended abruptly: it was killed (for lack of "
                "memory?) or failed to start (see its messages above). Fewer fits per worker "
                "(max_fits_per_worker, --fits-per-worker) or fewer workers need less memory."
            ) from exc
        with self._lock:
            self.task_pids_.append(pid)
            if peak_rss is not None:
                self.worker_peak_rss_mib_[pid] = max(peak_rss,
                                                     self.worker_peak_rss_mib_.get(pid, 0.0))
        return result

    def abort_everything(self, ensure_ready=True):
        # an error in a task, or Ctrl-C in the parent: end the workers now
        self._end_pool(kill=True, keep_files=ensure_ready)

    def terminate(self):
        if not self._persistent:
            self._end_pool(kill=False)

    # --- the pool
    def _worker_env(self):
        env = {"TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
        if self._pool_size > 1:
            # several workers share the cores: limit each one's thread pools as joblib does
            env.update(self._prepare_worker_env(n_jobs=self._pool_size))
            threads = max(cpu_count() // self._pool_size, 1)
            for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
                env[name] = os.environ.get(name, str(threads))
        return env

    def _get_executor(self):
        with self._lock:
            if self._executor is None:
                if self._pool_size is None:
                    self._pool_size = self._resolve(None)
                import hpa_sklearn  # noqa: PLC0415

                package_root = str(Path(hpa_sklearn.__file__).resolve().parents[1])
                self._executor = _RecyclingExecutor(
                    max_workers=self._pool_size,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_init_worker,
                    initargs=(self._worker_env(), package_root, os.getpid()),
                    max_tasks_per_child=self.max_fits_per_worker,
                )
            return self._executor

    def _end_pool(self, *, kill, keep_files=False):
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            _end_executor(executor, kill=kill)
        if not keep_files:
            self._remove_files()

    def _remove_files(self):
        with self._lock:
            temp_dir, self._temp_dir = self._temp_dir, None
            self._dumped.clear()
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)

    def shutdown(self, *, kill=False):
        """End the pool: wait for the workers to finish what they run (``kill=False``) or end
        them now (``kill=True``), and remove the temporary files."""
        self._end_pool(kill=kill)

    # --- data
    def _dumps(self, func):
        buffer = io.BytesIO()
        _TaskPickler(buffer, self._reduce_array).dump(func)
        return buffer.getvalue()

    def _reduce_array(self, array):
        reduced = _memmap_reduce(array)
        if reduced is not None:
            return reduced
        if (self.max_nbytes is None or type(array) is not np.ndarray or array.dtype.hasobject
                or array.nbytes <= self.max_nbytes):
            return None
        with self._lock:  # write a large in-memory array to a file once, then send its name
            known = self._dumped.get(id(array))
            if known is not None and known[0]() is array:
                return known[1]
            if self._temp_dir is None:
                self._temp_dir = tempfile.mkdtemp(
                    prefix="hpa_sklearn_fits_",
                    dir=self.temp_folder or os.environ.get("JOBLIB_TEMP_FOLDER"))
            path = os.path.join(self._temp_dir, f"{len(self._dumped)}_{id(array)}.npy")
            np.save(path, array, allow_pickle=False)
            mapped = np.load(path, mmap_mode="r")
            reduced = (_open_mapped, (path, int(mapped.offset), mapped.shape, mapped.dtype,
                                      mapped.strides))
            del mapped
            self._dumped[id(array)] = (weakref.ref(array), reduced)
            return reduced


register_parallel_backend(BACKEND_NAME, IsolatedFitsBackend)


@contextlib.contextmanager
def isolated_fits(max_fits_per_worker=8, n_workers=1, *, max_nbytes="1M", temp_folder=None):
    """Run the fits of scikit-learn's searches in worker processes replaced every few fits.

    Inside the block, every joblib-parallel loop (the fits of ``GridSearchCV``,
    ``RandomizedSearchCV``, ``HalvingGridSearchCV``, ``cross_validate``, ``cross_val_score``,
    :class:`~hpa_sklearn.MultilabelThresholdTuner`) runs its tasks in ``n_workers`` worker
    processes; each worker exits after ``max_fits_per_worker`` fits and a fresh one takes its
    place, returning to the system the memory the fits leaked (about 200 MiB a Keras VGG16
    fit, see :mod:`hpa_sklearn.parallel`). One pool serves the whole block, including every
    round of a successive-halving search; it is shut down at the end, and on an error or Ctrl-C
    its workers are killed at once (no process is left behind).

    The search's own ``n_jobs`` is not used inside the block: ``n_workers`` fits run at a time.
    The final refit of a search (``refit=True``) runs in this process, as always.

    Parameters
    ----------
    max_fits_per_worker : int, default=8
        Fits a worker runs before it is replaced. A new worker costs the import of TensorFlow
        (seconds); a fit leaks about 200 MiB. Lower it when memory is short.
    n_workers : int, default=1
        Fits at the same time, each in its own process (-1: one per CPU). With one accelerator,
        keep 1.
    max_nbytes : int, str or None, default="1M"
        In-memory arrays larger than this are written once to a temporary file that the
        workers memory-map, instead of being pickled into every fit. A ``np.memmap`` (as
        :func:`~hpa_sklearn.datasets.load_hpa` returns) or a
        :class:`~hpa_sklearn.datasets.LazyImages` over one always travels as its file name.
    temp_folder : str, default=None
        Folder of those temporary files (default: ``$JOBLIB_TEMP_FOLDER`` or the system's).

    Yields
    ------
    backend : IsolatedFitsBackend
        The joblib backend; after the block, ``backend.task_pids_`` lists the worker that ran
        each fit and ``backend.worker_peak_rss_mib_`` the peak memory of each worker.

    Notes
    -----
    Workers are started with ``spawn``: they import this process's ``__main__`` module (keep a
    script's work under ``if __name__ == "__main__":``) and the libraries the fits need. Classes
    and functions defined in ``__main__`` or a notebook travel by value (cloudpickle). Needs
    Python >= 3.11.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import GridSearchCV
    >>> from hpa_sklearn.parallel import isolated_fits
    >>> X = [[0.0], [1.0], [2.0], [3.0]] * 5
    >>> y = [0, 0, 1, 1] * 5
    >>> search = GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0, 10.0]}, cv=2)
    >>> with isolated_fits(max_fits_per_worker=4) as pool:  # doctest: +SKIP
    ...     search.fit(X, y)
    >>> len(pool.task_pids_), len(set(pool.task_pids_))  # doctest: +SKIP
    (6, 2)
    """
    backend = IsolatedFitsBackend(max_fits_per_worker, n_workers, max_nbytes=max_nbytes,
                                  temp_folder=temp_folder)
    backend._persistent = True
    backend._pool_size = backend._resolve(n_workers)
    try:
        with parallel_config(backend=backend, n_jobs=backend._pool_size):
            yield backend
    except BaseException:
        backend.shutdown(kill=True)
        raise
    else:
        backend.shutdown(kill=False)
