"""The decoded-image cache under faults: SIGKILL mid-write, full disk, file-size limit, read-only
folder, damaged metadata; stale entries, listing and clearing (the API; the ``hpa-sklearn cache``
command is tested in tests/e2e/test_cache_cli.py).

The fault tests really do it, in subprocesses: SIGKILL, a small tmpfs, RLIMIT_FSIZE, a read-only
mount or an unprivileged user. Those that need privileges skip with the reason where the machine
does not allow them.
"""

import contextlib
import errno
import gc
import json
import os
import pwd
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hpa_sklearn._io import atomic as _atomic
from hpa_sklearn.datasets import (
    cache_entries,
    clear_cache,
    load_hpa,
    make_hpa_like,
    write_kaggle_layout,
)
from hpa_sklearn.datasets import _kaggle
from hpa_sklearn.datasets._cache import content_digests, file_digest

SIZE = 32
N = 24  # 24 x 32 x 32 x 4 = 96 KiB of decoded images
ARRAY_BYTES = N * SIZE * SIZE * 4


# ----------------------------------------------------------------------------- helpers
@pytest.fixture
def data(tmp_path):
    """A Kaggle-layout folder of N synthetic samples; returns (folder, images)."""
    synthetic = make_hpa_like(N, SIZE, random_state=0)
    write_kaggle_layout(tmp_path / "data", synthetic.images, synthetic.ids, synthetic.target)
    return tmp_path / "data", synthetic.images


def _load(folder, cache_dir, **kw):
    kw.setdefault("image_size", SIZE)
    kw.setdefault("verbose", 0)
    return load_hpa(folder, cache_dir=cache_dir, **kw)


def _snapshot(folder):
    """Every file of ``folder`` with its size, modification time and content digest."""
    import hashlib

    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns,
                                     hashlib.sha256(p.read_bytes()).hexdigest())
        for p in sorted(Path(folder).rglob("*")) if p.is_file()
    }


def _temporaries(folder):
    """Temporary files in ``folder`` (this library's names, and c97d7f1's ``.{pid}.tmp`` ones)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if ".tmp" in p.name)


def _entries(folder):
    return sorted(p.name for p in Path(folder).iterdir() if p.suffix in (".npy", ".json"))


def _no_decoding(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("an image was decoded")

    monkeypatch.setattr(_kaggle, "read_channel", fail)


def _run_child(script, spec, *, timeout=120, **popen):
    """Run ``script`` (Python source) in a fresh interpreter with ``spec`` as JSON; returns the
    CompletedProcess and the JSON it printed last (None when it printed none)."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.update(popen.pop("env", {}))
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), json.dumps(spec)],
        capture_output=True, text=True, timeout=timeout, env=env, **popen,
    )
    result = None
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT "):])
    return done, result


def _describe_exit(done):
    if done.returncode < 0:
        return (f"the child died of signal {signal.Signals(-done.returncode).name} "
                f"(exit {128 - done.returncode} in a shell); stderr: {done.stderr[-2000:]}")
    return f"exit {done.returncode}; stderr: {done.stderr[-2000:]}"


@contextlib.contextmanager
def _tmpfs(folder, size):
    """Mount a tmpfs of ``size`` at ``folder``; skip the test where mounting is not allowed."""
    folder.mkdir(parents=True, exist_ok=True)
    if shutil.which("mount") is None:
        pytest.skip("no 'mount' command on this machine")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN): "
                    f"{done.stderr.strip() or done.returncode}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


# ----------------------------------------------------------------------------- SIGKILL
_KILLER = r"""
import json, os, random, signal, sys, time
spec = json.loads(sys.argv[1])
from hpa_sklearn.datasets import _kaggle, load_hpa

original_read = _kaggle.read_channel

def slow_read(*args, **kwargs):  # spreads the decoding over ~0.5 s so that kills land inside it
    time.sleep(0.005)
    return original_read(*args, **kwargs)

def writer(cache_dir, kill_before_array_rename):
    _kaggle.read_channel = slow_read
    if kill_before_array_rename:  # the metadata is published; the array is not renamed yet
        original_replace = os.replace
        def replace(src, dst, *args, **kwargs):
            if str(dst).endswith(".npy"):
                os.kill(os.getpid(), signal.SIGKILL)
            return original_replace(src, dst, *args, **kwargs)
        os.replace = replace
    load_hpa(spec["data"], image_size=spec["size"], cache_dir=cache_dir, n_jobs=1, verbose=0)

points = []
for point in spec["points"]:
    pid = os.fork()
    if pid == 0:
        try:
            writer(point["cache_dir"], point["delay"] is None)
        finally:
            os._exit(0)
    if point["delay"] is not None:
        time.sleep(point["delay"])
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    listing = sorted(os.listdir(point["cache_dir"])) if os.path.isdir(point["cache_dir"]) else []
    points.append({"pid": pid, "killed": os.WIFSIGNALED(status) and os.WTERMSIG(status) == 9,
                   "listing": listing})
print("RESULT " + json.dumps(points), flush=True)
"""


def test_sigkill_mid_write_leaves_a_usable_cache(data, tmp_path):
    folder, images = data
    rng = random.Random(20240611)  # fixed kill points: reproducible
    delays = [round(rng.uniform(0.0, 0.4), 3) for _ in range(3)]
    points = [{"cache_dir": str(tmp_path / f"cache{i}"), "delay": d} for i, d in enumerate(delays)]
    points.append({"cache_dir": str(tmp_path / "cache-rename"), "delay": None})
    done, result = _run_child(_KILLER, {"data": str(folder), "size": SIZE, "points": points})
    assert result is not None, _describe_exit(done)
    clean = _load(folder, None, cache=False).images
    np.testing.assert_array_equal(clean, images)
    killed_mid_write = 0
    for point, outcome in zip(points, result):
        cache_dir = Path(point["cache_dir"])
        left = [name for name in outcome["listing"] if ".tmp" in name]
        killed_mid_write += bool(outcome["killed"] and left)
        reloaded = _load(folder, cache_dir)
        assert isinstance(reloaded.images, np.memmap)
        np.testing.assert_array_equal(reloaded.images, clean)
        assert _temporaries(cache_dir) == [], (
            f"kill after {point['delay']} s (pid {outcome['pid']}): temporaries of the dead "
            f"process remain: {_temporaries(cache_dir)}"
        )
        assert len(_entries(cache_dir)) == 2, _entries(cache_dir)  # one .npy + its .json
    # the kill before the array's rename always lands mid-write; the test would prove nothing
    # if no kill did
    assert result[-1]["killed"] and killed_mid_write >= 2, result


def test_dead_process_temporaries_are_swept_live_ones_kept(data, tmp_path):
    folder, images = data
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    dead_pid = subprocess.Popen(["true"])
    dead_pid.wait()
    dead = cache_dir / f".{'0' * 32}.npy.tmp-{_atomic._HOST}-{dead_pid.pid}-0123abcd"
    live = _atomic.temporary_path(cache_dir / f"{'1' * 32}.npy")  # this (live) process's
    dead.write_bytes(b"\0" * 4096)
    live.write_bytes(b"\0" * 4096)
    np.testing.assert_array_equal(_load(folder, cache_dir).images, images)
    assert not dead.exists(), "a dead process's temporary was not swept"
    assert live.exists(), "a live process's temporary was removed"


# ----------------------------------------------------------------------------- full disk
_FILLER = r"""
import errno, json, os, shutil, sys
spec = json.loads(sys.argv[1])
from hpa_sklearn.datasets import _kaggle, load_hpa

decoded = []
original_read = _kaggle.read_channel
def counting_read(*args, **kwargs):
    decoded.append(1)
    return original_read(*args, **kwargs)
_kaggle.read_channel = counting_read

print("READY", flush=True)
outcomes = []
for step in spec["steps"]:
    if step.get("lying_disk_usage"):  # the free-space check passes: the reservation must catch it
        real = shutil.disk_usage
        shutil.disk_usage = lambda path: real(path)._replace(free=1 << 50)
    del decoded[:]
    try:
        load_hpa(spec["data"], image_size=spec["size"], cache_dir=step["cache_dir"],
                 n_jobs=step.get("n_jobs", 1), verbose=0)
        outcome = {"raised": None}
    except Exception as exc:
        outcome = {"raised": type(exc).__name__, "message": str(exc),
                   "errno": getattr(exc, "errno", None),
                   "oserror_or_valueerror": isinstance(exc, (OSError, ValueError))}
    outcome["decoded"] = len(decoded)
    outcomes.append(outcome)
print("RESULT " + json.dumps(outcomes), flush=True)
"""


def _assert_clear_space_error(outcome, cache_dir, codes):
    assert outcome["raised"] is not None, f"no error although the cache cannot fit: {outcome}"
    assert outcome["oserror_or_valueerror"], outcome
    assert outcome["errno"] in codes, outcome
    message = outcome["message"]
    assert str(cache_dir) in message, f"the error does not name the cache folder: {message}"
    needed = re.search(r"needs ([\d,]+) bytes", message)
    assert needed and int(needed.group(1).replace(",", "")) >= ARRAY_BYTES, message
    assert ".tmp" not in message, f"the error names a temporary file: {message}"
    assert outcome["decoded"] == 0, f"{outcome['decoded']} files decoded before the error"


def test_full_disk_tmpfs_is_a_clear_error_before_decoding(data, tmp_path):
    folder, _ = data
    before = _snapshot(folder)
    with _tmpfs(tmp_path / "small", "2m") as small:
        filler = small / "filler"
        with open(filler, "wb") as f:  # leave ~40 KiB of the 2 MiB: less than the 96 KiB needed
            f.write(b"\1" * (shutil.disk_usage(small).free - 40 * 1024))
        cache_dir = small / "cache"
        steps = [{"cache_dir": str(cache_dir)},
                 {"cache_dir": str(cache_dir), "lying_disk_usage": True}]
        done, result = _run_child(_FILLER, {"data": str(folder), "size": SIZE, "steps": steps})
        assert result is not None, _describe_exit(done)
        checked, reserved = result
        _assert_clear_space_error(checked, cache_dir, {errno.ENOSPC})
        assert "free" in checked["message"]
        # free space misreported: posix_fallocate's reservation still turns the full disk into
        # an error (not a SIGBUS of the memory-mapped write)
        _assert_clear_space_error(reserved, cache_dir, {errno.ENOSPC})
        left = sorted(p.name for p in small.rglob("*") if p != filler and p.is_file())
        assert left == [], f"left behind on the full disk: {left}"
    assert _snapshot(folder) == before, "the data folder changed"


def test_file_size_limit_is_a_clear_error(data, tmp_path):
    folder, _ = data
    before = _snapshot(folder)
    cache_dir = tmp_path / "cache"
    limit = 32 * 1024  # below the 96 KiB array; Python ignores SIGXFSZ, so writes fail (EFBIG)

    def limit_file_size():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    done, result = _run_child(_FILLER, {"data": str(folder), "size": SIZE,
                                        "steps": [{"cache_dir": str(cache_dir)}]},
                              preexec_fn=limit_file_size)
    assert result is not None, _describe_exit(done)
    outcome = result[0]
    _assert_clear_space_error(outcome, cache_dir, {errno.EFBIG})
    assert "ulimit" in outcome["message"], outcome["message"]
    assert _temporaries(cache_dir) == [] and not list(cache_dir.glob("*.npy"))
    assert _snapshot(folder) == before, "the data folder changed"


def test_space_is_checked_before_decoding(data, tmp_path, monkeypatch):
    # in-process, without a mount: the free space reported by shutil.disk_usage is compared first
    folder, _ = data
    cache_dir = tmp_path / "cache"
    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda path: real(path)._replace(free=1000))
    _no_decoding(monkeypatch)
    with pytest.raises(OSError, match="not enough disk space") as info:
        _load(folder, cache_dir)
    assert info.value.errno == errno.ENOSPC
    assert str(cache_dir) in str(info.value) and "1,000 bytes" in str(info.value)
    assert info.value.needed > ARRAY_BYTES and info.value.free == 1000
    assert list(cache_dir.iterdir()) == []


def test_failed_decode_leaves_nothing(data, tmp_path, monkeypatch):
    folder, _ = data
    cache_dir = tmp_path / "cache"

    def broken(*args, **kwargs):
        raise ValueError("a corrupt file")

    monkeypatch.setattr(_kaggle, "read_channel", broken)
    with pytest.raises(ValueError, match="corrupt"):
        _load(folder, cache_dir)
    assert list(cache_dir.iterdir()) == []


# ----------------------------------------------------------------------------- read-only folder
_READ_ONLY_CHILD = r"""
import gc, json, os, sys, tempfile, warnings
spec = json.loads(sys.argv[1])
import numpy as np
from hpa_sklearn.datasets import load_hpa
print("READY", flush=True)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    data = load_hpa(spec["data"], image_size=spec["size"], cache_dir=spec["cache_dir"], verbose=0)
expected = np.load(spec["expected"])
result = {
    "warnings": [str(w.message) for w in caught],
    "memmap": isinstance(data.images, np.memmap),
    "writeable": bool(data.images.flags.writeable),
    "equal": bool((np.asarray(data.images) == expected).all()),
    "tempdir": tempfile.gettempdir(),
    "while_mapped": sorted(os.listdir(tempfile.gettempdir())),
}
del data
gc.collect()
result["after_release"] = sorted(os.listdir(tempfile.gettempdir()))
print("RESULT " + json.dumps(result), flush=True)
"""


def _check_fallback_warning(messages, cache_dir):
    relevant = [m for m in messages if str(cache_dir) in m]
    assert relevant, f"no warning names the read-only folder {cache_dir}: {messages}"
    assert "cache_dir=" in relevant[0] and "HPA_SKLEARN_CACHE" in relevant[0], relevant[0]


def _root_can_write(folder):
    try:
        probe = folder / "probe"
        probe.write_bytes(b"")
        probe.unlink()
        return True
    except OSError:
        return False


@pytest.mark.parametrize("variant", ["chmod", "ro-mount", "unprivileged-user"])
def test_read_only_cache_falls_back_to_a_temporary_file(variant, data, tmp_path, monkeypatch):
    folder, images = data
    cache_dir = tmp_path / "ro-cache"
    fallback = tmp_path / "fallback"
    fallback.mkdir()
    with contextlib.ExitStack() as stack:
        if variant == "chmod":
            cache_dir.mkdir()
            cache_dir.chmod(0o555)
            stack.callback(cache_dir.chmod, 0o755)
            if _root_can_write(cache_dir):
                pytest.skip("running as root, which writes into a chmod 0o555 folder anyway; "
                            "the ro-mount and unprivileged-user variants cover this case")
        elif variant == "ro-mount":
            stack.enter_context(_tmpfs(cache_dir, "1m"))
            remount = subprocess.run(["mount", "-o", "remount,ro", str(cache_dir)],
                                     capture_output=True, text=True)
            if remount.returncode != 0:
                pytest.skip(f"cannot remount the tmpfs read-only: {remount.stderr.strip()}")
        if variant in ("chmod", "ro-mount"):
            monkeypatch.setattr(tempfile, "tempdir", str(fallback))
            with pytest.warns(UserWarning) as record:
                loaded = _load(folder, cache_dir)
            _check_fallback_warning([str(w.message) for w in record], cache_dir)
            assert isinstance(loaded.images, np.memmap) and not loaded.images.flags.writeable
            np.testing.assert_array_equal(loaded.images, images)
            assert len(list(fallback.iterdir())) == 1  # kept while mapped (workers reopen it)
            del loaded
            gc.collect()
            assert list(fallback.iterdir()) == [], "the fallback file outlived its array"
            # no room in the fallback either: a clear error naming both folders
            real = shutil.disk_usage
            monkeypatch.setattr(shutil, "disk_usage", lambda path: real(path)._replace(free=10))
            with pytest.warns(UserWarning), pytest.raises(OSError, match="not enough") as info:
                _load(folder, cache_dir)
            assert str(fallback) in str(info.value) and str(cache_dir) in str(info.value)
            assert list(fallback.iterdir()) == []
            return
        # unprivileged-user: a root-owned 0o555 folder, the loader run as 'nobody'
        if os.geteuid() != 0:
            pytest.skip("the unprivileged-user variant needs root to switch users")
        try:
            nobody = pwd.getpwnam("nobody")
        except KeyError:
            pytest.skip("no 'nobody' user on this machine")
        base = Path(tempfile.mkdtemp(prefix="hpa-ro-"))  # pytest's tmp_path is private to root
        stack.callback(shutil.rmtree, base, ignore_errors=True)
        base.chmod(0o755)
        shutil.copytree(folder, base / "data")
        np.save(base / "expected.npy", images)
        (base / "cache").mkdir(mode=0o555)
        (base / "cache").chmod(0o555)
        (base / "tmp").mkdir()
        (base / "tmp").chmod(0o777)

        def become_nobody():
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)

        try:
            done, result = _run_child(
                _READ_ONLY_CHILD,
                {"data": str(base / "data"), "size": SIZE, "cache_dir": str(base / "cache"),
                 "expected": str(base / "expected.npy")},
                preexec_fn=become_nobody, cwd=base,
                env={"TMPDIR": str(base / "tmp"), "HOME": str(base / "tmp")},
            )
        except PermissionError as exc:
            pytest.skip(f"user 'nobody' may not run {sys.executable} (it resolves to "
                        f"{os.path.realpath(sys.executable)}): {exc}")
        if result is None and "READY" not in done.stdout:
            pytest.skip(f"'nobody' cannot run this Python environment: {_describe_exit(done)}")
        assert result is not None, _describe_exit(done)
        _check_fallback_warning(result["warnings"], base / "cache")
        assert result["memmap"] and not result["writeable"] and result["equal"], result
        assert result["tempdir"] == str(base / "tmp")
        assert len(result["while_mapped"]) == 1 and result["after_release"] == [], result
        assert list((base / "cache").iterdir()) == []


# ----------------------------------------------------------------------------- damaged metadata
def _valid_meta(cache_dir):
    (meta_path,) = Path(cache_dir).glob("*.json")
    return meta_path, json.loads(meta_path.read_text())


@pytest.mark.parametrize("damage", [
    pytest.param(lambda meta: [1, 2], id="a-list"),
    pytest.param(lambda meta: None, id="null"),
    pytest.param(lambda meta: "text", id="a-string"),
    pytest.param(lambda meta: {}, id="empty-object"),
    pytest.param(lambda meta: {k: v for k, v in meta.items() if k != "shape"}, id="no-shape"),
    pytest.param(lambda meta: {**meta, "shape": "32x32"}, id="shape-a-string"),
    pytest.param(lambda meta: {**meta, "shape": [1, 2]}, id="shape-too-short"),
    pytest.param(lambda meta: {**meta, "version": "2"}, id="version-a-string"),
    pytest.param(lambda meta: {**meta, "ids": 5}, id="ids-a-number"),
    pytest.param(lambda meta: {**meta, "files": {"a": 1}}, id="files-an-object"),
    pytest.param("{broken", id="not-json"),
])
def test_damaged_metadata_is_a_miss_with_a_warning(damage, data, tmp_path, monkeypatch):
    folder, images = data
    cache_dir = tmp_path / "cache"
    _load(folder, cache_dir)
    meta_path, meta = _valid_meta(cache_dir)
    text = damage if isinstance(damage, str) else json.dumps(damage(meta))
    meta_path.write_text(text)
    with pytest.warns(UserWarning, match=meta_path.name) as record:
        again = _load(folder, cache_dir)
    assert any(str(meta_path) in str(w.message) for w in record)
    np.testing.assert_array_equal(again.images, images)
    assert _valid_meta(cache_dir)[1]["shape"] == list(images.shape)  # decoded again, overwritten
    _no_decoding(monkeypatch)  # and the repaired entry is a hit
    np.testing.assert_array_equal(_load(folder, cache_dir).images, images)


# ----------------------------------------------------------------------------- content check
def _rewrite_same_size_and_time(path, plane):
    """Replace a PNG's pixels keeping its byte size and modification time (stored, uncompressed
    PNGs of the same shape have the same size whatever they hold)."""
    stat = path.stat()
    Image.fromarray(plane).save(path, compress_level=0)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_content_check_sees_same_size_same_time_changes(data, tmp_path, monkeypatch):
    folder, images = data
    cache_dir = tmp_path / "cache"
    path = folder / "train" / "synthetic-000003_green.png"
    _rewrite_same_size_and_time(path, images[3, :, :, 1])  # the same pixels, stored uncompressed
    size, mtime = path.stat().st_size, path.stat().st_mtime_ns
    np.testing.assert_array_equal(_load(folder, cache_dir).images, images)  # cache_check="stat"
    changed = np.full((SIZE, SIZE), 201, dtype=np.uint8)
    _rewrite_same_size_and_time(path, changed)
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (size, mtime)
    # the default key (size and time) cannot see it: the old pixels come back
    stale = _load(folder, cache_dir, cache_check="stat").images
    np.testing.assert_array_equal(stale[3, :, :, 1], images[3, :, :, 1])
    fresh = _load(folder, cache_dir, cache_check="content").images
    np.testing.assert_array_equal(fresh[3, :, :, 1], changed)
    # touching a file without changing it is not a change for the content check
    os.utime(path, ns=(1, 1))
    _no_decoding(monkeypatch)
    np.testing.assert_array_equal(_load(folder, cache_dir, cache_check="content").images, fresh)
    with pytest.raises(ValueError, match="cache_check"):
        _load(folder, cache_dir, cache_check="hash")
    files = sorted((folder / "train").iterdir())
    rows = [files[i : i + 4] for i in range(0, 12, 4)]
    assert content_digests(rows, n_jobs=2) == [[file_digest(p) for p in row] for row in rows]


# ----------------------------------------------------------------------------- housekeeping
def _change(folder, name="synthetic-000000_green.png", value=7):
    path = folder / "train" / name
    Image.fromarray(np.full((SIZE, SIZE), value, dtype=np.uint8)).save(path)
    os.utime(path, ns=(10**9, 10**9 + value))  # a different time, whatever the clock


def test_stale_entry_is_evicted_when_the_new_one_is_written(data, tmp_path):
    folder, images = data
    cache_dir = tmp_path / "cache"
    _load(folder, cache_dir)
    (first,) = [p.stem for p in cache_dir.glob("*.npy")]
    other = _load(folder, cache_dir, image_size=40)  # another request: never evicted by this one
    _change(folder)
    again = _load(folder, cache_dir)
    assert (again.images[0, :, :, 1] == 7).all()
    keys = {p.stem for p in cache_dir.glob("*.npy")}
    assert first not in keys and len(keys) == 2, f"the stale entry was not evicted: {keys}"
    assert {p.stem for p in cache_dir.glob("*.json")} == keys
    assert other.images.shape[1] == 40


def test_cache_entries_and_clear_cache(data, tmp_path):
    folder, _ = data
    cache_dir = tmp_path / "cache"
    assert cache_entries(tmp_path / "nothing-here").empty
    _load(folder, cache_dir)
    _load(folder, cache_dir, channels=("green",))
    table = cache_entries(cache_dir)
    assert list(table.columns[:7]) == ["key", "bytes", "shape", "source", "folder", "created",
                                       "stale"]
    assert len(table) == 2 and not table["stale"].any()
    assert set(table["shape"]) == {(N, SIZE, SIZE, 4), (N, SIZE, SIZE, 1)}
    assert (table["bytes"] > N * SIZE * SIZE).all()
    assert table["source"].str.endswith("train.csv").all()
    assert table["created"].notna().all()
    (folder / "train" / "synthetic-000005_red.png").unlink()  # only the 4-channel entry used it
    table = cache_entries(cache_dir).set_index("shape")
    assert table.loc[[(N, SIZE, SIZE, 4)], "stale"].all()
    assert "synthetic-000005_red.png is missing" in table.loc[[(N, SIZE, SIZE, 4)], "state"].iloc[0]
    assert not table.loc[[(N, SIZE, SIZE, 1)], "stale"].any()
    (cache_dir / "notes.txt").write_text("not the cache's")
    removed = clear_cache(cache_dir, stale_only=True)
    assert list(removed["shape"]) == [(N, SIZE, SIZE, 4)]
    assert list(cache_entries(cache_dir)["shape"]) == [(N, SIZE, SIZE, 1)]
    assert len(clear_cache(cache_dir)) == 1 and cache_entries(cache_dir).empty
    assert sorted(p.name for p in cache_dir.iterdir()) == ["notes.txt"]
