"""Atomic writes: the one way this library puts a file or a folder on disk.

Every file is written under a temporary name in its final folder, flushed to disk, and renamed
into place; a folder is built complete under a temporary name and swapped in. A reader therefore
sees the old version or the new one, never a truncated file or a mix of both, whatever signal
or crash stops the writer.

Temporary names record the host and the process that made them
(``.{name}.tmp-{host}-{pid}-{random}``), so that :func:`sweep_temporaries` can remove the ones
left behind by processes that died (SIGKILL, out of memory) without touching those of live ones.
"""

import contextlib
import ctypes
import ctypes.util
import errno
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
from pathlib import Path

from ..exceptions import OutputRefusedError
from .ownership import mark_file

_HOST = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]
_TEMP = re.compile(r"^\.(?P<name>.+)\.tmp-(?P<host>[0-9a-f]{8})-(?P<pid>\d+)-[0-9a-f]{8}$")


def temporary_path(path):
    """A fresh temporary sibling of ``path`` whose name says which process made it."""
    path = Path(path)
    return path.with_name(f".{path.name}.tmp-{_HOST}-{os.getpid()}-{secrets.token_hex(4)}")


def _fsync_dir(folder):
    with contextlib.suppress(OSError):  # not every platform or file system syncs folders
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def fsync_file(path):
    """Flush ``path``'s data to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _named(exc, path):
    """The same kind of OSError, naming the file the user asked for (not our temporary name)."""
    reason = exc.strerror or str(exc)
    hint = {errno.ENOSPC: " Free disk space or write elsewhere.",
            errno.EDQUOT: " Free disk space or write elsewhere.",
            errno.EFBIG: " The file is larger than this process may write (ulimit -f).",
            errno.EACCES: " Choose a folder you can write to.",
            errno.EROFS: " Choose a folder you can write to."}.get(exc.errno, "")
    new = type(exc)(exc.errno, f"cannot write {path}: {reason}.{hint}") if exc.errno else exc
    return new


def _remove(path):
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


@contextlib.contextmanager
def atomic_path(path, *, durable=True, mark=True):
    """Yield a temporary path to write ``path``'s new content to; publish it on success.

    On a normal exit the temporary file is marked as the library's (``mark``, see
    :mod:`hpa_sklearn._io.ownership`), synced (``durable``) and renamed over ``path``; on an
    exception (``KeyboardInterrupt`` included) it is removed and ``path`` is left as it was.
    """
    path = Path(os.path.abspath(path))  # '.' and 'a/..' get a name
    sweep_temporaries(path.parent, name=path.name)  # what a killed earlier write left
    tmp = temporary_path(path)
    try:
        yield tmp
        if mark:
            mark_file(tmp)
        if durable:
            fsync_file(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        _remove(tmp)
        raise _named(exc, path) from None
    except BaseException:
        _remove(tmp)
        raise
    if durable:
        _fsync_dir(path.parent)


def atomic_write_bytes(path, data, *, mark=True):
    """Write ``data`` to ``path`` atomically (``mark``: as :func:`atomic_path`)."""
    with atomic_path(path, mark=mark) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path, text, *, mark=True):
    """Write ``text`` (UTF-8) to ``path`` atomically (``mark``: as :func:`atomic_path`)."""
    return atomic_write_bytes(path, text.encode("utf-8"), mark=mark)


def atomic_write_json(path, obj, *, indent=2):
    """Write ``obj`` as JSON to ``path`` atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=indent) + "\n")


# ----------------------------------------------------------------------------- folders
def _load_renameat2():
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    with contextlib.suppress(OSError, AttributeError):
        function = ctypes.CDLL(name, use_errno=True).renameat2
        function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                             ctypes.c_uint]
        function.restype = ctypes.c_int
        return function
    return None


_RENAMEAT2 = _load_renameat2()
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a, b):
    """Swap two existing paths in one step (Linux ``renameat2(RENAME_EXCHANGE)``); False where
    the platform or file system cannot."""
    if _RENAMEAT2 is None:
        return False
    result = _RENAMEAT2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, f"cannot swap {a} and {b}: {os.strerror(code)}")


def _backup_name(path):
    path = Path(os.path.abspath(path))  # '.' and 'a/..' get a name
    return path.with_name(f".{path.name}.previous")


def recover_folder(path):
    """Finish a folder swap that a crash interrupted: where ``path`` is missing but the previous
    version was moved aside (platforms without an atomic swap), move it back. Returns ``path``."""
    path = Path(path)
    backup = _backup_name(path)
    if not path.exists() and backup.is_dir():
        with contextlib.suppress(FileNotFoundError):
            os.rename(backup, path)
    return path


@contextlib.contextmanager
def atomic_folder(path, *, replaceable=None):
    """Yield a temporary folder to fill with ``path``'s new content; swap it in on success.

    Where ``path`` already exists it is replaced as a whole: on Linux with one atomic exchange (a
    reader sees the old folder or the new one, never a mix); elsewhere by two renames, the old
    folder kept aside until the new one is in place (:func:`recover_folder` undoes a crash
    between them). ``replaceable(path) -> bool`` guards against replacing a folder that holds
    something else (the user's files): when it returns False,
    :class:`~hpa_sklearn.exceptions.OutputRefusedError` (a ``FileExistsError``) is raised
    before anything is written. On an exception the temporary folder is removed.
    """
    path = Path(os.path.abspath(path))  # '.' and 'a/..' get a name
    recover_folder(path)
    sweep_temporaries(path.parent, name=path.name)  # what a killed earlier save left
    if path.exists():
        if not path.is_dir():
            raise OutputRefusedError(f"{path} exists and is not a folder; choose another path.")
        if any(path.iterdir()) and replaceable is not None and not replaceable(path):
            raise OutputRefusedError(
                f"{path} exists and holds files that were not written here "
                f"({', '.join(sorted(p.name for p in path.iterdir())[:5])}); it is not replaced. "
                "Choose a new or empty folder."
            )
    tmp = temporary_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.mkdir()
    except OSError as exc:
        raise _named(exc, path) from None
    try:
        yield tmp
        for child in tmp.rglob("*"):
            if child.is_file():
                fsync_file(child)
        _fsync_dir(tmp)
        if not path.exists():
            os.rename(tmp, path)
        elif _exchange(tmp, path):
            shutil.rmtree(tmp, ignore_errors=True)  # now the old folder
        else:
            backup = _backup_name(path)
            _remove(backup)
            os.rename(path, backup)
            os.rename(tmp, path)
            shutil.rmtree(backup, ignore_errors=True)
    except OSError as exc:
        _remove(tmp)
        raise _named(exc, path) from None
    except BaseException:
        _remove(tmp)
        raise
    _fsync_dir(path.parent)


# ----------------------------------------------------------------------------- housekeeping
def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_temporaries(folder, *, name=None):
    """Remove the temporary files and folders in ``folder`` left by dead processes of this host
    (only those of the file or folder ``name``, when given).

    Returns the paths removed. Temporaries of live processes, and of other hosts (a folder shared
    over the network), are left alone.
    """
    folder = Path(folder)
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP.match(entry.name)
        if (match and match["host"] == _HOST and (name is None or match["name"] == name)
                and not _alive(int(match["pid"]))):
            path = Path(entry.path)
            with contextlib.suppress(OSError):  # e.g. another user's file in a shared /tmp
                _remove(path)
            if not path.exists():
                removed.append(path)
    return removed


def check_writable(folder, *, what="output folder"):
    """Make sure ``folder`` exists (creating it) and a file can be written in it; raise
    ``PermissionError`` naming the folder otherwise. Meant to run before expensive work."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = temporary_path(folder / "write-check")
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise PermissionError(
            f"the {what} {folder} is not writable ({exc.strerror or exc}); choose a folder you "
            "can write to, or fix its permissions."
        ) from None
    return folder


def save_figure(fig, path, **kwargs):
    """``fig.savefig(path, **kwargs)`` through a temporary file (the format from the suffix)."""
    path = Path(path)
    with atomic_path(path, durable=False) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png", **kwargs)
    return path
