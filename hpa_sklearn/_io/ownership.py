"""What belongs to the library: the only files and folders it may replace or delete.

* A **folder** the library writes (a saved model, a checkpoint, a report, search results, the demo,
  an export) holds a manifest, :data:`MARKER`, that names its kind and lists every entry it put
  there. The folder is the library's while the manifest is valid and the folder holds nothing the
  manifest does not list; only then may a new output replace it (an empty folder may be filled).
* A single **file** the library writes (a submission CSV, a plot) carries an extended attribute,
  :data:`FILE_MARK`, holding the SHA-256 of the content written. The file is the library's while
  the attribute matches the content (a file the user edited is theirs again). Where the file
  system keeps no extended attributes, no file is taken for the library's.

:func:`check_output_folder` and :func:`check_output_file` apply these rules before any work, refuse
the current folder, its parents and the file-system root by name, and refuse an output that is,
holds or lies inside an input of the same command.
"""

import contextlib
import errno
import hashlib
import json
import os
from pathlib import Path

from ..exceptions import OutputRefusedError

MARKER = "hpa-sklearn.json"
FILE_MARK = "user.hpa-sklearn"
FORMAT = "hpa-sklearn"

# recognisers of folders written by earlier versions (registered by the legacy reader):
# kind -> predicate(path) -> bool
_LEGACY_KINDS = {}


def register_legacy(kind, predicate):
    """Let folders that ``predicate`` recognises count as the library's folders of ``kind``."""
    _LEGACY_KINDS.setdefault(kind, []).append(predicate)


# ----------------------------------------------------------------------------- files
def file_digest(path, chunk=1 << 20):
    """SHA-256 of a file's bytes (hex)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def mark_file(path):
    """Mark ``path`` (just written, not yet published) as the library's; best effort."""
    with contextlib.suppress(OSError, AttributeError):  # no xattrs here: the file stays unmarked
        os.setxattr(path, FILE_MARK, file_digest(path).encode())


def is_owned_file(path):
    """True when ``path`` is a file this library wrote and nobody changed since."""
    try:
        mark = os.getxattr(path, FILE_MARK).decode()
    except (OSError, AttributeError, UnicodeDecodeError):
        return False
    with contextlib.suppress(OSError):
        return mark == file_digest(path)
    return False


# ----------------------------------------------------------------------------- folders
def read_marker(path):
    """The parsed manifest of folder ``path`` when it looks like one of ours, else None (no
    validation beyond its format name and kind: that is the reader's job)."""
    try:
        data = json.loads((Path(path) / MARKER).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if isinstance(data, dict) and data.get("format") == FORMAT and isinstance(data.get("kind"),
                                                                              str):
        return data
    return None


def listed_entries(manifest):
    """The top-level names a manifest accounts for: itself, its files and its member folders."""
    names = {MARKER}
    files = manifest.get("files")
    if isinstance(files, dict):
        names.update(str(name).split("/")[0] for name in files)
    members = manifest.get("members")
    if isinstance(members, list):
        names.update(str(name) for name in members)
    return names


def owned_kind(path):
    """The kind of library folder ``path`` is (``"model"``, ``"checkpoint"``, ``"report"``, ...),
    or None when it is not the library's (or holds anything its manifest does not list)."""
    path = Path(path)
    if not path.is_dir() or path.is_symlink():
        return None
    manifest = read_marker(path)
    if manifest is not None:
        try:
            children = {child.name for child in path.iterdir()}
        except OSError:
            return None
        return manifest["kind"] if children <= listed_entries(manifest) else None
    from . import legacy  # noqa: F401 (registers the 0.1 recognisers, whoever imported what)

    for kind, predicates in _LEGACY_KINDS.items():
        if any(predicate(path) for predicate in predicates):
            return kind
    return None


def replaceable(kinds):
    """A predicate for :func:`~hpa_sklearn._io.atomic.atomic_folder`: the folder is the library's
    and of one of ``kinds``."""
    kinds = {kinds} if isinstance(kinds, str) else set(kinds)

    def predicate(path):
        return owned_kind(path) in kinds

    return predicate


# ----------------------------------------------------------------------------- output checks
def _describe(path, option):
    return f"{option} {path}" if option else str(path)


def _contains(folder, path):
    """True when ``path`` is ``folder`` or lies inside it (both resolved)."""
    return path == folder or folder in path.parents


def resolve_output(path, *, option=None, what="output"):
    """``path`` made absolute (symbolic links resolved), after refusing the paths no output may
    take: the empty string, the file-system root, the current folder and its parents."""
    text = os.fspath(path)
    if not text.strip():
        raise OutputRefusedError(f"the {what} path is empty; name a new file or folder"
                                 + (f" with {option}." if option else "."))
    resolved = Path(text).resolve()
    here = Path.cwd().resolve()
    label = _describe(text, option)
    if resolved == Path(resolved.anchor):
        raise OutputRefusedError(f"{label} is the root of the file system; name a new folder for "
                                 f"the {what}.")
    if resolved == here:
        raise OutputRefusedError(
            f"{label} is the current folder, which holds your files; the {what} is written as a "
            f"whole and would replace it. Name a new folder instead, e.g. {option or ''} "
            f"{Path(text) / 'hpa-output'}".replace("  ", " ").rstrip() + ".")
    if resolved in here.parents:
        raise OutputRefusedError(f"{label} is a parent of the current folder; name a new folder "
                                 f"for the {what}.")
    return resolved


def _check_inputs(resolved, inputs, label, folder):
    for entry in inputs:
        if entry is None:
            continue
        source = Path(entry).resolve()
        if resolved == source or (folder and _contains(resolved, source)):
            raise OutputRefusedError(
                f"{label} is an input of this command ({entry}); an output never replaces an "
                "input. Choose another path.")
        if source.is_dir() and _contains(source, resolved) and owned_kind(source) is not None:
            raise OutputRefusedError(
                f"{label} lies inside {entry}, a folder of the library's that this command reads; "
                "choose a path outside it.")


def check_output_folder(path, *, kinds, option=None, what="output folder", inputs=()):
    """Check, before any work, that the folder ``path`` may be written: it does not exist, is
    empty, or is a library folder of one of ``kinds`` (which it then replaces as a whole), and it
    is no input of the command. Returns the resolved path; raises
    :class:`~hpa_sklearn.exceptions.OutputRefusedError` otherwise."""
    resolved = resolve_output(path, option=option, what=what)
    label = _describe(path, option)
    _check_inputs(resolved, inputs, label, folder=True)
    if resolved.is_symlink() or (resolved.exists() and not resolved.is_dir()):
        raise OutputRefusedError(f"{label} exists and is not a folder; the {what} is a folder. "
                                 "Choose another path.")
    if resolved.is_dir():
        try:
            children = sorted(child.name for child in resolved.iterdir())
        except OSError as exc:
            raise OutputRefusedError(f"{label} cannot be read ({exc.strerror or exc}).") from None
        if children:
            kinds = {kinds} if isinstance(kinds, str) else set(kinds)
            kind = owned_kind(resolved)
            if kind is None:
                shown = ", ".join(children[:5]) + (", ..." if len(children) > 5 else "")
                raise OutputRefusedError(
                    f"{label} exists and holds files that hpa-sklearn did not write ({shown}); "
                    f"the {what} would replace the folder as a whole, so it is left alone. Choose "
                    "a new or empty folder.")
            if kind not in kinds:
                raise OutputRefusedError(
                    f"{label} is an hpa-sklearn {kind} folder, not a {'/'.join(sorted(kinds))} "
                    f"folder; the {what} does not replace it. Choose another folder.")
    return resolved


def check_output_file(path, *, option=None, what="output file", overwrite=False, inputs=()):
    """Check, before any work, that the file ``path`` may be written: it does not exist, or is a
    file the library wrote (unchanged since), or ``overwrite`` is set; and it is no input of the
    command (whatever ``overwrite`` says). Returns the resolved path."""
    resolved = resolve_output(path, option=option, what=what)
    label = _describe(path, option)
    _check_inputs(resolved, inputs, label, folder=False)
    for parent in resolved.parents:
        if parent.is_dir() and owned_kind(parent) is not None:
            raise OutputRefusedError(
                f"{label} lies inside {parent}, a folder hpa-sklearn wrote ({owned_kind(parent)}); "
                "a file written there would damage it. Choose a path outside it.")
    if resolved.is_dir():
        raise OutputRefusedError(f"{label} is a folder; name the {what} to write.")
    if resolved.exists() or resolved.is_symlink():
        if not overwrite and not is_owned_file(resolved):
            flag = " (--overwrite)" if option else " (overwrite=True)"
            raise OutputRefusedError(
                f"{label} exists and was not written by hpa-sklearn; it is not replaced. Choose "
                f"another path, or ask for it to be replaced{flag}.")
    return resolved


def describe_errno(exc):
    """A short reason for an ``OSError`` (its message without the errno noise)."""
    return exc.strerror or errno.errorcode.get(exc.errno, str(exc))


def write_marker(folder, kind, *, members=(), extra=None):
    """Write the manifest of a (temporary) library folder that is not a model (a report, search
    results, the demo, an export): its kind and every top-level file with its size and digest;
    ``members`` are its subfolders."""
    import datetime

    from .. import __version__

    folder = Path(folder)
    files = {}
    for child in sorted(folder.iterdir()):
        if child.name == MARKER or child.name in members:
            continue
        if child.is_file():
            files[child.name] = {"bytes": child.stat().st_size, "sha256": file_digest(child)}
    manifest = {"format": FORMAT, "version": 1, "kind": kind, "library": __version__,
                "created": datetime.datetime.now(datetime.timezone.utc).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"),
                "files": files, "members": list(members), **(extra or {})}
    (folder / MARKER).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return manifest
