"""Fits in worker processes replaced every few fits (``hpa_sklearn.parallel.isolated_fits``).

A spawned worker costs seconds (a fresh interpreter importing scikit-learn; TensorFlow adds about
10 s more), so these tests start as few as they can: most checks ride on one search, and the
pickling of the data is checked in this process.
"""

import _thread
import os
import pickle
import signal
import sys
import threading
import time

import numpy as np
import pytest
from joblib import Parallel, delayed
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV

import hpa_sklearn
from hpa_sklearn import cli
from hpa_sklearn.datasets import LazyImages

pytestmark = pytest.mark.skipif(sys.version_info < (3, 11),
                                reason="isolated fits need Python >= 3.11")

K = 4  # fits per worker in these tests


class PidLogistic(LogisticRegression):
    """A logistic regression that remembers the process that fitted it."""

    def fit(self, X, y, sample_weight=None):
        super().fit(np.asarray(X, dtype=float).reshape(len(X), -1), y, sample_weight)
        self.fit_pid_ = os.getpid()
        return self

    def decision_function(self, X):
        return super().decision_function(np.asarray(X, dtype=float).reshape(len(X), -1))


class FailingLogistic(LogisticRegression):
    def fit(self, X, y, sample_weight=None):
        raise ValueError(f"C={self.C} is refused by this test")


class SlowLogistic(LogisticRegression):
    def fit(self, X, y, sample_weight=None):
        time.sleep(60)
        return super().fit(X, y, sample_weight)


def _fit_pid(estimator, X, y):
    return estimator.fit_pid_


def _worker_facts():
    return {"pid": os.getpid(), "library": hpa_sklearn.__file__,
            "tf_log_level": os.environ.get("TF_CPP_MIN_LOG_LEVEL"),
            "sigint_ignored": signal.getsignal(signal.SIGINT) == signal.SIG_IGN}


def _problem(tmp_path):
    rng = np.random.RandomState(0)
    X = rng.randint(0, 256, size=(60, 4, 4, 2)).astype(np.uint8)
    y = (X[:, 0, 0, 0] > 127).astype(int)
    np.save(tmp_path / "X.npy", X)
    return np.load(tmp_path / "X.npy", mmap_mode="r"), y


def _search(**kwargs):
    grid = {"C": [0.001, 0.1, 1.0, 10.0]}  # 4 candidates x 2 folds = 8 fits
    return GridSearchCV(PidLogistic(max_iter=500), grid, cv=2, refit=False,
                        scoring={"accuracy": "accuracy", "pid": _fit_pid}, **kwargs)


def test_grid_search_in_workers_equals_the_search_in_process(tmp_path, capfd):
    from hpa_sklearn.parallel import isolated_fits

    X, y = _problem(tmp_path)
    local = _search().fit(X, y)
    k = 5  # 2 tasks of facts, then 8 fits: two workers
    with isolated_fits(max_fits_per_worker=k) as pool:
        facts = Parallel()(delayed(_worker_facts)() for _ in range(2))
        remote = _search(verbose=2).fit(X, y)
        last = set(pool._executor._processes.values())
    # same scores, fold by fold
    for key in ("split0_test_accuracy", "split1_test_accuracy", "mean_test_accuracy"):
        np.testing.assert_array_equal(remote.cv_results_[key], local.cv_results_[key])
    # the tasks ran outside this process, k per worker, in order (one worker at a time)
    results = remote.cv_results_
    fits = [int(results[f"split{s}_test_pid"][c]) for c in range(4) for s in range(2)]
    first, second = facts[0]["pid"], fits[-1]
    assert os.getpid() not in (first, second) and first != second
    assert pool.task_pids_ == [first] * k + [second] * k
    assert fits == [first] * (k - 2) + [second] * k
    # the workers run this hpa_sklearn, with TensorFlow's logs quiet and Ctrl-C left to us
    assert facts[1]["pid"] == first and facts[0]["library"] == hpa_sklearn.__file__
    assert facts[0]["tf_log_level"] is not None and facts[0]["sigint_ignored"]
    assert set(pool.worker_peak_rss_mib_) == {first, second}
    # every worker has exited once the block ends: what the fits held went back to the system
    assert not any(p.is_alive() for p in last)
    assert not _alive(first) and not _alive(second)
    # GridSearchCV's progress lines come through
    assert capfd.readouterr().out.count("[CV] END") == 8


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ")[1][0] != "Z"
    except OSError:
        return True


def test_an_error_in_a_worker_surfaces_with_its_message():
    from hpa_sklearn.parallel import isolated_fits

    X = np.arange(40, dtype=float).reshape(20, 2)
    y = np.arange(20) % 2
    search = GridSearchCV(FailingLogistic(), {"C": [13.0]}, cv=2, error_score="raise")
    with pytest.raises(ValueError, match="C=13.0 is refused by this test") as info:
        with isolated_fits(max_fits_per_worker=K):
            search.fit(X, y)
    # with the worker's traceback attached
    cause = str(info.value.__cause__)
    assert "Traceback" in cause and "refused by this test" in cause


def test_ctrl_c_ends_the_workers(tmp_path, terminal_signals):
    from hpa_sklearn.parallel import isolated_fits

    X = np.arange(40, dtype=float).reshape(20, 2)
    y = np.arange(20) % 2
    seen = []

    def interrupt_when_running(pool):
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            executor = pool._executor
            processes = list(executor._processes.values()) if executor is not None and \
                executor._processes else []
            if processes and all(p.pid for p in processes):
                time.sleep(3.0)  # let it import and start the fit
                seen.extend(processes)
                break
            time.sleep(0.1)
        _thread.interrupt_main()

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        with isolated_fits(max_fits_per_worker=K) as pool:
            threading.Thread(target=interrupt_when_running, args=(pool,), daemon=True).start()
            GridSearchCV(SlowLogistic(), {"C": [1.0, 2.0]}, cv=2).fit(X, y)
    assert seen, "no worker was started"
    assert not any(p.is_alive() for p in seen)
    assert time.monotonic() - started < 50  # the 60 s fit was not waited for


def test_unpicklable_error_is_sent_as_its_text():
    from hpa_sklearn.parallel import _sendable

    class Odd(Exception):
        def __init__(self, a, b):
            super().__init__(f"{a} and {b}")

    try:
        raise Odd(1, 2)
    except Odd as exc:
        sent = _sendable(exc)
    assert isinstance(sent, RuntimeError)
    assert "Odd: 1 and 2" in str(sent) and "raise Odd(1, 2)" in str(sent)
    error = ValueError("plain")
    assert _sendable(error) is error


# ----------------------------------------------------------------------------- the data's way
def _payload(backend, task):
    return backend._dumps(task)


def _roundtrip(backend, value):
    return pickle.loads(_payload(backend, value))


def test_a_memmap_travels_as_its_file_not_its_bytes(tmp_path):
    from hpa_sklearn.parallel import IsolatedFitsBackend

    backend = IsolatedFitsBackend(K, 1)
    images = np.random.RandomState(0).randint(0, 256, (64, 32, 32, 4)).astype(np.uint8)
    np.save(tmp_path / "images.npy", images)  # 1 MiB: the loader's cache is such a file
    X = np.load(tmp_path / "images.npy", mmap_mode="r")
    both = LazyImages([X[:40], LazyImages(X)[[60, 50]], X[40:]])  # several arrays end to end
    for view in (X, X[10:40], X[5:50:3, :, 2:30], LazyImages(X), LazyImages(X)[[7, 3, 60]],
                 both, both[[41, 0, 65, 5]]):
        size = len(_payload(backend, view))
        assert size < 4000, (type(view), size)
        back = _roundtrip(backend, view)
        np.testing.assert_array_equal(np.asarray(back), np.asarray(view))
        assert type(back) is type(view) or isinstance(view, np.memmap)
    # the worker's copy is writable (as an unpickled array is) and never writes to the file
    back = _roundtrip(backend, X[:2])
    back[:] = 0
    np.testing.assert_array_equal(np.load(tmp_path / "images.npy", mmap_mode="r")[:2], images[:2])
    # a memory-mapped array opened copy-on-write may differ from its file: it is pickled
    private = np.load(tmp_path / "images.npy", mmap_mode="c")[:1]
    private[0, 0, 0, 0] = 255 - images[0, 0, 0, 0]
    assert len(_payload(backend, private)) > private.nbytes
    np.testing.assert_array_equal(_roundtrip(backend, private), private)


def test_a_large_in_memory_array_is_written_once(tmp_path):
    from hpa_sklearn.parallel import IsolatedFitsBackend

    backend = IsolatedFitsBackend(K, 1, max_nbytes="100K", temp_folder=str(tmp_path))
    large = np.random.RandomState(0).randint(0, 256, (64, 32, 32, 4)).astype(np.uint8)
    small = large[:2].copy()
    tasks = [(large, small, np.float64(1.5)), (LazyImages(large)[[1, 2]], small)]
    for task in tasks:
        assert len(_payload(backend, task)) < small.nbytes + 4000
    files = list(tmp_path.rglob("*.npy"))
    assert len(files) == 1  # the same array, several tasks: one file
    back = _roundtrip(backend, tasks[0])
    np.testing.assert_array_equal(back[0], large)
    np.testing.assert_array_equal(back[1], small)
    np.testing.assert_array_equal(np.asarray(_roundtrip(backend, tasks[1])[0]), large[[1, 2]])
    backend.shutdown()
    assert not list(tmp_path.rglob("*.npy"))
    # without a limit everything is pickled
    unlimited = IsolatedFitsBackend(K, 1, max_nbytes=None)
    assert len(_payload(unlimited, large)) > large.nbytes


def test_lambdas_and_closures_travel_by_value():
    from hpa_sklearn.parallel import IsolatedFitsBackend

    offset = 3
    task = _roundtrip(IsolatedFitsBackend(K, 1), lambda: offset + 1)
    assert task() == 4


@pytest.mark.parametrize("kwargs, message", [
    ({"max_fits_per_worker": 0}, r"'max_fits_per_worker' parameter .* must be an int in the range "
                                 r"\[1, inf\)\. Got 0 instead"),
    ({"max_fits_per_worker": 2.5}, r"'max_fits_per_worker' parameter .* must be an int in the "
                                   r"range \[1, inf\)\. Got 2\.5 instead"),
    ({"n_workers": 0}, r"'n_workers' parameter .* must be None, an int in the range \[1, inf\) "
                       r"or an int in the range \(-inf, -1\]\. Got 0 instead"),
    ({"max_nbytes": -1}, r"'max_nbytes' parameter .* an int in the range \[0, inf\)\. Got -1 "
                         r"instead"),
], ids=["max_fits_per_worker=0", "max_fits_per_worker=2.5", "n_workers=0", "max_nbytes=-1"])
def test_bad_parameters_are_named(kwargs, message):
    from hpa_sklearn.parallel import isolated_fits

    with pytest.raises(ValueError, match=message):
        with isolated_fits(**kwargs):
            pass


def test_public_names():
    from hpa_sklearn.parallel import isolated_fits

    assert hpa_sklearn.isolated_fits is isolated_fits
    assert "isolated_fits" in hpa_sklearn.__all__


def test_search_command_has_the_fits_per_worker_option(capsys):
    args = cli.build_parser().parse_args(
        ["search", "--data", "d", "--out", "o", "--fits-per-worker", "3"])
    assert args.fits_per_worker == 3
    default = cli.build_parser().parse_args(["search", "--data", "d", "--out", "o"])
    assert default.fits_per_worker == 8
    status = cli.main(["search", "--data", "d", "--out", "o", "--fits-per-worker", "-1"])
    assert status == 2 and "--fits-per-worker" in capsys.readouterr().err


# ----------------------------------------------------------------------------- with Keras
@pytest.mark.slow
def test_keras_grid_search_in_workers_equals_the_search_in_process(tmp_path):
    import warnings

    from hpa_sklearn import HPAClassifier, MultilabelStratifiedKFold, macro_f1_scorer
    from hpa_sklearn.datasets import make_hpa_like
    from hpa_sklearn.parallel import isolated_fits

    images, Y = make_hpa_like(48, 32, random_state=0, classes=[0, 2, 21, 25], return_X_y=True)
    np.save(tmp_path / "images.npy", images)
    X = np.load(tmp_path / "images.npy", mmap_mode="r")
    small = dict(backbone="smallcnn", weights=None, epochs=1, batch_size=16, hidden_units=16,
                 verbose=0, random_state=0)

    def search():
        return GridSearchCV(HPAClassifier(**small), {"learning_rate": [1e-3]},
                            scoring=macro_f1_scorer, refit=False,
                            cv=MultilabelStratifiedKFold(2, random_state=0))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        local = search().fit(X, Y)
        with isolated_fits(max_fits_per_worker=K) as pool:
            remote = search().fit(X, Y)
    assert len(pool.task_pids_) == 2 and os.getpid() not in pool.task_pids_
    for key in ("split0_test_score", "split1_test_score", "mean_test_score"):
        np.testing.assert_array_equal(remote.cv_results_[key], local.cv_results_[key])
