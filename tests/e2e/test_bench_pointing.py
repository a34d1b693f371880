"""Smoke test of benchmarks/bench_pointing.py: ``--quick`` in a subprocess, writing into a
temporary folder; its JSON must hold what docs/benchmarks.md's pointing-game section is built
from. The figures of such a run mean nothing."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_bench_pointing_quick(tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore")
    with open(tmp_path / "log.txt", "w") as log:
        proc = subprocess.run([sys.executable, str(REPO_ROOT / "benchmarks" / "bench_pointing.py"),
                               "--quick", "--out", str(tmp_path)], cwd=REPO_ROOT, env=env,
                              stdout=log, stderr=subprocess.STDOUT, timeout=600, check=False)
    assert proc.returncode == 0, (tmp_path / "log.txt").read_text()[-4000:]
    result = json.loads((tmp_path / "bench_pointing.json").read_text())
    assert result["quick"] and "--quick" in result["command"]
    assert "machine" in result and "code" in result
    methods = {row["method"]: row for row in result["methods"]}
    for name in ("protein peak (no model)", "smallcnn gradcam, dihedral TTA",
                 "smallcnn gradcam, no TTA", "smallcnn occlusion, no TTA, first test image",
                 "vgg16 gradcam, no TTA", "vgg16 occlusion, no TTA, first test image"):
        row = methods[name]
        assert row["pairs"] > 0 and 0 <= row["hit_rate"] <= 1 and 0 < row["chance"] < 1, row
    assert result["per_class"] and all(0 <= row["chance"] <= 1 for row in result["per_class"])
    assert [s["seed"] for s in result["seeds"]] == [0]
    assert set(result["seeds"][0]["networks"]) == {"smallcnn", "vgg16"}
    # the figure goes to --out in quick mode (never to docs/ from a smoke test)
    assert (tmp_path / "bench_pointing.png").stat().st_size > 1000
    text = (tmp_path / "bench_pointing.md").read_text()
    assert "pointing game" in text and "| heatmap |" in text
