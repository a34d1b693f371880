"""Exclusive use of an output (hpa_sklearn._io.locks): a second holder in another process is
refused at once, naming the first; the lock file goes with the lock; a dead holder blocks no one."""

import json
import os
import select
import signal
import socket
import subprocess
import sys
import textwrap

import pytest

from hpa_sklearn._io.locks import exclusive, lock_path
from hpa_sklearn.exceptions import OutputBusyError, OutputRefusedError

_HOLDER = textwrap.dedent("""
    import sys
    from hpa_sklearn._io.locks import exclusive

    with exclusive(sys.argv[1], what="model folder"):
        print("HELD", flush=True)
        sys.stdin.readline()  # hold until the test says so
    print("RELEASED", flush=True)
""")


def _read_line(process, timeout=60):
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    if not ready:
        process.kill()
        pytest.fail(f"the holder process printed nothing in {timeout} s")
    return process.stdout.readline().strip()


@pytest.fixture
def holder():
    """``start(path)``: a process (not this one) that holds the lock of ``path`` until its stdin
    gets a line; returns the Popen once it holds the lock."""
    started = []

    def start(path):
        process = subprocess.Popen(
            [sys.executable, "-c", _HOLDER, str(path)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        started.append(process)
        line = _read_line(process)
        if line != "HELD":
            process.kill()
            pytest.fail(f"the holder did not take the lock ({line!r}): {process.stderr.read()}")
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout, process.stderr):
            stream.close()


def test_a_second_holder_in_another_process_is_refused_naming_the_first(tmp_path, holder):
    out = tmp_path / "model"
    first = holder(out)
    assert lock_path(out).is_file()
    assert json.loads(lock_path(out).read_text())["pid"] == first.pid
    with pytest.raises(OutputBusyError) as info:
        with exclusive(out, what="model folder", advice="wait for that run to finish"):
            pytest.fail("the block ran although another process holds the lock")
    message = str(info.value)
    assert isinstance(info.value, OutputRefusedError)
    assert message.startswith(f"the model folder {out} is in use by process {first.pid} on "
                              f"{socket.gethostname()} (started "), message
    assert message.endswith("; wait for that run to finish."), message
    assert not out.exists()  # the lock never creates the output itself
    # once the first holder is done, its lock file is gone and the output is free
    first.stdin.write("\n")
    first.stdin.flush()
    assert _read_line(first) == "RELEASED"
    assert first.wait(timeout=60) == 0
    assert not lock_path(out).exists()
    with exclusive(out, what="model folder"):
        assert json.loads(lock_path(out).read_text())["pid"] == os.getpid()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_killed_holder_leaves_a_lock_file_that_blocks_no_one(tmp_path, holder):
    out = tmp_path / "model"
    first = holder(out)
    first.send_signal(signal.SIGKILL)
    assert first.wait(timeout=60) == -signal.SIGKILL
    assert lock_path(out).is_file()  # left behind: the kernel released the lock itself
    with exclusive(out):
        assert json.loads(lock_path(out).read_text())["pid"] == os.getpid()
    assert not lock_path(out).exists()


def test_the_lock_file_disappears_after_release_also_on_an_error(tmp_path):
    out = tmp_path / "deeper" / "checkpoints"  # its folder is made for the lock file
    with exclusive(out):
        assert lock_path(out) == tmp_path / "deeper" / ".checkpoints.lock"
        holder_record = json.loads(lock_path(out).read_text())
        assert holder_record["pid"] == os.getpid()
        assert holder_record["host"] == socket.gethostname()
    assert not lock_path(out).exists()
    with pytest.raises(KeyboardInterrupt):
        with exclusive(out):
            raise KeyboardInterrupt
    assert list((tmp_path / "deeper").iterdir()) == []
    with exclusive(out):  # and it can be taken again
        pass
