"""The on-disk cache of decoded image sets: one uint8 ``.npy`` file a request, memory-mapped on load.

A cache entry is ``{key}.npy`` plus ``{key}.json`` (what was loaded: ids, size, channels). Both are
written under temporary names and renamed into place, the ``.npy`` last, so a run killed half-way
never leaves an entry that loads as valid.
"""

import hashlib
import json
import os
from pathlib import Path

import numpy as np

CACHE_VERSION = 1
_ENV = "HPA_SKLEARN_CACHE"


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


def _atomic_write_text(path, text):
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class CacheEntry:
    """Paths of one cache entry and the operations on it."""

    def __init__(self, cache_dir, key):
        self.dir = Path(cache_dir)
        self.array_path = self.dir / f"{key}.npy"
        self.meta_path = self.dir / f"{key}.json"

    def load(self):
        """Return ``(memmap, metadata)`` or ``None`` when the entry is absent or unreadable."""
        if not (self.array_path.is_file() and self.meta_path.is_file()):
            return None
        try:
            meta = json.loads(self.meta_path.read_text())
            array = np.load(self.array_path, mmap_mode="r")
        except (OSError, ValueError):
            return None
        if list(array.shape) != meta.get("shape") or str(array.dtype) != "uint8":
            return None
        return array, meta

    def create(self, shape):
        """Open a new temporary uint8 ``.npy`` of ``shape`` for writing; returns its path."""
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.array_path.with_name(f".{self.array_path.name}.{os.getpid()}.tmp")
        np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=tuple(shape)).flush()
        return tmp

    def commit(self, tmp_path, meta):
        """Publish a completed temporary array with its metadata (metadata first, array last)."""
        _atomic_write_text(self.meta_path, json.dumps(meta))
        os.replace(tmp_path, self.array_path)
