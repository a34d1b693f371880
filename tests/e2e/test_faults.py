"""Fault injection on the command line: real SIGTERM, SIGINT and SIGKILL sent to `hpa-sklearn
train` processes at random points (during an epoch, during a checkpoint's save), kills during a
model folder's save, a full disk and a read-only output folder.

After each fault the model folder loads and predicts (or the previous one is intact), and running
the same command again ends with the same model as an uninterrupted run. The random points come
from a fixed seed, so CI injects the same faults every time.
"""

import os
import random
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from hpa_sklearn import cli
from hpa_sklearn.classifier import HPAClassifier
from hpa_sklearn.datasets import load_hpa, make_hpa_like, write_kaggle_layout

from ._helpers import read_run

COMMAND = [sys.executable, "-m", "hpa_sklearn.cli"]
EPOCHS = 4
# the small batch-normalized CNN of the default recipe (augmented): what is tested here does not
# depend on the backbone; one fit per run (thresholds are not the subject)
TRAIN = ["--image-size", "32", "--batch-size", "8", "--backbone", "smallcnn", "--n-jobs", "1",
         "--seed", "0", "--epochs", str(EPOCHS), "--no-tune-thresholds"]
RNG = random.Random(20261201)
NOISE = re.compile(r"^[IWE]\d{4} |cuInit|cudart_stub", re.M)


@pytest.fixture(scope="module")
def kaggle(tmp_path_factory):
    root = tmp_path_factory.mktemp("faults")
    synthetic = make_hpa_like(32, 32, random_state=0)
    write_kaggle_layout(root / "data", synthetic.images, synthetic.ids, synthetic.target)
    load_hpa(root / "data", image_size=32, cache_dir=root / "cache", verbose=0)  # decoded once
    return root


def _default_sigint():
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class _Run:
    """A `hpa-sklearn` subprocess whose output is collected while it runs."""

    def __init__(self, argv, cwd):
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.argv = argv
        # SIGINT as in a terminal, even where this test runs in the background (a shell starts
        # background jobs with SIGINT ignored, and children inherit that)
        self.process = subprocess.Popen(COMMAND + argv, cwd=cwd, env=env, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        preexec_fn=_default_sigint)
        self.out, self.err = [], []
        self._readers = [threading.Thread(target=self._read, args=(stream, sink), daemon=True)
                         for stream, sink in ((self.process.stdout, self.out),
                                              (self.process.stderr, self.err))]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream, sink):
        for line in stream:
            sink.append(line)

    def wait_for(self, condition, what, timeout=300):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.005)
        self.finish(timeout=30)
        pytest.fail(f"{what} did not happen (exit {self.process.returncode}):\n"
                    f"{self.stdout}\n{self.stderr[-3000:]}")

    def send(self, signum):
        assert self.process.poll() is None, "the run ended before the fault could be injected"
        self.process.send_signal(signum)

    def finish(self, timeout=600):
        self.process.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=10)
        return self.process.returncode

    @property
    def stdout(self):
        return "".join(self.out)

    @property
    def stderr(self):
        return "".join(self.err)


def _train_argv(kaggle, out, *extra):
    return ["train", "--data", str(kaggle / "data"), *TRAIN, "--cache-dir",
            str(kaggle / "cache"), "--out", str(out), *extra]


def _proba(folder, kaggle):
    X = load_hpa(kaggle / "data", image_size=32, cache_dir=kaggle / "cache", verbose=0).images
    return HPAClassifier.load(folder).set_params(verbose=0).predict_proba(X)


def _epoch_line(run, k):
    return lambda: any(line.startswith(f"Epoch {k}/") for line in run.out)


def test_train_survives_sigterm_sigkill_and_sigint_and_ends_like_an_uninterrupted_run(kaggle,
                                                                                      tmp_path):
    reference = _Run(_train_argv(kaggle, tmp_path / "reference"), tmp_path)
    assert reference.finish() == 0, reference.stderr[-3000:]
    expected = _proba(tmp_path / "reference", kaggle)
    assert "Computing on the CPU" in reference.stdout or "GPU" in reference.stdout
    assert not NOISE.search(reference.stderr), reference.stderr  # no native start-up chatter

    out = tmp_path / "model"
    checkpoints = tmp_path / "model.checkpoints"
    injected = survived = 0

    # 1. SIGTERM at a random point of a random epoch (what schedulers and `docker stop` send)
    run = _Run(_train_argv(kaggle, out), tmp_path)
    run.wait_for(_epoch_line(run, RNG.randint(1, 2)), "an epoch")
    time.sleep(RNG.uniform(0.0, 0.5))
    run.send(signal.SIGTERM)
    injected += 1
    assert run.finish() == 128 + signal.SIGTERM, run.stdout + run.stderr[-3000:]
    resume = re.search(r"Continue with:\n  (hpa-sklearn .*)\n", run.stdout)
    assert resume, run.stdout
    argv = shlex.split(resume.group(1))[1:]
    assert argv[: len(run.argv)] == run.argv and "--checkpoint-dir" in argv
    meta = read_run(out)
    assert meta["interrupted"] and meta["interrupted_by"] == "SIGTERM"
    assert _proba(out, kaggle).shape == expected.shape  # the folder loads and predicts
    survived += 1

    # 2. SIGKILL while a checkpoint is being written (no handler can run: only atomicity helps)
    run = _Run(argv, tmp_path)
    run.wait_for(lambda: any(p.name.startswith(".fit-") and ".tmp-" in p.name
                             for p in checkpoints.iterdir()),
                 "a checkpoint save", timeout=600)
    run.send(signal.SIGKILL)
    injected += 1
    assert run.finish() == -signal.SIGKILL
    assert "Resuming from" in run.stdout
    (checkpoint,) = [p for p in checkpoints.iterdir() if p.name.startswith("fit-")]
    assert HPAClassifier.load(checkpoint).n_outputs_ == 28  # the previous checkpoint
    assert _proba(out, kaggle).shape == expected.shape  # the model folder of step 1 is intact
    survived += 1

    # 3. Ctrl-C at a random point
    run = _Run(argv, tmp_path)
    run.wait_for(lambda: "Resuming from" in run.stdout, "the resume")
    run.wait_for(lambda: any(line.startswith("Epoch ") for line in run.out), "an epoch")
    time.sleep(RNG.uniform(0.0, 0.3))
    run.send(signal.SIGINT)
    injected += 1
    assert run.finish() == 130, run.stdout + run.stderr[-3000:]
    assert "Continue with:" in run.stdout
    survived += 1

    # 4. the same command again: it finishes, and the model equals the uninterrupted one
    run = _Run(argv, tmp_path)
    assert run.finish() == 0, run.stdout + run.stderr[-3000:]
    meta = read_run(out)
    assert not meta["interrupted"] and meta["epochs_done"] == EPOCHS
    np.testing.assert_array_equal(_proba(out, kaggle), expected)
    assert not checkpoints.exists()  # removed after success
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]  # no temporaries left
    print(f"faults injected: {injected}, survived: {survived}")


_SAVER = r"""
import sys
from hpa_sklearn.classifier import HPAClassifier
source, target = sys.argv[1], sys.argv[2]
clf = HPAClassifier.load(source)
for i in range(1000):
    clf.set_params(threshold=(0.3, 0.7)[i % 2]).save(target)
    print("saved", i, flush=True)
"""


def test_sigkill_during_a_model_folder_save_leaves_the_old_or_the_new_folder(kaggle, tmp_path):
    X, Y = load_hpa(kaggle / "data", image_size=32, cache_dir=kaggle / "cache", verbose=0,
                    return_X_y=True)
    source = tmp_path / "source"
    HPAClassifier(backbone="smallcnn", weights=None, epochs=1, batch_size=8, verbose=0,
                  random_state=0, hidden_units=16).fit(X, Y).save(source)
    target = tmp_path / "target"
    kills = 0
    for _ in range(2):
        process = subprocess.Popen([sys.executable, "-c", _SAVER, str(source), str(target)],
                                   stdout=subprocess.PIPE, text=True)
        assert process.stdout.readline().startswith("saved")  # one save completed
        time.sleep(RNG.uniform(0.0, 1.5))  # somewhere in a later save
        process.kill()
        process.wait()
        process.stdout.close()
        kills += 1
        restored = HPAClassifier.load(target)  # whole: the old or the new version
        assert restored.threshold in (0.3, 0.7)
        assert restored.set_params(verbose=0).predict_proba(X[:2]).shape == (2, 28)
        leftovers = [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name]
        HPAClassifier.load(target).save(target)  # the next save sweeps the dead temporary
        assert not [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name], leftovers
    assert kills == 2


def test_read_only_output_fails_before_any_work(kaggle, tmp_path, tmpfs, capsys):
    locked = tmpfs(tmp_path / "locked", "1m", read_only=True)
    cache = tmp_path / "fresh-cache"
    status = cli.main(["train", "--data", str(kaggle / "data"), *TRAIN, "--cache-dir", str(cache),
                       "--out", str(locked / "model")])
    err = capsys.readouterr().err
    assert status == 2 and "Read-only" in err and str(locked) in err
    assert not cache.exists()  # failed before decoding anything


def test_full_disk_when_saving_the_model_is_a_clear_error_and_the_training_is_kept(
        kaggle, tmp_path, tmpfs, capsys):
    small = tmpfs(tmp_path / "small", "2m")  # the network file alone is larger
    checkpoints = tmp_path / "checkpoints"
    argv = _train_argv(kaggle, small / "model", "--checkpoint-dir", str(checkpoints))
    argv[argv.index("--epochs") + 1] = "1"
    status = cli.main(argv)
    captured = capsys.readouterr()
    assert status == 2, captured.out + captured.err
    assert "No space left" in captured.err and str(small / "model") in captured.err
    assert "--checkpoint-dir" in captured.err  # says how to keep the trained network
    assert list(small.iterdir()) == []  # no partial folder, no temporary
    # the training is not lost: elsewhere, the same command restores it without training
    argv[argv.index("--out") + 1] = str(tmp_path / "elsewhere")
    assert cli.main(argv) == 0
    assert "Resuming from" in capsys.readouterr().out
    assert HPAClassifier.load(tmp_path / "elsewhere").history_["loss"]


def test_out_folder_with_other_files_is_refused_before_any_work(kaggle, tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    status = cli.main(_train_argv(kaggle, mine))
    assert status == 2 and "hpa-sklearn did not write (notes.txt)" in capsys.readouterr().err
    assert (mine / "notes.txt").read_text() == "keep me"
    assert not Path(str(mine) + ".checkpoints").exists()


def test_sigterm_during_the_final_save_says_how_to_finish_and_the_same_command_does(
        kaggle, tmp_path, monkeypatch, capsys, terminal_signals):
    """A real SIGTERM delivered while the tuned model is being written (the last step of
    ``hpa-sklearn train``): the folder holds the model saved before tuning (or nothing), the run
    prints the command that finishes it, and that command finishes without training again."""
    from hpa_sklearn import _persistence

    write_manifest = _persistence.write_manifest
    sent = []

    def terminated_while_saving(folder, **kwargs):
        run = kwargs.get("run") or {}
        if kwargs.get("kind", "model") == "model" and run.get("thresholds", "").startswith(
                "tuned") and not sent:
            sent.append(folder)
            os.kill(os.getpid(), signal.SIGTERM)  # handled at once: inside this save
        return write_manifest(folder, **kwargs)

    monkeypatch.setattr(_persistence, "write_manifest", terminated_while_saving)
    out = tmp_path / "model"
    argv = _train_argv(kaggle, out)
    argv.remove("--no-tune-thresholds")  # the default: a save before tuning, the final after it
    argv[argv.index("--epochs") + 1] = "1"
    status = cli.main(argv)
    captured = capsys.readouterr()
    assert sent and status == 128 + signal.SIGTERM, captured.out[-3000:] + captured.err[-3000:]
    resume = re.search(r"\n  (hpa-sklearn train .*)\n", captured.out)
    assert resume and "SIGTERM" in captured.out, captured.out[-3000:]
    again = shlex.split(resume.group(1))[1:]
    assert again[: len(argv)] == argv  # the same command, its folders spelled out
    # what is there is the model saved before tuning (thresholds pending), whole
    assert read_run(out)["thresholds_pending"]
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]

    monkeypatch.setattr(_persistence, "write_manifest", write_manifest)
    assert cli.main(again) == 0
    captured = capsys.readouterr()
    assert captured.out.count("Resuming from") == 2  # both fits restored, not trained again
    run = read_run(out)
    assert run["thresholds"].startswith("tuned") and not run["thresholds_pending"]
    assert not (tmp_path / "model.checkpoints").exists()
