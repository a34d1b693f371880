"""The on-disk cache of decoded image sets: one uint8 ``.npy`` file a request, memory-mapped on load.

A cache entry is ``{key}.npy`` plus ``{key}.json``. The key is a digest of the request (image
folder, ids, size, channels) and of the source files' names, sizes and modification times (with
``cache_check="content"``: names, sizes and a SHA-256 of their bytes). The metadata records the
same, plus a *request id* (the key without the source files), the label CSV and the creation time,
so that an entry made stale by changed source files can be found and evicted.

Writing an entry (see :func:`cached_array`):

1. the temporary ``.npy`` is created under an :func:`~hpa_sklearn._atomic.temporary_path` name
   (which records the writing process, so that :func:`~hpa_sklearn._atomic.sweep_temporaries`
   removes those of dead processes), the bytes it needs are compared with the free space, and they
   are reserved with ``posix_fallocate`` where the platform can: a full disk is a clear
   :class:`CacheSpaceError` before anything is decoded, never a SIGBUS of a memory-mapped write;
2. the images are decoded into it and it is synced to disk;
3. the metadata is published (atomically), then the array is renamed into place, last; an entry
   therefore loads only when both are complete, whatever kills the writer;
4. other entries of the same request id (stale versions) are evicted.

A cache folder that cannot be written falls back, with a warning, to a temporary file in
:func:`tempfile.gettempdir` that is removed when the returned array is released.
"""

import contextlib
import errno
import hashlib
import io
import json
import os
import re
import shutil
import sys
import tempfile
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from .._io.atomic import atomic_write_json, fsync_file, sweep_temporaries, temporary_path
from ..exceptions import InputError
from .._warnings import warn

CACHE_VERSION = 2
CACHE_CHECKS = ("stat", "content")
_ENV = "HPA_SKLEARN_CACHE"
_KEY = re.compile(r"^[0-9a-f]{32}$")
_CHUNK = 1 << 20
_READ_ONLY = (errno.EACCES, errno.EPERM, errno.EROFS)
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
_NO_FALLOCATE = {errno.EINVAL, errno.ENOSYS, getattr(errno, "ENOTSUP", errno.EOPNOTSUPP),
                 errno.EOPNOTSUPP}
_FIX = ("pass cache_dir= (or set $HPA_SKLEARN_CACHE; hpa-sklearn: --cache-dir) to a folder with "
        "room, or load fewer ids, a smaller image_size or fewer channels")


class CacheWarning(UserWarning):
    """A cache entry was damaged (and is decoded again), or the cache folder is not writable."""


class CacheSpaceError(OSError):
    """There is no room for a cache file (``errno`` ENOSPC, or EFBIG for a file-size limit).

    Raised before anything is decoded. ``folder``, ``needed`` and ``free`` (bytes) say where and
    how much.
    """

    def __init__(self, message, *, code, folder, needed, free):
        super().__init__(message)
        self.errno = code
        self.folder = str(folder)
        self.needed = int(needed)
        self.free = int(free)


def human_size(n_bytes):
    """``1536`` -> ``"1.5 KiB"``."""
    size = float(n_bytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"  # pragma: no cover


def default_cache_dir():
    """``$HPA_SKLEARN_CACHE``, else ``$XDG_CACHE_HOME/hpa_sklearn``, else ``~/.cache/hpa_sklearn``."""
    if os.environ.get(_ENV):
        return Path(os.environ[_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "hpa_sklearn"


def cache_key(request):
    """A stable hex digest of a JSON-serializable ``request`` (everything that determines the array)."""
    blob = json.dumps({"version": CACHE_VERSION, **request}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def request_id(request):
    """The key of ``request`` without its source-file record: the same for every version of the
    same folder, ids, size and channels, whatever the files hold."""
    return cache_key({k: v for k, v in request.items() if k not in ("files", "check")})


def file_digest(path):
    """SHA-256 (hex) of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _n_workers(n_jobs):
    if n_jobs is None:
        return 1
    n_jobs = int(n_jobs)
    return max(1, n_jobs if n_jobs > 0 else (os.cpu_count() or 1) + 1 + n_jobs)


def content_digests(paths, *, n_jobs=None, verbose=0):
    """The :func:`file_digest` of every path of ``paths`` (a list of rows of paths), by row; read
    by ``n_jobs`` threads (hashing and reading release the GIL)."""
    from tqdm.auto import tqdm

    flat = [p for row in paths for p in row]
    with ThreadPoolExecutor(max_workers=_n_workers(n_jobs)) as pool:
        digests = list(tqdm(pool.map(file_digest, flat), total=len(flat), unit="file",
                            desc="hashing", disable=not verbose))
    out, start = [], 0
    for row in paths:
        out.append(digests[start : start + len(row)])
        start += len(row)
    return out


# ----------------------------------------------------------------------------- space
def _npy_header(shape):
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)),
                 "fortran_order": False, "shape": tuple(int(s) for s in shape)})
    return buffer.getvalue()


def array_bytes(shape):
    """Bytes of the uint8 ``.npy`` file of ``shape`` (header included)."""
    return len(_npy_header(shape)) + int(np.prod(shape, dtype=np.int64))


def _space_error(code, folder, needed, free, context=""):
    where = f"{folder}{context}"
    if code == errno.EFBIG:
        message = (f"cannot write the image cache in {where}: the file needs {needed:,} bytes "
                   f"({human_size(needed)}), more than this process may write (its file-size "
                   f"limit, see 'ulimit -f'); {free:,} bytes ({human_size(free)}) are free there. "
                   f"Raise the limit, or {_FIX}.")
    else:
        message = (f"not enough disk space for the image cache in {where}: it needs {needed:,} "
                   f"bytes ({human_size(needed)}), {free:,} bytes ({human_size(free)}) are free. "
                   f"Free space there, or {_FIX}.")
    return CacheSpaceError(message, code=code, folder=folder, needed=needed, free=free)


def _free_bytes(folder):
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return 0


def allocate_array(path, shape, *, extra=0, context=""):
    """Create the uint8 ``.npy`` file ``path`` of ``shape`` with its blocks reserved.

    The bytes needed (plus ``extra``, e.g. the metadata) are compared with the free space of the
    folder first; then they are reserved with ``posix_fallocate`` where available (a file system
    without it gets a sparse file). Raises :class:`CacheSpaceError` for a full disk or a file-size
    limit (ENOSPC, EDQUOT, EFBIG), ``OSError`` (EACCES, EROFS, ...) where the folder cannot be
    written; in every case nothing is left behind.
    """
    path = Path(path)
    header = _npy_header(shape)
    total = len(header) + int(np.prod(shape, dtype=np.int64))
    needed = total + int(extra)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        free = _free_bytes(path.parent)
        if needed > free:
            raise _space_error(errno.ENOSPC, path.parent, needed, free, context)
        try:
            os.write(fd, header)
            try:
                os.posix_fallocate(fd, 0, total)
            except AttributeError:  # no posix_fallocate on this platform
                os.ftruncate(fd, total)
            except OSError as exc:
                if exc.errno not in _NO_FALLOCATE:
                    raise
                os.ftruncate(fd, total)
        except OSError as exc:
            if exc.errno in _NO_SPACE:
                code = errno.EFBIG if exc.errno == errno.EFBIG else errno.ENOSPC
                raise _space_error(code, path.parent, needed, _free_bytes(path.parent),
                                   context) from None
            raise
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    os.close(fd)
    return path


_SYNC_FILE_RANGE_WRITE = 2  # <fcntl.h>: start writeback of the range's dirty pages, do not wait


def _load_sync_file_range():
    """Linux's ``sync_file_range`` through ctypes, or None (another system, or no such symbol)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
    function.restype = ctypes.c_int
    return function


_sync_file_range = _load_sync_file_range()


def start_writeback(path, offset, length):
    """Ask the kernel to start writing ``length`` bytes of ``path`` from ``offset`` to disk, and
    return at once (Linux ``sync_file_range(SYNC_FILE_RANGE_WRITE)``; elsewhere nothing).

    A decoding worker calls it for the rows it has written, so that the disk writes run while
    the next rows are decoded and the one ``fsync`` before the entry is published (see
    :meth:`CacheEntry.commit`) finds little left to write. A hint: failures are ignored.
    """
    if _sync_file_range is None or length <= 0:
        return False
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        return _sync_file_range(fd, int(offset), int(length), _SYNC_FILE_RANGE_WRITE) == 0
    finally:
        os.close(fd)


def _sweep(folder):
    with contextlib.suppress(OSError):
        sweep_temporaries(folder)


# ----------------------------------------------------------------------------- metadata
def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _meta_problem(meta, key=None):
    """Why ``meta`` is not a usable entry's metadata (a short phrase), or None."""
    if not isinstance(meta, dict):
        return f"a JSON {type(meta).__name__}, not an object"
    for name in ("version", "key", "shape"):
        if name not in meta:
            return f"no {name!r}"
    if not _is_int(meta["version"]):
        return "'version' is not an integer"
    if meta["version"] != CACHE_VERSION:
        return f"cache version {meta['version']}, not {CACHE_VERSION}"
    if key is not None and meta["key"] != key:
        return f"'key' is {meta['key']!r}, not the file's name {key!r}"
    shape = meta["shape"]
    if not (isinstance(shape, list) and len(shape) == 4
            and all(_is_int(s) and s >= 0 for s in shape)):
        return "'shape' is not a list of 4 non-negative integers"
    typed = {"request_id": str, "folder": str, "source": (str, type(None)), "check": str,
             "ids": list, "channels": list, "files": list, "created": (int, float)}
    for name, kind in typed.items():
        if name in meta and (not isinstance(meta[name], kind) or isinstance(meta[name], bool)):
            return f"{name!r} has the wrong type ({type(meta[name]).__name__})"
    if "ids" in meta and (len(meta["ids"]) != shape[0]
                          or not all(isinstance(i, str) for i in meta["ids"])):
        return f"'ids' is not a list of {shape[0]} strings"
    if "channels" in meta and (len(meta["channels"]) != shape[3]
                               or not all(isinstance(c, str) for c in meta["channels"])):
        return f"'channels' is not a list of {shape[3]} strings"
    if "files" in meta and len(meta["files"]) != shape[0]:
        return f"'files' does not have {shape[0]} rows"
    return None


def _read_meta(path):
    """``(meta, problem)``: the parsed metadata, or None and why it is unusable."""
    try:
        meta = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        return None, f"unreadable: {exc.strerror or exc}"
    except ValueError as exc:
        return None, f"not valid JSON: {exc}"
    return meta, None


def _damaged(path, problem):
    warn(
        f"damaged image-cache metadata {path} ({problem}); decoding the images again and "
        "overwriting the entry.",
        CacheWarning,
    )


class CacheEntry:
    """Paths of one cache entry and the operations on it."""

    def __init__(self, cache_dir, key):
        self.dir = Path(cache_dir)
        self.key = key
        self.array_path = self.dir / f"{key}.npy"
        self.meta_path = self.dir / f"{key}.json"

    def load(self):
        """Return ``(memmap, metadata)``, or ``None`` when the entry is absent or incomplete; a
        damaged entry is ``None`` too, with a :class:`CacheWarning` naming the file."""
        if not (self.array_path.is_file() and self.meta_path.is_file()):
            return None
        meta, problem = _read_meta(self.meta_path)
        problem = problem or _meta_problem(meta, self.key)
        if problem:
            _damaged(self.meta_path, problem)
            return None
        try:
            array = np.load(self.array_path, mmap_mode="r")
        except (OSError, ValueError) as exc:
            _damaged(self.array_path, f"the array does not load: {exc}")
            return None
        if list(array.shape) != meta["shape"] or array.dtype != np.uint8:
            _damaged(self.array_path, f"uint8 {tuple(meta['shape'])} expected, the file holds "
                                      f"{array.dtype} {array.shape}")
            return None
        return array, meta

    def create(self, shape, *, extra=0):
        """Create a new temporary uint8 ``.npy`` of ``shape``, its space reserved (see
        :func:`allocate_array`); returns its path."""
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise NotADirectoryError(
                f"the cache folder {self.dir} exists and is not a folder; pass cache_dir= a "
                "folder.") from None
        return allocate_array(temporary_path(self.array_path), shape, extra=extra)

    def commit(self, tmp_path, meta):
        """Publish a completed temporary array with its metadata: the array is synced, the
        metadata written atomically, and the array renamed into place last."""
        meta = {"version": CACHE_VERSION, "key": self.key, "created": time.time(), **meta}
        fsync_file(tmp_path)
        atomic_write_json(self.meta_path, meta, indent=None)
        os.replace(tmp_path, self.array_path)
        with contextlib.suppress(OSError):
            fd = os.open(self.dir, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def remove(self):
        """Delete the entry (array first: a half-removed entry never loads)."""
        for path in (self.array_path, self.meta_path):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def evict(cache_dir, rid, keep):
    """Remove the entries of ``cache_dir`` with request id ``rid`` other than ``keep``; returns
    their keys. Entries that cannot be removed (in use on Windows, permissions) are left."""
    removed = []
    for meta_path in Path(cache_dir).glob("*.json"):
        key = meta_path.stem
        if key == keep or not _KEY.match(key):
            continue
        meta, _ = _read_meta(meta_path)
        if isinstance(meta, dict) and meta.get("request_id") == rid:
            with contextlib.suppress(OSError):
                CacheEntry(cache_dir, key).remove()
                removed.append(key)
    return removed


# ----------------------------------------------------------------------------- the entry point
def _unlink_if_owner(path, pid):
    if os.getpid() == pid:
        with contextlib.suppress(OSError):
            os.unlink(path)


def _temporary_array(key, shape, fill, *, in_memory, context):
    """Decode through a temporary file in the temporary folder: returned in memory and removed
    (``in_memory``), or as a read-only memmap whose file is removed once the array (and every
    view of it) is released or the process exits."""
    folder = Path(tempfile.gettempdir())
    _sweep(folder)
    tmp = temporary_path(folder / f"hpa_sklearn-{key}.npy")
    allocate_array(tmp, shape, context=context)
    try:
        fill(tmp)
        array = np.load(tmp) if in_memory else np.load(tmp, mmap_mode="r")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if in_memory:
        tmp.unlink(missing_ok=True)
    else:
        # kept while mapped: joblib and LazyImages reopen a memmap by its file name in workers
        weakref.finalize(array._mmap, _unlink_if_owner, str(tmp), os.getpid())
    return array


def cached_array(request, shape, fill, *, paths=None, cache=True, cache_dir=None, check="stat",
                 source=None, n_jobs=None, verbose=0):
    """The uint8 array of ``request``: from the cache, else made by ``fill(npy_path)`` (which
    writes the images into the reserved ``.npy`` file) and cached.

    ``request`` holds ``folder``, ``ids``, ``image_size``, ``channels`` and ``files`` (per
    sample, a ``(name, size, mtime_ns)`` per channel file); ``paths`` the files' paths, hashed
    when ``check="content"``. Returns a read-only ``np.memmap`` (``cache=True``) or an
    in-memory array (``cache=False``).
    """
    if check not in CACHE_CHECKS:
        raise InputError(f"cache_check must be 'stat' or 'content'; got {check!r}.")
    shape = tuple(int(s) for s in shape)
    files = [[list(record) for record in row] for row in request["files"]]
    if check == "content" and cache:
        digests = content_digests(paths, n_jobs=n_jobs, verbose=verbose)
        files = [[[*r, d] for r, d in zip(row, drow)] for row, drow in zip(files, digests)]
        keyed = {**request, "check": "content",
                 "files": [[[r[0], r[1], r[3]] for r in row] for row in files]}
    else:
        keyed = {**request, "files": files}
    key = cache_key(keyed)
    if not cache:
        return _temporary_array(key, shape, fill, in_memory=True,
                                context=" (the temporary folder; cache=False decodes through a "
                                        "temporary file there: set $TMPDIR to move it)")

    store = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    _sweep(store)
    entry = CacheEntry(store, key)
    found = entry.load()
    if found is not None:
        return found[0]

    rid = request_id(request)
    meta = {"request_id": rid, "check": check, "shape": list(shape),
            "ids": list(request["ids"]), "channels": list(request["channels"]),
            "image_size": request["image_size"], "folder": request["folder"],
            "source": None if source is None else str(source), "files": files}
    extra = len(json.dumps(meta)) + 4096
    try:
        tmp = entry.create(shape, extra=extra)
    except CacheSpaceError:
        raise
    except OSError as exc:
        if exc.errno not in _READ_ONLY:
            raise
        warn(
            f"the cache folder {store} is not writable ({exc.strerror or exc}); decoding into a "
            f"temporary file in {tempfile.gettempdir()} instead, removed when the array is "
            "released, so the next load decodes again. To keep a cache, pass cache_dir= a "
            "writable folder or set $HPA_SKLEARN_CACHE (hpa-sklearn: --cache-dir).",
            CacheWarning,
        )
        return _temporary_array(key, shape, fill, in_memory=False,
                                context=f" (the temporary folder: the cache folder {store} is "
                                        "not writable; set $TMPDIR to move it)")
    try:
        fill(tmp)
        entry.commit(tmp, meta)
    finally:
        tmp.unlink(missing_ok=True)  # gone already once committed
    array = np.load(entry.array_path, mmap_mode="r")  # mapped first: stays readable whatever
    evict(store, rid, keep=key)                        # another process evicts meanwhile
    return array


# ----------------------------------------------------------------------------- housekeeping
_COLUMNS = ["key", "bytes", "shape", "source", "folder", "created", "stale", "state"]


def _table(rows):
    table = pd.DataFrame(rows, columns=_COLUMNS)
    table["bytes"] = table["bytes"].astype(np.int64)
    table["stale"] = table["stale"].astype(bool)
    table["created"] = pd.to_datetime(table["created"], utc=True)
    return table


def _source_problem(meta):
    """Why the entry's source files no longer match (a phrase), or None."""
    folder, files = meta.get("folder"), meta.get("files")
    if not isinstance(folder, str) or not isinstance(files, list):
        return None
    folder = Path(folder)
    if not folder.is_dir():
        return f"the image folder {folder} is gone"
    try:
        for row in files:
            for record in row:
                name, size, mtime = record[0], record[1], record[2]
                try:
                    stat = os.stat(folder / name)
                except FileNotFoundError:
                    return f"{name} is missing"
                if stat.st_size != size:
                    return f"{name} changed"
                if stat.st_mtime_ns != mtime:
                    if len(record) < 4 or file_digest(folder / name) != record[3]:
                        return f"{name} changed"
    except (TypeError, IndexError, KeyError, ValueError, OSError) as exc:
        return f"unreadable source record ({exc})"
    return None


def _describe(cache_dir, key):
    entry = CacheEntry(cache_dir, key)
    size = 0
    for path in (entry.array_path, entry.meta_path):
        with contextlib.suppress(OSError):
            size += path.stat().st_size
    row = {"key": key, "bytes": size, "shape": None, "source": None, "folder": None,
           "created": pd.NaT, "stale": True, "state": "ok"}
    if not entry.meta_path.is_file():
        row["state"] = "incomplete (no metadata)"
        return row
    meta, problem = _read_meta(entry.meta_path)
    if problem is None and isinstance(meta, dict):
        if "shape" in meta and isinstance(meta["shape"], list):
            row["shape"] = tuple(meta["shape"])
        for name in ("source", "folder"):
            if isinstance(meta.get(name), str):
                row[name] = meta[name]
        if isinstance(meta.get("created"), (int, float)) and not isinstance(meta["created"], bool):
            row["created"] = pd.Timestamp(meta["created"], unit="s", tz="UTC")
        old = "version" not in meta and "shape" in meta and "ids" in meta  # version 1
        if old or (_is_int(meta.get("version")) and meta["version"] != CACHE_VERSION):
            row["state"] = "old cache version"
            return row
    problem = problem or _meta_problem(meta, key)
    if problem:
        row["state"] = f"damaged ({problem})"
    elif not entry.array_path.is_file():
        row["state"] = "incomplete (no array)"
    else:
        reason = _source_problem(meta)
        if reason:
            row["state"] = f"stale ({reason})"
        else:
            row["stale"] = False
    return row


def _keys(cache_dir):
    keys = set()
    for path in Path(cache_dir).iterdir():
        if path.suffix in (".npy", ".json") and _KEY.match(path.stem) and path.is_file():
            keys.add(path.stem)
    return sorted(keys)


def _check_dir(cache_dir):
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"the cache folder {folder} is not a folder.")
    return folder


def cache_entries(cache_dir=None):
    """List the entries of the image cache of :func:`load_hpa`.

    Parameters
    ----------
    cache_dir : str or Path, default=None
        The cache folder; by default ``$HPA_SKLEARN_CACHE``, else ``~/.cache/hpa_sklearn``.

    Returns
    -------
    entries : pandas.DataFrame
        One row an entry, oldest first: ``key``; ``bytes`` (array and metadata on disk);
        ``shape``; ``source`` (the label CSV); ``folder`` (the image folder); ``created`` (UTC);
        ``stale`` (True when the entry can no longer be used as it is: a source file is missing
        or changed, or the entry is incomplete, damaged or of an older cache version); ``state``
        (``"ok"`` or why it is stale). An absent folder gives an empty table.

    Notes
    -----
    Staleness is judged like the cache key: a source file's size and modification time, and for
    entries made with ``cache_check="content"``, the file's content where its time changed.
    """
    folder = _check_dir(cache_dir)
    if not folder.is_dir():
        return _table([])
    table = _table([_describe(folder, key) for key in _keys(folder)])
    if len(table):
        table = table.sort_values("created", na_position="first", kind="stable")
    return table.reset_index(drop=True)


def clear_cache(cache_dir=None, *, stale_only=False):
    """Delete entries of the image cache of :func:`load_hpa`.

    Only the cache's own files are touched (``{key}.npy`` / ``{key}.json``, and temporaries of
    dead processes); anything else in the folder is left.

    Parameters
    ----------
    cache_dir : str or Path, default=None
        The cache folder; by default ``$HPA_SKLEARN_CACHE``, else ``~/.cache/hpa_sklearn``.
    stale_only : bool, default=False
        Delete only the entries :func:`cache_entries` marks stale.

    Returns
    -------
    removed : pandas.DataFrame
        The rows of :func:`cache_entries` that were deleted.
    """
    folder = _check_dir(cache_dir)
    if not folder.is_dir():
        return _table([])
    _sweep(folder)
    table = cache_entries(folder)
    if stale_only:
        table = table[table["stale"]]
    for key in table["key"]:
        try:
            CacheEntry(folder, key).remove()
        except OSError as exc:
            raise type(exc)(exc.errno, f"cannot delete cache entry {key} in {folder}: "
                                       f"{exc.strerror or exc}") from None
    return table.reset_index(drop=True)
