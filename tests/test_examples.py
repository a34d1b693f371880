"""The scripts in ``examples/`` run end to end on their ``--tiny`` settings, and the README's
Python example runs as written (opt-in: it trains about a hundred networks)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = REPO_ROOT / "examples"

# example script -> files it must write into --out
EXPECTED_OUTPUTS = {
    "plot_quickstart.py": ["per_class_scores.csv", "training_curves.png"],
    "plot_grid_search.py": ["cv_results.csv", "search.png"],
    "plot_cross_val_score.py": ["cv_scores.csv", "cv_scores.png"],
    "plot_threshold_tuning.py": ["scores.csv", "thresholds.csv", "f1_vs_threshold.png"],
    "plot_kaggle_submission.py": ["submission.csv"],
}


def _env():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", MPLBACKEND="Agg")
    env.pop("HPA_SKLEARN_CACHE", None)
    return env


def test_every_example_is_tested():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED_OUTPUTS)


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(EXPECTED_OUTPUTS))
def test_example_runs_tiny(script, tmp_path):
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), "--tiny", "--out", str(out)],
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, f"{script} failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    for name in EXPECTED_OUTPUTS[script]:
        path = out / name
        assert path.is_file() and path.stat().st_size > 0, f"{script} did not write {name}"
    # nothing is written beside the data or the script
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_example_help(tmp_path):
    """Every example documents itself (argparse --help from the module docstring)."""
    for script in sorted(EXPECTED_OUTPUTS):
        result = subprocess.run([sys.executable, str(EXAMPLES / script), "--help"],
                                env=_env(), capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert "--tiny" in result.stdout and "--out" in result.stdout


def _readme_python_block():
    text = (REPO_ROOT / "README.md").read_text()
    match = re.search(r"```python\n(.*?)```", text, flags=re.S)
    assert match, "README.md has no ```python block"
    return match.group(1)


@pytest.mark.slow
def test_readme_example_runs_verbatim(tmp_path):
    script = tmp_path / "readme_example.py"
    script.write_text(_readme_python_block())
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=_env(),
                            capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stderr[-5000:]


def test_readme_example_block_compiles():
    """The README's Python block is valid Python and imports only names that exist."""
    import ast
    import importlib

    tree = ast.parse(_readme_python_block(), "README.md")
    imports = [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert any(node.module == "hpa_sklearn" for node in imports)
    for node in imports:
        module = importlib.import_module(node.module)
        for alias in node.names:
            assert hasattr(module, alias.name), f"README imports {node.module}.{alias.name}"
