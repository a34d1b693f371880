"""What the command line prints: native start-up chatter filtered, real errors kept; the command
that resumes an interrupted ``train``. (A damaged model manifest refused by key, which was the
0.1 ``hpa_model.json`` check here: test_model_folder.py.)"""

import os
import threading

import pytest

from hpa_sklearn import _console
from hpa_sklearn.cli import build_parser
from hpa_sklearn.cli.train import _resume_command


@pytest.mark.parametrize("line, noise", [
    (b"I0000 00:00:1796161630.503630    9210 cudart_stub.cc:31] Could not find cuda drivers on "
     b"your machine, GPU will not be used.\n", True),
    (b"E0000 00:00:1796161675.464873    9210 cuda_platform.cc:52] failed call to cuInit: "
     b"INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)\n", True),
    (b"W1201 21:55:04.123456   12345 some_file.cc:7] a warning\n", True),
    (b"WARNING: All log messages before absl::InitializeLog() is called are written to "
     b"STDERR\n", True),
    (b"E1201 21:55:04.123456   12345 cuda_dnn.cc:99] Out of memory while allocating\n", False),
    (b"F0000 00:00:1796161675.464873    9210 check.cc:1] Check failed\n", False),
    (b"Traceback (most recent call last):\n", False),
    (b"hpa-sklearn train: error: something wrong\n", False),
])
def test_only_native_chatter_is_noise(line, noise):
    assert _console._is_noise(line) is noise


def _pump(chunks):
    read_fd, write_fd = os.pipe()
    out_read, out_write = os.pipe()
    thread = threading.Thread(target=_console._pump, args=(read_fd, out_write))
    thread.start()
    for chunk in chunks:
        os.write(write_fd, chunk)
    os.close(write_fd)
    thread.join(timeout=10)
    os.close(out_write)
    data = b""
    while True:
        part = os.read(out_read, 65536)
        if not part:
            break
        data += part
    os.close(out_read)
    return data


def test_the_filter_drops_noise_and_passes_everything_else_in_order():
    noise = (b"I0000 00:00:1796161630.503630    9210 cudart_stub.cc:31] Could not find cuda "
             b"drivers on your machine, GPU will not be used.\n")
    progress = b"decoding:  50%|#####     | 1/2 [00:01<00:01]\rdecoding: 100%|##########| 2/2\n"
    error = b"E1201 21:55:04.123456   1 x.cc:1] a real error\n"
    out = _pump([noise[:20], noise[20:], progress[:30], progress[30:], error, b"tail"])
    assert out == progress + error + b"tail"


def test_a_progress_bar_is_not_held_back():
    # a fragment that cannot start a noise line is passed on at once, before its line ends
    read_fd, write_fd = os.pipe()
    out_read, out_write = os.pipe()
    thread = threading.Thread(target=_console._pump, args=(read_fd, out_write), daemon=True)
    thread.start()
    os.write(write_fd, b"training:  10%|#")
    assert os.read(out_read, 100) == b"training:  10%|#"
    os.close(write_fd)
    thread.join(timeout=10)
    os.close(out_write)
    os.close(out_read)


def test_resume_command_spells_out_the_cache_and_checkpoint_folders(monkeypatch, tmp_path):
    monkeypatch.setenv("HPA_SKLEARN_CACHE", str(tmp_path / "cache here"))
    argv = ["train", "--data", "kaggle", "--epochs", "20", "--out", "model"]
    args = build_parser().parse_args(argv)
    args.argv = argv
    command = _resume_command(args, tmp_path / "model.checkpoints")
    assert command.startswith("hpa-sklearn train --data kaggle --epochs 20 --out model")
    assert f"--cache-dir '{tmp_path / 'cache here'}'" in command
    assert f"--checkpoint-dir {tmp_path / 'model.checkpoints'}" in command
