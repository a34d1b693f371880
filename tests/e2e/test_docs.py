"""The documentation site builds in strict mode (every docstring parses, every link resolves)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCS = REPO_ROOT / "docs"

pytest.importorskip("mkdocs", reason="the docs extra is not installed: pip install -e '.[docs]'")
pytest.importorskip("mkdocstrings_handlers.python", reason="mkdocstrings-python is not installed")


def test_docs_build_strict(tmp_path):
    site = tmp_path / "site"
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(DOCS / "mkdocs.yml"),
         "-d", str(site)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    assert (site / "index.html").is_file()
    # the API reference was generated from the docstrings
    classifier = (site / "api" / "classifier" / "index.html").read_text()
    assert 'id="hpa_sklearn.classifier.HPAClassifier"' in classifier
    assert 'id="hpa_sklearn.vgg16.HPAVGG16Classifier"' in classifier
    assert "yellow_init" in classifier
    datasets = (site / "api" / "datasets" / "index.html").read_text()
    for name in ("load_hpa", "make_hpa_like", "write_kaggle_layout", "write_submission",
                 "read_submission", "CLASS_NAMES", "CHANNELS", "labels_to_indicator",
                 "indicator_to_labels"):
        assert f'id="hpa_sklearn.datasets.{name}"' in datasets, name
    # the site's sources did not leak into it
    assert not (site / "mkdocs.yml").exists() and not (site / "mkdocs_hooks.py").exists()


def test_every_page_is_in_the_nav():
    config = (DOCS / "mkdocs.yml").read_text()
    listed = set(re.findall(r":\s*([\w/-]+\.md)\s*$", config, flags=re.M))
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert pages == listed


def test_every_example_is_documented():
    text = "\n".join(p.read_text() for p in DOCS.rglob("*.md"))
    for script in sorted((REPO_ROOT / "examples").glob("*.py")):
        assert f"examples/{script.name}" in text, f"{script.name} is not mentioned in docs/"


def test_ci_runs_the_readmes_test_command():
    """`.ci/run` runs the README's test command, nothing different."""
    root = Path(__file__).resolve().parents[2]
    ci_lines = [line for line in (root / ".ci" / "run").read_text().splitlines()
                if line and not line.startswith("#") and not line.startswith(("set ", "cd "))]
    assert len(ci_lines) == 1
    readme = (root / "README.md").read_text()
    commands = re.findall(r"```bash\n(.*?)\n```", readme, flags=re.S)
    assert ci_lines[0] in commands  # a README code block holds exactly this command
    assert any("hpa-sklearn demo" in block for block in commands)
