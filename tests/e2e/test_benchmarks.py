"""Smoke tests of the benchmark scripts: each runs with ``--quick`` (and, where the script takes
them, still smaller sizes) in a subprocess writing into a temporary folder, and its JSON must hold
the figures ``docs/benchmarks.md`` is built from. The figures of such a run mean nothing; only
the shape of the result is checked.

The scripts run one after another (each test starts its own when it runs, and a script two tests
read runs once): on two cores, TensorFlow processes started together only compete.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

# name -> (script, arguments after --quick): the smallest settings that still run every step
SCRIPTS = {
    "bench_memory": ("bench_memory", ["--n", "16", "--batch-size", "8"]),
    "bench_speed": ("bench_speed", ["--n", "16", "--batch-size", "8"]),
    "bench_loader": ("bench_loader", ["--n-jobs", "1"]),
    "bench_search_cost": ("bench_search_cost", []),
    "bench_macro_f1": ("bench_macro_f1", ["--n", "40", "--budget", "16"]),  # 1 epoch a row
    "bench_thresholds": ("bench_thresholds", []),
    "bench_search_memory": ("bench_search_memory", ["--n-samples", "16"]),
    "bench_full_size": ("bench_full_size", ["--n-train", "16", "--n-test", "8", "--n-hpav18", "2",
                                            "--combined-backbone", "smallcnn"]),
    "bench_threshold_strategies": ("bench_threshold_strategies", ["--n", "200"]),
    "bench_cpu_recipe": ("bench_cpu_recipe", ["--n", "16"]),
    "bench_macro_f1_recipes": ("bench_macro_f1", ["--recipes", "--n", "32"]),
}
TIMEOUT_S = 600

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def quick_runs(tmp_path_factory):
    """``run(name)``: run that benchmark (once), return (exit status, output folder, log)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore")
    done = {}

    def run(name):
        if name not in done:
            script, extra = SCRIPTS[name]
            out = tmp_path_factory.mktemp(name)
            with open(out / "log.txt", "w") as log:
                proc = subprocess.run(
                    [sys.executable, str(REPO_ROOT / "benchmarks" / f"{script}.py"), "--quick",
                     *extra, "--out", str(out)],
                    cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                    timeout=TIMEOUT_S)
            done[name] = (proc.returncode, out, (out / "log.txt").read_text())
        return done[name]

    return run


def _result(quick_runs, name):
    returncode, out, text = quick_runs(name)
    assert returncode == 0, f"{name} --quick failed:\n{text[-4000:]}"
    assert (out / f"{name}.md").is_file(), f"{name} wrote no Markdown table"
    return json.loads((out / f"{name}.json").read_text())


def _has_run_metadata(result):
    for key in ("command", "machine", "load_average_1min", "code", "settings"):
        assert key in result, key
    assert "--quick" in result["command"]
    assert result["machine"]["cpu"] and result["machine"]["usable_cpus"] >= 1


def test_bench_memory(quick_runs):
    result = _result(quick_runs, "bench_memory")
    _has_run_metadata(result)
    assert {r["mode"] for r in result["rows"]} == {"ours_memmap", "plain"}
    for row in result["rows"]:
        for key in ("n", "uint8_mib", "baseline_anon_mib", "peak_anon_mib", "peak_rss_mib",
                    "peak_anon_over_baseline_mib", "seconds"):
            assert key in row, key
        assert row["peak_anon_mib"] >= row["baseline_anon_mib"] > 0
    for summary in result["summary"]:
        for key in ("anon_growth_mib", "anon_peak_ratio", "added_uint8_mib", "target_met"):
            assert key in summary, key


def test_bench_speed(quick_runs):
    result = _result(quick_runs, "bench_speed")
    _has_run_metadata(result)
    assert result["same_network_parameters"]
    for what in ("fit_end_to_end", "fit_steady_state", "predict"):
        figure = result["images_per_second"][what]
        assert figure["ours"] > 0 and figure["raw"] > 0
        assert figure["ratio"] == pytest.approx(figure["ours"] / figure["raw"])


def test_bench_loader(quick_runs):
    result = _result(quick_runs, "bench_loader")
    _has_run_metadata(result)
    if "skipped" in result:
        pytest.skip(result["skipped"])
    size = result["sizes"][0]
    assert size["plain_samples_per_s"] > 0 and size["cached_reload_gb_per_s"] > 0
    assert size["same_pixels_as_plain_loop"] is True
    assert {o["n_jobs"] for o in size["ours"]} >= {1}
    for ours in size["ours"]:
        for key in ("samples_per_s", "per_core_ratio", "projected_full_load_s"):
            assert ours[key] > 0, key


def test_bench_search_cost(quick_runs):
    result = _result(quick_runs, "bench_search_cost")
    _has_run_metadata(result)
    row = result["table"][0]
    assert row["halving_epochs_counted"] == row["halving_epochs_from_cv_results"]
    assert row["schedule"] == row["schedule_as_predicted"]
    assert row["schedule"][0][0] == 720
    assert row["ratio"] == pytest.approx(row["halving_epochs_counted"] / row["full_grid_epochs"])


def test_bench_macro_f1(quick_runs):
    result = _result(quick_runs, "bench_macro_f1")
    _has_run_metadata(result)
    rows = {s["row"]: s for s in result["summary"]}
    assert {"report", "library", "floor"} <= set(rows)
    for summary in rows.values():
        assert 0.0 <= summary["mean"] <= 1.0
    for run in result["runs"]["library"]:
        assert run["recipe"]["channels"] == 4 and run["recipe"]["thresholds"]
    assert "target_met" in result


def test_bench_thresholds(quick_runs):
    result = _result(quick_runs, "bench_thresholds")
    for key in ("speedup_100_candidates", "thresholds_agree", "tuner_100_candidates_s",
                "sklearn_per_class_100_candidates_s", "machine", "command"):
        assert key in result, key
    assert result["n_samples"] == 2000


def test_bench_search_memory(quick_runs):
    result = _result(quick_runs, "bench_search_memory")
    _has_run_metadata(result)
    rows = {row["mode"]: row for row in result["rows"]}
    assert set(rows) == {"in-process", "k = 1"}
    for row in rows.values():
        assert row["fits"] == 2 and len(row["rss_after_fit_mib"]) == 2
        assert 0 < row["peak_main_rss_mib"] <= row["peak_total_rss_mib"]
        assert row["wall_time_ratio"] > 0
    isolated = rows["k = 1"]
    assert isolated["workers_started"] == 2 and isolated["max_fits_in_one_worker"] == 1
    assert isolated["peak_worker_rss_mib"] > 0
    assert result["same_scores_in_every_mode"]
    assert set(result["in_process_rss_after_fit_mib"]) == {"1", "2"}


def test_bench_full_size(quick_runs):
    result = _result(quick_runs, "bench_full_size")
    _has_run_metadata(result)
    if isinstance(result.get("skipped"), str):  # no real data here (else: the stages skipped)
        pytest.skip(result["skipped"])
    stages = result["stages"]
    links = result["links"]
    assert links["hard"] + links["symbolic"] == 4 * (16 + 8 + 2)  # no pixel copied
    for name in ("load_train", "load_test", "load_hpav18", "load_train_combined_size"):
        load = stages[name]
        assert load["seconds"] > 0 and load["samples_per_s"] > 0 and load["cache_bytes"] > 0
        assert load["memory"]["load"]["tree_rss_mib"] >= load["memory"]["load"]["main_rss_mib"]
        assert load["memory"]["load"]["max_processes"] >= 2  # the loader's workers were seen
        assert "fsync_s" in load and "reserve_s" in load and load["reload_read_gb_per_s"] > 0
    fit = stages["fit_predict"]
    assert fit["n_train"] == 16 and fit["n_test"] == 8 and fit["proba_finite"]
    assert fit["memory"]["fit"]["main_anon_mib"] > 0 and fit["predict_images_per_s"] > 0
    combined = stages["combined_fit"]
    assert combined["n_train"] == 16 + 2 and combined["images_type"] == "LazyImages"
    for name in ("cli_train", "cli_predict"):
        assert stages[name]["returncode"] == 0, stages[name]["output"]
        assert stages[name]["command"].startswith(f"hpa-sklearn {name[4:]} ")
    assert stages["cli_predict"]["submission_rows"] == 8
    assert not result["skipped"]
    assert result["disk"]["free_after_cleanup_gb"] > 0
    _, out, _ = quick_runs("bench_full_size")
    assert not (out / "bench_full_size.partial.json").exists()  # kept only until the end


def test_bench_threshold_strategies(quick_runs):
    result = _result(quick_runs, "bench_threshold_strategies")
    _has_run_metadata(result)
    _, out, _ = quick_runs("bench_threshold_strategies")
    assert (out / "bench_threshold_strategies.png").stat().st_size > 0
    names = set(result["settings"]["strategies"])
    assert {"0.5 (untuned)", "f1 (plain)", "bootstrap", "min_positives=5",
            "prior_strength=5"} <= names
    setting = result["results"][0]
    assert setting["runs"] == 2 and setting["best_test_macro_f1"] in names
    for row in setting["summary"]:
        assert row["strategy"] in names
        for part in ("tune", "test"):
            for key in ("macro_f1", "micro_f1", "macro_f1_at_least_one"):
                assert 0.0 <= row[f"{part}_{key}"] <= 1.0, (part, key)
            assert row[f"{part}_labels_per_image"] >= 0
        assert len(row["per_class_tune_f1"]) == len(row["per_class_test_f1"]) == 28
        assert row["gap_macro_f1"] == pytest.approx(row["tune_macro_f1"] - row["test_macro_f1"])
    plain = next(r for r in setting["summary"] if r["strategy"] == "f1 (plain)")
    assert plain["test_macro_f1_minus_plain"] == 0.0


def test_bench_cpu_recipe(quick_runs):
    result = _result(quick_runs, "bench_cpu_recipe")
    _has_run_metadata(result)
    for row in ("cpu_recipe", "vgg16_library"):
        assert result[row]["images_per_s"] > 0 and result[row]["fixed_s"] >= 0
    assert result["cpu_recipe"]["predict_tta_images_per_s"] > 0
    projection = result["projection"]
    assert projection["train_total_h"] > projection["final_fit_s"] / 3600 > 0


def test_bench_macro_f1_recipes(quick_runs):
    result = _result(quick_runs, "bench_macro_f1_recipes")
    _has_run_metadata(result)
    rows = {row["row"] for row in result["table"]}
    assert any(row.startswith("report") for row in rows)
    assert any(row.startswith("vgg16 library") for row in rows)
    assert any("tta dihedral, bootstrap" in row for row in rows)
    pilot = result["pilot"]
    assert pilot["budget_s"] > 0 and pilot["best_backbone"] in pilot["backbones"]
    for info in pilot["backbones"].values():
        assert info["epochs"] >= 1 and info["schedule"] in info["schedules"]
    assert result["target_met"] in (True, False)
    assert isinstance(result["effects"], dict)  # quick runs pair no variants: may be empty
    _, out, _ = quick_runs("bench_macro_f1_recipes")
    assert not (out / "bench_macro_f1_recipes.journal.json").exists()  # a finished run


def test_bench_macro_f1_recipes_render_only_summarizes_the_saved_runs(quick_runs, tmp_path):
    import shutil

    result = _result(quick_runs, "bench_macro_f1_recipes")
    _, out, _ = quick_runs("bench_macro_f1_recipes")
    shutil.copy(out / "bench_macro_f1_recipes.json", tmp_path)
    saved = json.loads((tmp_path / "bench_macro_f1_recipes.json").read_text())
    del saved["effects"]  # as if written by an older summary
    (tmp_path / "bench_macro_f1_recipes.json").write_text(json.dumps(saved))
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "bench_macro_f1.py"), "--recipes",
         "--render-only", "--out", str(tmp_path)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    again = json.loads((tmp_path / "bench_macro_f1_recipes.json").read_text())
    assert again["effects"] == result["effects"] and again["runs"] == result["runs"]
    assert again["table"] == result["table"] and again["date_utc"] == result["date_utc"]
    text = (tmp_path / "bench_macro_f1_recipes.md").read_text()
    assert "Summarized again" in text and result["command"] in text
    assert (tmp_path / "bench_macro_f1_recipes.png").stat().st_size > 0
    missing = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "bench_macro_f1.py"), "--recipes",
         "--render-only", "--out", str(tmp_path / "none")],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert missing.returncode != 0 and "run without it first" in missing.stderr


def test_recipes_journal_resumes_a_stopped_run_and_only_that(tmp_path):
    from types import SimpleNamespace

    sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
    import _recipes

    args = SimpleNamespace(out=tmp_path, name="recipes", n=64, size=32, epochs=1, seeds=[0, 1],
                           pilot_seed=100, backbones=["smallcnn"], schedules=["step"],
                           batch_size=16, quick=True)
    calls = []

    def work(what, value):
        return lambda: calls.append(what) or value

    first = _recipes._Journal(args)
    assert first.pilot(work("pilot", {"budget_s": 1.5})) == {"budget_s": 1.5}
    assert first.seed(0, work("seed 0", [{"row": "a", "seed": 0}])) == [{"row": "a", "seed": 0}]
    # stopped here; started again with the same settings: the pilot and seed 0 are read back
    again = _recipes._Journal(args)
    assert again.pilot(work("pilot again", None)) == {"budget_s": 1.5}
    assert again.seed(0, work("seed 0 again", None)) == [{"row": "a", "seed": 0}]
    assert again.seed(1, work("seed 1", [{"row": "a", "seed": 1}])) == [{"row": "a", "seed": 1}]
    assert calls == ["pilot", "seed 0", "seed 1"]
    # other settings measure something else: nothing is reused
    args.n = 128
    other = _recipes._Journal(args)
    assert other.pilot(work("new pilot", {"budget_s": 9.0})) == {"budget_s": 9.0}
    assert calls[-1] == "new pilot"
    other.done()
    assert not (tmp_path / "recipes.journal.json").exists()


def test_recipes_effects_are_paired_differences_of_the_matching_runs():
    sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
    import _recipes

    def run(seed, tta, strategy, macro, ensemble=None, backbone="smallcnn"):
        row = {"seed": seed, "backbone": backbone, "tta": tta, "strategy": strategy,
               "macro_f1": macro, "micro_f1": macro / 2, "labels_per_image": 1.0}
        return {**row, "ensemble": ensemble} if ensemble else row

    runs = [{"row": "report", "seed": 0, "macro_f1": 0.1, "micro_f1": 0.1, "labels_per_image": 1},
            run(0, None, "plain", 0.30), run(0, None, "bootstrap", 0.32),
            run(0, "dihedral", "plain", 0.35), run(0, "dihedral", "bootstrap", 0.31),
            run(0, "dihedral", "plain", 0.40, ensemble=3),
            run(1, None, "plain", 0.20), run(1, "dihedral", "plain", 0.18)]
    effects = _recipes._effects(runs)
    # TTA: seed 0 plain +0.05, seed 0 bootstrap -0.01, seed 1 plain -0.02
    assert effects["tta"]["pairs"] == 3 and effects["tta"]["macro_f1"]["better"] == 1
    assert np.isclose(effects["tta"]["macro_f1"]["mean"], (0.05 - 0.01 - 0.02) / 3)
    assert np.isclose(effects["tta"]["micro_f1"]["mean"], (0.05 - 0.01 - 0.02) / 6)
    # bootstrap: seed 0 no TTA +0.02, seed 0 TTA -0.04; seed 1 has no bootstrap run
    assert effects["bootstrap"]["pairs"] == 2
    assert np.isclose(effects["bootstrap"]["macro_f1"]["mean"], -0.01)
    # the ensemble against the single model with the same TTA and strategy: +0.05
    assert effects["ensemble"]["pairs"] == 1
    assert np.isclose(effects["ensemble"]["macro_f1"]["mean"], 0.05)
    assert effects["ensemble"]["labels_per_image"]["mean"] == 0.0
    assert _recipes._effects(runs[:1]) == {}
    # the summary carries them and the Markdown shows one row per change (seed 0: every row)
    from types import SimpleNamespace

    seed0 = [r for r in runs[1:] if r["seed"] == 0]
    seed0 += [{"row": f"{name} x", "seed": 0, "macro_f1": 0.1, "micro_f1": 0.1,
               "labels_per_image": 1.0} for name in ("report", "vgg16 library")]
    for r in seed0:
        r["seconds"] = 1.0
        if "row" not in r:
            r["row"] = f"{r['backbone']} {r['tta']} {r['strategy']} {r.get('ensemble')}"
    args = SimpleNamespace(n=64, size=32, epochs=1, seeds=[0], pilot_seed=100,
                           batch_size=16, schedules=["step"], name="recipes")
    pilot = {"budget_s": 1.0, "scale": 2.0, "vgg16_seconds_per_epoch": 0.5,
             "vgg16_overhead_s": 0.1, "best_backbone": "smallcnn",
             "backbones": {"smallcnn": {"lr_suggested": 1e-3, "learning_rate": 1e-3,
                                        "seconds_per_epoch": 0.1, "overhead_s": 0.1,
                                        "epochs": 3, "schedule": "step",
                                        "schedules": {"step": {"macro_f1": 0.3}}}}}
    result = _recipes._summarize(args, pilot, seed0)
    assert result["effects"] == _recipes._effects(seed0)
    text = "\n".join(_recipes._markdown(result, args))
    assert "| 8-view test-time augmentation" in text and "(1/2)" in text
    assert "| 3-fold ensemble" in text and "+0.0500 +- 0.0000 (1/1)" in text
