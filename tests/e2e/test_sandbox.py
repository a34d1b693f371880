"""Property (issue 18): a command of hpa-sklearn never changes or deletes a file it did not write,
and writes nothing outside the outputs it is given and the image cache.

Every command (train, predict, evaluate, search, lr-find, demo, cache list/clear) runs in-process
(``hpa_sklearn.cli.main``) inside a sandbox, the current folder::

    sandbox/          <- the current folder: notes.txt, .hidden
      data/           the Kaggle-layout data folder (train.csv, train/, test/, sample_submission.csv)
      model/          a model folder from 'hpa-sklearn train'
      precious/       a folder of the user's files (one named hpa-sklearn.json, one in a subfolder
                      named like a checkpoint)
      runs/           the parent of --out (holds the user's notes.txt)

with each of its path options pointed in turn at the user's folder (``precious``), the current
folder (``.``), the data folder (``data``) and the parent of ``--out`` (``runs``). Before the
run every file of the sandbox is hashed; afterwards

* a run that fails (exit 2) did so before doing anything: one line on stderr, and the sandbox is
  exactly as it was (no file changed, none added, none removed);
* a run that succeeds (exit 0) left every file that existed before as it was, and added files
  only inside its ``--out`` and, in the folder named by ``--cache-dir``, the cache's own entries.
  Training's checkpoints (``--checkpoint-dir``) are removed at the end, so nothing of them stays.

Which runs must succeed and which must be refused is part of each case: the options that name a
folder the command adds its own files to (``--cache-dir``, ``--checkpoint-dir``) accept every
target; every other path option refuses all four. The old failures of issue 18 are cases by
name (``--checkpoint-dir .``, ``--out runs/m --checkpoint-dir runs``, ``--checkpoint-dir
precious``, ``predict --out data/train.csv``, ``predict --out model/hpa-sklearn.json``,
``evaluate --out`` a non-empty folder, ``--out .``).
"""

import re
import shutil
from dataclasses import dataclass, field

import pytest

from hpa_sklearn import cli

from ._helpers import FAST, MANIFEST, snapshot

TARGETS = {"user": "precious", "cwd": ".", "data": "data", "out-parent": "runs"}
CACHE_ENTRY = re.compile(r"^[0-9a-f]{32}\.(npy|json)$")
QUICK = [*FAST, "--no-tune-thresholds"]


@dataclass
class Case:
    id: str
    argv: list
    expect: str                      # "ok" or "refused"
    out: str = None                  # the output path (relative to the sandbox)
    cache: str = None                # the --cache-dir given (relative), when it is the subject
    seed_cache: bool = False         # put a cache entry into --cache-dir first (cache commands)
    removable: bool = False          # the seeded cache entry may go (cache clear)
    messages: tuple = ()             # fragments the error must hold
    marks: list = field(default_factory=list)


def _set(argv, option, value):
    argv = list(argv)
    if option in argv:
        argv[argv.index(option) + 1] = value
    else:
        argv += [option, value]
    return argv


# command -> (base arguments with every path option at an ordinary value, its path options)
# "SHARED" is replaced by a cache folder outside the sandbox, "KEEP" by a checkpoint folder
# outside it (see _argv)
COMMANDS = {
    "train": (["train", "--data", "data", *QUICK, "--cache-dir", "SHARED", "--out", "runs/m"],
              ("--out", "--checkpoint-dir", "--cache-dir", "--data", "--labels", "--image-dir")),
    "predict": (["predict", "--model", "model", "--data", "data", "--n-jobs", "1",
                 "--cache-dir", "SHARED", "--out", "runs/submission.csv"],
                ("--out", "--model", "--data", "--ids", "--image-dir", "--cache-dir")),
    "evaluate": (["evaluate", "--model", "model", "--data", "data", "--n-jobs", "1",
                  "--n-boot", "10", "--cache-dir", "SHARED", "--out", "runs/report"],
                 ("--out", "--model", "--data", "--labels", "--image-dir", "--cache-dir")),
    "search": (["search", "--data", "data", *FAST, "--n-candidates", "1", "--cv", "2",
                "--fits-per-worker", "0", "--cache-dir", "SHARED", "--out", "runs/search"],
               ("--out", "--data", "--labels", "--image-dir", "--cache-dir")),
    "lr-find": (["lr-find", "--data", "data", *FAST, "--n-steps", "2", "--cache-dir", "SHARED",
                 "--out", "runs/lr.png"],
                ("--out", "--data", "--labels", "--image-dir", "--cache-dir")),
    "explain": (["explain", "--model", "model", "--data", "data", "--ids", "FIRST_ID",
                 "--n-jobs", "1", "--cache-dir", "SHARED", "--out", "runs/explain"],
                ("--out", "--model", "--data", "--labels", "--image-dir", "--ids-file",
                 "--cache-dir")),
    "export": (["export", "--model", "model", "--tta", "none", "--out", "runs/export"],
               ("--out", "--model")),
    "demo": (["demo", "--n-samples", "20", "--epochs", "1", "--n-jobs", "1", "--out",
              "runs/demo"], ("--out",)),
    "cache-list": (["cache", "list", "--cache-dir", "SHARED"], ("--cache-dir",)),
    "cache-clear": (["cache", "clear", "--cache-dir", "SHARED"], ("--cache-dir",)),
}
# options naming a folder the command adds its own files to (and removes only those)
ADDS_TO = {"--cache-dir", "--checkpoint-dir"}
# The commands whose successful run is a long one (a search's fits, a range test, a report with
# its figures, heatmaps) point --cache-dir at the current folder only: the option reaches the
# cache through the one loader every command shares (hpa_sklearn.cli._data.load -> load_hpa),
# which train and predict take to all four targets. Add targets here to run the full matrix.
COSTLY_TARGETS = {("search", "--cache-dir"): ("cwd",), ("lr-find", "--cache-dir"): ("cwd",),
                  ("evaluate", "--cache-dir"): ("cwd",), ("explain", "--cache-dir"): ("cwd",)}
# the runs that do a network's work (fits, range tests) are slow
SLOW = {("train", "--checkpoint-dir"), ("search", "--cache-dir"), ("lr-find", "--cache-dir"),
        ("evaluate", "--cache-dir"), ("explain", "--cache-dir")}


def _matrix():
    cases = []
    for command, (base, options) in COMMANDS.items():
        for option in options:
            for target, path in TARGETS.items():
                if option in base and base[base.index(option) + 1] == path:
                    continue  # the option's ordinary value: the other cases run with it
                if target not in COSTLY_TARGETS.get((command, option), TARGETS):
                    continue
                ok = option in ADDS_TO
                argv = _set(base, option, path)
                if option == "--ids-file":  # instead of --ids
                    del argv[argv.index("--ids"):argv.index("--ids") + 2]
                out = argv[argv.index("--out") + 1] if "--out" in argv else None
                if option == "--cache-dir" and command == "train":
                    # restore the one fit from a kept checkpoint outside the sandbox: the cache
                    # is the subject here, not training (which the --checkpoint-dir cases run)
                    argv += ["--checkpoint-dir", "KEEP", "--keep-checkpoints"]
                cases.append(Case(
                    id=f"{command} {option} {path}", argv=argv, expect="ok" if ok else "refused",
                    out=out, cache=path if option == "--cache-dir" else None,
                    seed_cache=command.startswith("cache"),
                    removable=command == "cache-clear",
                    marks=[pytest.mark.slow] if (command, option) in SLOW else []))
    train, _ = COMMANDS["train"]
    predict, _ = COMMANDS["predict"]
    evaluate, _ = COMMANDS["evaluate"]
    cases += [
        # issue 18's examples, by name
        Case("issue18: predict --out data/train.csv", _set(predict, "--out", "data/train.csv"),
             "refused", messages=("--out data/train.csv", "--overwrite")),
        Case("issue18: predict --out model/hpa-sklearn.json",
             _set(predict, "--out", f"model/{MANIFEST}"), "refused",
             messages=(f"--out model/{MANIFEST}",)),
        Case("predict --out data/sample_submission.csv (an input, even with --overwrite)",
             _set(predict, "--out", "data/sample_submission.csv") + ["--overwrite"], "refused",
             messages=("input",)),
        Case("predict --out precious/notes.txt", _set(predict, "--out", "precious/notes.txt"),
             "refused", messages=("--overwrite",)),
        Case("predict --out model/model.keras", _set(predict, "--out", "model/model.keras")
             + ["--overwrite"], "refused"),
        Case("issue18: train --out . (a clear message)", _set(train, "--out", "."), "refused",
             messages=("current folder",)),
        Case("issue18: evaluate --out precious (a non-empty folder)",
             _set(evaluate, "--out", "precious"), "refused", messages=("notes.txt",)),
        Case("train --checkpoint-dir runs/m (the --out folder)",
             _set(train, "--checkpoint-dir", "runs/m"), "refused", messages=("--checkpoint-dir",)),
        Case("train --checkpoint-dir runs/m/checkpoints (inside --out)",
             _set(train, "--checkpoint-dir", "runs/m/checkpoints"), "refused",
             messages=("--checkpoint-dir",)),
        Case("train --out model (a model folder this command does not read: replaced whole)",
             _set(train, "--out", "model") + ["--checkpoint-dir", "KEEP", "--keep-checkpoints"],
             "ok", out="model"),
        Case("demo --out runs/demo", COMMANDS["demo"][0], "ok", out="runs/demo",
             marks=[pytest.mark.slow]),
        Case("export --out runs/export", COMMANDS["export"][0], "ok", out="runs/export",
             marks=[pytest.mark.slow]),
    ]
    return cases


CASES = _matrix()


@pytest.fixture(scope="module")
def template(tmp_path_factory, kaggle_data, cli_model):
    """The sandbox's content, copied for every case."""
    root = tmp_path_factory.mktemp("sandbox-template")
    shutil.copytree(kaggle_data, root / "data")
    shutil.copytree(cli_model, root / "model")
    (root / "notes.txt").write_text("the user's notes\n")
    (root / ".hidden").write_text("a hidden file\n")
    precious = root / "precious"
    (precious / "fit-0123456789abcdef").mkdir(parents=True)
    (precious / "notes.txt").write_text("keep me\n")
    (precious / "results.csv").write_text("Id,Predicted\na,1\n")
    (precious / MANIFEST).write_text('{"mine": true}\n')  # the library's file name, the user's file
    (precious / "fit-0123456789abcdef" / "draft.txt").write_text("named like a checkpoint\n")
    (root / "runs").mkdir()
    (root / "runs" / "notes.txt").write_text("what I ran\n")
    return root


@pytest.fixture(scope="module")
def outside(tmp_path_factory):
    """Folders outside the sandbox: the image cache the cases share and kept checkpoints."""
    root = tmp_path_factory.mktemp("outside")
    return {"SHARED": str(root / "cache"), "KEEP": str(root / "kept-checkpoints")}


def _seed_cache(folder):
    """A real cache entry in ``folder`` (the data folder's images at 32 px); returns its names."""
    from hpa_sklearn.datasets import load_hpa

    before = {p.name for p in folder.iterdir()}
    load_hpa("data", image_size=32, cache_dir=folder, n_jobs=1, verbose=0)
    return {p.name for p in folder.iterdir()} - before


def _inside(path, folder):
    return folder is not None and (path == folder or path.startswith(folder.rstrip("/") + "/"))


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=c.marks) for c in CASES])
def test_no_command_changes_what_it_did_not_write(case, template, outside, tmp_path,
                                                  monkeypatch, capsys):
    sandbox = tmp_path / "sandbox"
    shutil.copytree(template, sandbox, symlinks=True)
    monkeypatch.chdir(sandbox)
    monkeypatch.setenv("HPA_SKLEARN_CACHE", str(tmp_path / "default-cache"))
    seeded = set()
    if case.seed_cache:
        seeded = _seed_cache(sandbox / case.cache)
    first_id = (sandbox / "data" / "train.csv").read_text().splitlines()[1].split(",")[0]
    argv = [{**outside, "FIRST_ID": first_id}.get(a, a) for a in case.argv]
    before = snapshot(tmp_path)

    status = cli.main(argv)
    captured = capsys.readouterr()
    after = snapshot(tmp_path)

    assert "Traceback" not in captured.err, captured.err
    if case.expect == "refused":
        assert status == 2, (argv, captured.out[-2000:], captured.err)
        assert "error:" in captured.err
        for fragment in case.messages:
            assert fragment in captured.err, captured.err
        # refused before doing anything: not one file added, changed or removed
        assert after == before, sorted(set(after) ^ set(before))
        return
    assert status == 0, (argv, captured.out[-3000:], captured.err[-3000:])
    # every file that was there is still there, unchanged (a seeded cache entry may be cleared)
    removable = {f"sandbox/{case.cache}/{name}".replace("/./", "/") for name in seeded}
    changed = sorted(p for p, value in before.items() if after.get(p) != value
                     and not _inside(p, _rel(case.out)) and p not in removable)
    assert not changed, changed
    if case.removable:
        assert not removable & set(after), "cache clear left its entry"
    # new files only inside --out and, in --cache-dir, the cache's own entries
    cache = _rel(case.cache)
    stray = sorted(p for p in set(after) - set(before)
                   if not _inside(p, _rel(case.out))
                   and not (cache is not None and p.rsplit("/", 1)[0] == cache
                            and CACHE_ENTRY.match(p.rsplit("/", 1)[1])))
    assert not stray, stray


def test_every_command_is_in_the_matrix():
    names = {module.__name__.rsplit(".", 1)[1].replace("_", "-") for module in cli.COMMANDS}
    covered = {name.split("-")[0] if name.startswith("cache") else name for name in COMMANDS}
    assert names == covered


def _rel(path):
    """A sandbox-relative path as snapshot() names it (relative to the case's tmp_path)."""
    if path is None:
        return None
    return "sandbox" if path == "." else f"sandbox/{path}"
