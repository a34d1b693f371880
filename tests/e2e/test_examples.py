"""The scripts in ``examples/`` run end to end on their ``--tiny`` settings. (The README's Python
example runs as written in ``tests/integration/test_vgg16_model_selection.py``, which checks
what it computes.)

All of them run in ONE Python process, one after the other (``runpy``, as ``python SCRIPT``
would, with ``__name__ == "__main__"``), so that TensorFlow is imported once instead of five
times; each script writes into its own ``--out``.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = REPO_ROOT / "examples"

# example script -> files it must write into --out
EXPECTED_OUTPUTS = {
    "plot_quickstart.py": ["per_class_scores.csv", "training_curves.png"],
    "plot_grid_search.py": ["cv_results.csv", "search.png"],
    "plot_cross_val_score.py": ["cv_scores.csv", "cv_scores.png"],
    "plot_threshold_tuning.py": ["scores.csv", "thresholds.csv", "f1_vs_threshold.png"],
    "plot_kaggle_submission.py": ["submission.csv"],
}

_DRIVER = r"""
import json, runpy, sys, time, traceback

jobs, report = json.loads(sys.argv[1]), sys.argv[2]
results = {}
for name, path, argv in jobs:
    start = time.perf_counter()
    sys.argv = [path, *argv]
    try:
        runpy.run_path(path, run_name="__main__")
        results[name] = {"ok": True}
    except SystemExit as exc:
        results[name] = {"ok": exc.code in (0, None), "error": f"SystemExit({exc.code!r})"}
    except BaseException:
        results[name] = {"ok": False, "error": traceback.format_exc()}
    results[name]["seconds"] = round(time.perf_counter() - start, 1)
    if "keras" in sys.modules:
        sys.modules["keras"].backend.clear_session()
    with open(report, "w") as handle:  # after every job: a timeout still shows the finished ones
        json.dump(results, handle)
"""


def _env():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", MPLBACKEND="Agg")
    env.pop("HPA_SKLEARN_CACHE", None)
    return env


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Run every example with --tiny in one process; map name ->
    {"ok", "error", "seconds", "out"}, plus the names in the working folder afterwards."""
    work = tmp_path_factory.mktemp("examples")
    jobs = [[script, str(EXAMPLES / script), ["--tiny", "--out", str(work / script[:-3])]]
            for script in sorted(EXPECTED_OUTPUTS)]
    report = tmp_path_factory.mktemp("examples-report") / "runs.json"
    done = subprocess.run([sys.executable, "-c", _DRIVER, json.dumps(jobs), str(report)],
                          cwd=work, env=_env(), capture_output=True, text=True, timeout=1800)
    results = json.loads(report.read_text()) if report.is_file() else {}
    for name, *_ in jobs:
        results.setdefault(name, {"ok": False, "error": f"did not run (exit {done.returncode}):"
                                                         f"\n{done.stderr[-5000:]}"})
    return results, work, sorted(p.name for p in work.iterdir())


def test_every_example_is_tested():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED_OUTPUTS)


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(EXPECTED_OUTPUTS))
def test_example_runs_tiny(script, runs):
    results, work, _ = runs
    assert results[script]["ok"], f"{script} failed:\n{results[script].get('error')}"
    out = work / script[:-3]
    for name in EXPECTED_OUTPUTS[script]:
        path = out / name
        assert path.is_file() and path.stat().st_size > 0, f"{script} did not write {name}"


@pytest.mark.slow
def test_examples_write_only_into_their_out(runs):
    _, _, names = runs
    assert names == sorted(script[:-3] for script in EXPECTED_OUTPUTS)


def test_example_help():
    """Every example documents itself (argparse --help from the module docstring)."""
    for script in sorted(EXPECTED_OUTPUTS):
        result = subprocess.run([sys.executable, str(EXAMPLES / script), "--help"],
                                env=_env(), capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert "--tiny" in result.stdout and "--out" in result.stdout
