"""Exclusive use of an output: two runs that would write the same model folder or checkpoint are
told apart before the second one trains.

:func:`exclusive` holds an advisory lock (``flock``) on ``.{name}.lock`` beside the output for as
long as the block runs; the lock file records who holds it (process, host, command, start time) so
that the second run's error names the first. The kernel releases the lock when its holder dies
(a kill, a crash), so a lock file left behind never blocks anyone; the holder removes the file
when it is done.

Examples
--------
>>> import tempfile, pathlib
>>> from hpa_sklearn._io.locks import exclusive
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> with exclusive(folder / "model", what="model folder"):
...     pass
>>> sorted(p.name for p in folder.iterdir())  # the lock file is gone with the lock
[]
"""

import contextlib
import json
import os
import socket
import sys
import time
from pathlib import Path

from ..exceptions import OutputBusyError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no advisory locks, no detection
    fcntl = None


def lock_path(path):
    path = Path(path)
    return path.with_name(f".{path.name}.lock")


def _holder():
    return {"pid": os.getpid(), "host": socket.gethostname(),
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else "",
            "started": time.strftime("%Y-%m-%d %H:%M:%S")}


def _describe_holder(lock):
    try:
        info = json.loads(Path(lock).read_text(encoding="utf-8"))
        return (f"process {info['pid']} on {info['host']} (started {info['started']}: "
                f"{info['command'] or 'python'})")
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


@contextlib.contextmanager
def exclusive(path, *, what="output", advice="wait for it to finish, or choose another path"):
    """Hold the lock of ``path`` (a file or folder that need not exist yet) for the block;
    :class:`~hpa_sklearn.exceptions.OutputBusyError` at once when another process holds it."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    lock = lock_path(path)
    lock.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputBusyError(
                f"the {what} {path} is in use by {_describe_holder(lock)}; {advice}.") from None
        except BaseException:
            os.close(fd)
            raise
        # the holder before us may have removed the file after we opened it: lock the file that
        # is there now
        try:
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(_holder()).encode())
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(lock)
        os.close(fd)
