"""Shared fixtures. Real HPA files are read from ``../shared/data/hpa`` (beside the checkout) or from
``$HPA_SKLEARN_DATA``; tests that need them skip with the reason where neither exists."""

import os
from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# One thread in each of TensorFlow's two thread pools, in every process of the suite (the two
# pytest-xdist workers and the processes they start inherit it): two workers share two cores, and
# the suite measured faster and used less CPU time so (docs/code-organisation.md).
for _pool in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
    os.environ.setdefault(_pool, "1")

REPO_ROOT = Path(__file__).resolve().parents[1]


def _real_data_dir():
    env = os.environ.get("HPA_SKLEARN_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(REPO_ROOT.parent / "shared" / "data" / "hpa")
    for path in candidates:
        if (path / "train.csv").is_file():
            return path
    return None


REAL_DATA = _real_data_dir()


@pytest.fixture(scope="session")
def real_data_dir():
    """The folder with the real HPA files (read-only); skips the test where it is absent."""
    if REAL_DATA is None:
        pytest.skip(
            "real HPA data not found: expected ../shared/data/hpa beside the checkout "
            "or a folder named by $HPA_SKLEARN_DATA"
        )
    return REAL_DATA


@pytest.fixture
def kaggle_folder(tmp_path):
    """A Kaggle-layout folder of 6 random 48 px samples: (folder, X, Y, ids)."""
    from kaggle_helpers import kaggle_folder as make

    return make(tmp_path)


@pytest.fixture
def one_blas_thread():
    """For tests of tiny scikit-learn models: BLAS threads only add overhead (and contention)."""
    with threadpool_limits(1):
        yield


@pytest.fixture(autouse=True)
def _release_keras_graphs():
    """Free the Keras global state (graphs, layer names) each test leaves; models stay usable.

    Without ``clear_session``'s garbage collection: it walks the whole heap, about a second
    after every test of a process that holds TensorFlow, while the state itself clears in
    milliseconds; Python's own collector frees the networks a test leaves behind."""
    yield
    import sys

    if "keras" in sys.modules:
        sys.modules["keras"].backend.clear_session(free_memory=False)


@pytest.fixture
def tmpfs():
    """``mount(folder, size)``: a tmpfs of ``size`` (e.g. "2m") mounted at ``folder`` for the
    test (unmounted after it); skips the test where this machine does not allow mounting."""
    import shutil
    import subprocess

    mounted = []

    def mount(folder, size, *, read_only=False):
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        if shutil.which("mount") is None:
            pytest.skip("no 'mount' command on this machine")
        options = f"size={size}" + (",ro" if read_only else "")
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN): "
                        f"{done.stderr.strip() or done.returncode}")
        mounted.append(folder)
        return folder

    yield mount
    for folder in reversed(mounted):
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


@pytest.fixture
def terminal_signals():
    """SIGINT and SIGTERM as in a terminal, restored afterwards: a shell starts background jobs
    with SIGINT ignored (which the library then leaves alone, and ``_thread.interrupt_main``
    cannot simulate), so that tests of Ctrl-C hold wherever the suite runs."""
    import signal

    before = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    yield
    for signum, handler in before.items():
        signal.signal(signum, handler)


# Test files by the minutes they took in CI (2 cores), longest first: the suite runs on two
# pytest-xdist workers, each taking whole files (``--dist loadfile``), so the long files start
# first and the short ones fill in behind them (files not listed follow in their usual order).
_LONGEST_FIRST = ("test_benchmarks.py", "test_export.py", "test_scale_out.py", "test_examples.py",
                  "test_round_trip_backbones.py", "test_round_trip.py", "test_faults.py",
                  "test_vgg16_model_selection.py", "test_classifier.py", "test_explain.py",
                  "test_cli.py", "test_checkpoints.py", "test_learning.py", "test_parallel.py",
                  "test_concurrent_runs.py", "test_sandbox.py", "test_bench_pointing.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(_LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
